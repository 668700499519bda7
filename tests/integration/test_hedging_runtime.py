"""The hedging runtime on a real Postgres with the paper venue: bets in, hedges out, fills booked."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from models.hedging import Ask, HedgeConfig, HedgeOrder, book_exposure, independent_joint
from models.risk import Book, MarketDef, PoolState, RiskConfig, evaluate
from parlay import ledger
from parlay.execution import PaperVenue, VenueOrder
from parlay.hedging_runtime import current_positions, open_bets, rebalance, reconcile
from parlay.ledger import StoredQuote

pytestmark = pytest.mark.integration

D = Decimal
MARKETS = {t: MarketDef(t, ((t.lower(), True),)) for t in ("M-A", "M-B", "M-C")}
MARGINALS = {"M-A": 0.55, "M-B": 0.50, "M-C": 0.40}
ASKS = {"M-A": Ask(D("0.55"), D("0.47")), "M-B": Ask(D("0.50"), D("0.52")), "M-C": Ask(D("0.40"), D("0.62"))}
BETS = [  # legs, stake, quoted probability
    ((("M-A", "yes"), ("M-B", "yes")), D(200), 0.27),
    ((("M-B", "yes"), ("M-C", "no")), D(150), 0.30),
    ((("M-A", "yes"),), D(300), 0.55),
    ((("M-C", "no"), ("M-A", "yes")), D(120), 0.33),
]
KNOWN_STATES = {"filled", "partially_filled", "canceled", "rejected", "resting", "submitted", "pending"}


def place(conn: psycopg.Connection, legs, stake: Decimal, prob: float, key: str) -> ledger.PlacedBet:
    q = StoredQuote(ledger.new_id("q"), tuple(legs), stake, prob, 0.0, 0.02, D("0.50"), stake * 2, D(1000), "test",
                    datetime.now(UTC) + timedelta(minutes=1), None)
    ledger.store_quote(conn, q)
    conn.commit()

    def check(book: Book, pool: PoolState):
        return evaluate(q.legs, stake, q.probability, q.uncertainty, book, pool, MARKETS, RiskConfig())

    return ledger.place_bet(conn, q, stake, key, None, check)


@pytest.fixture
def booked(fresh_database_url: str):
    with psycopg.connect(fresh_database_url) as conn:
        ledger.deposit(conn, D(50_000), "seed")
        bets = [place(conn, legs, stake, p, f"k{i}") for i, (legs, stake, p) in enumerate(BETS)]
        assert all(b.created for b in bets)
        yield conn, bets


def hedge_order_count(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM ledger.hedge_orders").fetchone()[0]


def fill_count(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM ledger.fills").fetchone()[0]


def test_rebalance_hedges_35_percent_and_balances(booked) -> None:
    conn, bets = booked
    venue = PaperVenue(ASKS)
    cfg = HedgeConfig()
    report = rebalance(conn, venue, MARGINALS, ASKS, cfg, "plan-1")

    exposure = book_exposure(open_bets(conn), independent_joint(MARGINALS))
    assert set(exposure) == {"M-A", "M-B", "M-C"} and exposure["M-C"] < 0 < exposure["M-A"]
    assert report.planned == 3 and report.submitted == 3 and report.failed == report.already_known == 0
    assert [o.state for o in report.orders] == ["filled"] * 3
    assert report.fills_booked == 3 and report.notional > 0 and 0 < report.filled_notional <= report.notional
    recorded = dict(conn.execute("SELECT market_ticker, delta FROM ledger.hedge_orders").fetchall())
    assert {m: round(float(d), 4) for m, d in recorded.items()} == {m: round(v, 4) for m, v in exposure.items()}

    positions = current_positions(conn)
    for market, exp in exposure.items():
        net = positions[market].net_yes
        assert net == D(math.trunc(cfg.ratio * exp)), market
        assert abs(net) >= abs(D("0.3") * D(exp)) - 1  # ≈ 35 % of the delta, truncated toward zero
        assert abs(net) < abs(D(exp)) / 2  # never the full exposure …
        payout = sum(b.payout for b in bets if any(t == market for t, _ in b.legs))
        assert abs(net) < payout  # … let alone the full payout
    assert positions["M-C"].no > 0 and positions["M-C"].yes == 0  # a negative delta is held as NO

    assert ledger.trial_balance(conn) == 0 and ledger.unbalanced_transactions(conn) == []
    fees = conn.execute("SELECT sum(fee) FROM ledger.fills").fetchone()[0]
    assert fees > 0 and ledger.balances(conn)["fees"] == fees

    # Unchanged book: a new plan places nothing; the same plan key again neither.
    orders, fills = hedge_order_count(conn), fill_count(conn)
    again = rebalance(conn, venue, MARGINALS, ASKS, cfg, "plan-2")
    same = rebalance(conn, venue, MARGINALS, ASKS, cfg, "plan-1")
    assert again.planned == 0 and same.planned == 0
    assert (hedge_order_count(conn), fill_count(conn)) == (orders, fills)
    assert len(venue.fills()) == fills
    assert ledger.trial_balance(conn) == 0


def test_blocked_markets_are_skipped_with_their_reason(booked) -> None:
    conn, _ = booked
    venue = PaperVenue(ASKS)
    report = rebalance(conn, venue, MARGINALS, ASKS, HedgeConfig(), "p1",
                       blocked_markets={"M-B": "stale book (age 95s)"})
    assert report.skipped["M-B"] == "stale book (age 95s)"
    assert {o.market_ticker for o in report.orders} == {"M-A", "M-C"}
    assert "M-B" not in current_positions(conn)
    later = rebalance(conn, venue, MARGINALS, ASKS, HedgeConfig(), "p2")
    assert [o.market_ticker for o in later.orders] == ["M-B"] and later.orders[0].state == "filled"


def test_markets_without_a_marginal_are_not_traded(booked) -> None:
    conn, _ = booked
    marginals = {k: v for k, v in MARGINALS.items() if k != "M-C"}  # the fit of M-C failed
    report = rebalance(conn, PaperVenue(ASKS), marginals, ASKS, HedgeConfig(), "p1")
    # Every market of a bet touching M-C is blocked (M-A, M-B, M-C all share such a bet here).
    assert report.orders == [] and set(report.skipped) >= {"M-A", "M-B", "M-C"}
    assert "no usable marginal" in report.skipped["M-C"]
    assert hedge_order_count(conn) == 0


def test_limit_not_met_on_the_venue_ends_canceled(booked) -> None:
    conn, _ = booked
    moved = dict(ASKS, **{"M-A": Ask(D("0.70"), D("0.32"))})  # the venue's book moved away
    report = rebalance(conn, PaperVenue(moved), MARGINALS, ASKS, HedgeConfig(), "p1")
    states = {o.market_ticker: (o.state, o.reason) for o in report.orders}
    assert states["M-A"][0] == "canceled" and "above limit" in states["M-A"][1]
    assert states["M-B"][0] == states["M-C"][0] == "filled"
    assert "M-A" not in current_positions(conn)
    rows = conn.execute("SELECT state, reason FROM ledger.hedge_orders").fetchall()
    assert all(s in KNOWN_STATES and r for s, r in rows)
    assert ledger.trial_balance(conn) == 0


class FlakyVenue(PaperVenue):
    """A paper venue whose first submit of each order raises after deciding not to take it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[tuple[str, str]] = []  # ("submit" | "lookup", client_order_id)

    def submit(self, order: HedgeOrder) -> VenueOrder:
        self.events.append(("submit", order.client_order_id))
        if self.events.count(("submit", order.client_order_id)) == 1:
            raise TimeoutError("read timed out")
        return super().submit(order)

    def order_status(self, client_order_id: str) -> VenueOrder | None:
        self.events.append(("lookup", client_order_id))
        return super().order_status(client_order_id)


