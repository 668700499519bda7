"""PaperVenue: fills against a given book, slippage, limits, Kalshi's taker fee, idempotent submits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from models.hedging import Ask, HedgeOrder
from parlay.execution import (
    ExecutionConfigError,
    KalshiVenue,
    PaperVenue,
    Venue,
    VenueOrder,
    taker_fee,
    venue_from_env,
)

D = Decimal
T0 = datetime(2026, 3, 7, 20, 0, tzinfo=UTC)


def order(coid: str = "pmm-a", market: str = "M-A", side: str = "yes", action: str = "buy", count: int = 10,
          limit: str = "0.46") -> HedgeOrder:
    return HedgeOrder(coid, market, side, action, count, D(limit), D(count), "test")


def test_buy_fills_at_ask_plus_slippage_with_taker_fee() -> None:
    venue = PaperVenue({"M-A": Ask(D("0.44"), D("0.58"))}, slippage=D("0.01"), now=lambda: T0)
    result = venue.submit(order(count=10, limit="0.46"))
    assert (result.state, result.filled_count) == ("filled", D(10))
    [fill] = venue.fills()
    assert fill.price == D("0.45") and fill.count == D(10) and fill.client_order_id == "pmm-a"
    # ceil(0.07 · 10 · 0.45 · 0.55) = ceil(0.17325) = 0.18
    assert fill.fee == D("0.18")
    assert fill.filled_at == T0


def test_slippage_is_capped_by_the_limit() -> None:
    venue = PaperVenue({"M-A": Ask(D("0.45"), D("0.57"))}, slippage=D("0.03"))
    venue.submit(order(limit="0.46"))
    assert venue.fills()[0].price == D("0.46")


def test_no_side_buy_uses_the_no_ask() -> None:
    venue = PaperVenue({"M-A": Ask(D("0.44"), D("0.58"))})
    venue.submit(order(side="no", limit="0.60", count=3))
    [fill] = venue.fills()
    assert (fill.side, fill.price) == ("no", D("0.59"))


def test_limit_not_met_cancels_with_a_reason_and_no_fill() -> None:
    venue = PaperVenue({"M-A": Ask(D("0.50"), D("0.52"))})
    result = venue.submit(order(limit="0.46"))
    assert result.state == "canceled" and result.filled_count == 0
    assert result.reason is not None and "above limit" in result.reason
    assert venue.fills() == []


def test_missing_book_or_side_cancels() -> None:
    venue = PaperVenue({"M-A": Ask(None, D("0.52"))})
    assert venue.submit(order(coid="pmm-1")).state == "canceled"
    assert "no book" in (venue.submit(order(coid="pmm-2", market="M-X")).reason or "")
    assert venue.fills() == []


def test_sell_hits_the_bid() -> None:
    venue = PaperVenue({"M-A": Ask(D("0.44"), D("0.58"))}, slippage=D("0.01"))
    venue.submit(order(action="sell", limit="0.40", count=4))  # YES bid = 1 − 0.58 = 0.42
    [fill] = venue.fills()
    assert (fill.action, fill.price) == ("sell", D("0.41"))
    assert venue.submit(order(coid="pmm-b", action="sell", limit="0.43")).state == "canceled"


def test_submit_is_idempotent_per_client_order_id() -> None:
    book = {"M-A": Ask(D("0.44"), D("0.58"))}
    venue = PaperVenue(book)
    first = venue.submit(order())
    book["M-A"] = Ask(D("0.30"), D("0.72"))  # the book moves: a second fill would be at another price
    again = venue.submit(order())
    assert again == first
    assert len(venue.fills()) == 1 and venue.fills()[0].price == D("0.45")
    assert venue.order_status("pmm-a") == first and venue.order_status("pmm-zzz") is None


def test_fill_ids_are_deterministic_and_distinct() -> None:
    book = {"M-A": Ask(D("0.44"), D("0.58"))}
    a, b = PaperVenue(book), PaperVenue(book)
    a.submit(order(coid="pmm-1"))
    a.submit(order(coid="pmm-2"))
    b.submit(order(coid="pmm-1"))
    ids = [f.fill_id for f in a.fills()]
    assert len(set(ids)) == 2 and b.fills()[0].fill_id == ids[0]


def test_callable_book_source_and_since_filter() -> None:
    clock = iter([T0, T0 + timedelta(minutes=5)])
    venue = PaperVenue(lambda m: Ask(D("0.10"), D("0.91")) if m == "M-A" else None, now=lambda: next(clock))
    venue.submit(order(coid="pmm-1", limit="0.20"))
    venue.submit(order(coid="pmm-2", limit="0.20"))
    assert [f.client_order_id for f in venue.fills(T0 + timedelta(minutes=1))] == ["pmm-2"]
    assert isinstance(venue, Venue)


@pytest.mark.parametrize(("count", "price", "fee"), [
    (1, "0.50", "0.02"),  # 0.0175 → 0.02
    (100, "0.50", "1.75"),
    (100, "0.01", "0.07"),  # 0.0693 → 0.07
    (7, "0.99", "0.01"),  # 0.004851 → 0.01
])
def test_taker_fee_rounds_up_to_the_cent(count: int, price: str, fee: str) -> None:
    assert taker_fee(count, D(price)) == D(fee)


def test_invalid_states_are_refused() -> None:
    with pytest.raises(ValueError):
        VenueOrder("x", None, "bogus", D(0))


def test_venue_from_env_defaults_to_paper() -> None:
    assert isinstance(venue_from_env(environ={}), PaperVenue)
    with pytest.raises(ExecutionConfigError, match="PARLAY_EXECUTION_VENUE"):
        venue_from_env(environ={"PARLAY_EXECUTION_VENUE": "live"})


def test_prod_needs_opt_in_and_limits() -> None:
    with pytest.raises(ExecutionConfigError) as info:
        venue_from_env(environ={"PARLAY_EXECUTION_VENUE": "prod"})
    msg = str(info.value)
    assert "PARLAY_ALLOW_PROD_TRADING=1" in msg and "PARLAY_PROD_MAX_ORDER_CONTRACTS" in msg
    assert "PARLAY_PROD_MAX_NOTIONAL" in msg
    with pytest.raises(ExecutionConfigError, match="PARLAY_PROD_MAX_NOTIONAL"):
        venue_from_env(environ={"PARLAY_EXECUTION_VENUE": "prod", "PARLAY_ALLOW_PROD_TRADING": "1",
                                "PARLAY_PROD_MAX_ORDER_CONTRACTS": "50"})


def test_prod_and_demo_need_credentials_and_never_show_them() -> None:
    env = {"PARLAY_EXECUTION_VENUE": "prod", "PARLAY_ALLOW_PROD_TRADING": "1",
           "PARLAY_PROD_MAX_ORDER_CONTRACTS": "50", "PARLAY_PROD_MAX_NOTIONAL": "200"}
    with pytest.raises(ExecutionConfigError, match="KALSHI_API_KEY_ID"):
        venue_from_env(environ=env)
    with pytest.raises(ExecutionConfigError, match="KALSHI_API_KEY_ID"):
        venue_from_env(environ={"PARLAY_EXECUTION_VENUE": "demo"})


def test_demo_venue_refuses_a_production_base_url() -> None:
    from tests.fakes.kalshi_server import FAKE_KEY_ID, fake_private_key_pem

    pem = fake_private_key_pem()
    env = {"PARLAY_EXECUTION_VENUE": "demo", "KALSHI_API_KEY_ID": FAKE_KEY_ID, "KALSHI_PRIVATE_KEY_PEM": pem,
           "PARLAY_KALSHI_BASE_URL": "https://external-api.kalshi.com/trade-api/v2"}
    with pytest.raises(ExecutionConfigError, match="production host") as info:
        venue_from_env(environ=env)
    assert "PRIVATE KEY" not in str(info.value)
    env.pop("PARLAY_KALSHI_BASE_URL")
    venue = venue_from_env(environ=env)
    assert isinstance(venue, KalshiVenue) and venue.name == "demo"
    assert "demo.kalshi" in venue.client.base_url and "PRIVATE" not in repr(venue)
    venue.client.close()