def test_failed_submit_stays_pending_then_is_looked_up_before_resubmitting(booked) -> None:
    conn, _ = booked
    venue = FlakyVenue(ASKS)
    first = rebalance(conn, venue, MARGINALS, ASKS, HedgeConfig(), "p1")
    assert first.failed == 3 and first.submitted == 0
    assert all(o.state == "pending" and "TimeoutError" in (o.reason or "") for o in first.orders)
    assert fill_count(conn) == 0

    # Another plan may not trade next to the unresolved orders …
    other = rebalance(conn, venue, MARGINALS, ASKS, HedgeConfig(), "p2")
    assert other.orders == [] and all("still pending" in other.skipped[m] for m in ("M-A", "M-B", "M-C"))
    # … the same plan looks each order up, then resends it with the same client_order_id.
    retry = rebalance(conn, venue, MARGINALS, ASKS, HedgeConfig(), "p1")
    assert retry.submitted == 3 and [o.state for o in retry.orders] == ["filled"] * 3
    for o in retry.orders:
        submits = [i for i, e in enumerate(venue.events) if e == ("submit", o.client_order_id)]
        assert len(submits) == 2
        # between the failed send and the resend, the venue was asked whether it had the order
        assert ("lookup", o.client_order_id) in venue.events[submits[0] + 1:submits[1]]
    assert fill_count(conn) == 3 and len(venue.fills()) == 3
    assert reconcile(conn, venue) == 0  # nothing booked twice
    assert ledger.trial_balance(conn) == 0


def test_reconcile_is_idempotent_across_venue_instances(booked) -> None:
    conn, _ = booked
    venue = PaperVenue(ASKS)
    rebalance(conn, venue, MARGINALS, ASKS, HedgeConfig(), "p1")
    n = fill_count(conn)
    assert reconcile(conn, venue) == 0 and reconcile(conn, venue) == 0
    assert fill_count(conn) == n == 3
    assert ledger.trial_balance(conn) == 0


def test_full_ratio_is_refused(booked) -> None:
    conn, _ = booked
    with pytest.raises(ValueError):
        HedgeConfig(ratio=1.0)

    class Sneaky:  # a config that bypassed HedgeConfig's own check
        ratio = 1.0
        min_contracts = 1
        max_slippage = D("0.02")
        max_contracts_per_order = 10_000

    with pytest.raises(ValueError, match="ratio"):
        rebalance(conn, PaperVenue(ASKS), MARGINALS, ASKS, Sneaky(), "p1")  # type: ignore[arg-type]
    assert hedge_order_count(conn) == 0


class BlindVenue(FlakyVenue):
    """Submits fail once, and the venue cannot be asked about any order."""

    def order_status(self, client_order_id: str) -> VenueOrder | None:
        self.events.append(("lookup", client_order_id))
        raise ConnectionError("venue unreachable")


def test_pending_order_is_not_resent_when_the_venue_cannot_be_asked(booked) -> None:
    conn, _ = booked
    venue = BlindVenue(ASKS)
    rebalance(conn, venue, MARGINALS, ASKS, HedgeConfig(), "p1")
    again = rebalance(conn, venue, MARGINALS, ASKS, HedgeConfig(), "p1")
    assert again.failed == 3 and again.submitted == 0
    assert all(o.state == "pending" and "not resent" in (o.reason or "") for o in again.orders)
    assert [e for e in venue.events if e[0] == "submit"] == [("submit", o.client_order_id) for o in again.orders]
    assert fill_count(conn) == 0 and venue.fills() == []


def test_rebalance_writes_an_equity_mark_at_the_instant_it_describes(booked) -> None:
    conn, bets = booked
    at = datetime(2025, 12, 15, 23, 59, tzinfo=UTC)  # the replayed hedge time, not the wall clock
    mids = {"M-A": 0.56, "M-B": 0.49, "M-C": 0.41}
    report = rebalance(conn, PaperVenue(ASKS), MARGINALS, ASKS, HedgeConfig(), "plan-m", marked_at=at, mids=mids,
                       probability=lambda legs: 0.3)
    rows = conn.execute("SELECT marked_at, cash, expected_payout, hedge_value, equity, reason "
                        "FROM ledger.equity_marks").fetchall()
    assert len(rows) == 1
    marked_at, cash, expected, hedges, equity, reason = rows[0]
    assert marked_at == at and reason == "rebalance plan-m"
    positions = current_positions(conn)
    assert positions and report.fills_booked > 0
    value = sum((p.yes * D(repr(mids[m])) + p.no * (1 - D(repr(mids[m]))) for m, p in positions.items()), D(0))
    assert hedges == value.quantize(D("0.0001"))
    assert expected == sum((b.payout * D("0.3") for b in bets), D(0)).quantize(D("0.0001"))
    assert cash == ledger.pool_cash(conn) and equity == cash + hedges - expected
    assert report.mark is not None and report.mark.equity == equity
    assert ledger.pool_state(conn).equity == equity
