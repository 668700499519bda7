"""KalshiClient against the fault-injecting fake exchange."""

from __future__ import annotations

import logging
import math
import random
import socket
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from models.records import BookSnapshot, ComboMarket, EventRecord, MarketRecord, Rejected, Trade
from parlay.kalshi.client import BASE_URLS, KalshiClient, RetryPolicy
from parlay.kalshi.errors import (
    KalshiAuthError,
    KalshiBadResponse,
    KalshiConfigError,
    KalshiConflict,
    KalshiError,
    KalshiNotFound,
    KalshiPaginationError,
    KalshiRetriesExhausted,
    KalshiServerError,
    KalshiTransportError,
    KalshiUnauthorized,
)
from parlay.kalshi.ratelimit import RateLimiter, RateTier
from parlay.kalshi.signing import KalshiSigner
from parlay.kalshi.types import Order
from tests.fakes.kalshi_server import (
    BOS,
    COMBO_1,
    DEN,
    E_FIXED,
    E_LEGACY,
    FAKE_KEY_ID,
    GSW,
    LAL,
    NYK,
    OKC,
    SEED_CLIENT_ORDER_ID,
    SEED_ORDER_ID,
    SERIES,
    FakeKalshi,
    fake_private_key_pem,
    make_client,
)

D = Decimal


def live_trade_count(fake: FakeKalshi) -> int:
    return sum(1 for t in fake.data.trades if t["ticker"] not in fake.data.historical_tickers)


# --------------------------------------------------------------------------- pagination


def test_pagination_follows_cursors_across_pages(
    fake_kalshi: FakeKalshi, kalshi_client: KalshiClient
) -> None:
    fake_kalshi.page_size = 3
    trades = list(kalshi_client.iter_trades())
    n = live_trade_count(fake_kalshi)
    assert len(trades) == n and len({t.trade_id for t in trades}) == n
    calls = fake_kalshi.calls("/markets/trades")
    assert len(calls) == math.ceil(n / 3)
    assert "cursor" not in calls[0].query
    assert all("cursor" in c.query for c in calls[1:])
    assert len({c.query["cursor"][0] for c in calls[1:]}) == len(calls) - 1
    assert calls[0].query["limit"] == ["1000"]


def test_markets_paginate_and_filter(fake_kalshi: FakeKalshi, kalshi_client: KalshiClient) -> None:
    fake_kalshi.page_size = 2
    markets = list(kalshi_client.iter_markets(series_ticker=SERIES))
    assert len(markets) == 10 and all(isinstance(m, MarketRecord) for m in markets)
    two = list(kalshi_client.iter_markets(tickers=[GSW, LAL]))
    assert {m.ticker for m in two} == {GSW, LAL}
    assert fake_kalshi.calls("/markets")[-1].query["tickers"] == [f"{GSW},{LAL}"]
    with pytest.raises(ValueError):
        kalshi_client.iter_markets(limit=1001)


def test_repeated_cursor_is_refused(fake_kalshi: FakeKalshi, kalshi_client: KalshiClient) -> None:
    fake_kalshi.page_size = 2
    fake_kalshi.stuck_cursor("/markets")
    with pytest.raises(KalshiPaginationError):
        list(kalshi_client.iter_markets(rejects=True))
    assert len(fake_kalshi.calls("/markets")) == 2


# --------------------------------------------------------------------------- retries


def test_429_burst_then_success(
    fake_kalshi: FakeKalshi, kalshi_client: KalshiClient, backoff_sleeps: list[float]
) -> None:
    fake_kalshi.rate_limit(f"/markets/{GSW}", times=3)
    m = kalshi_client.get_market(GSW)
    assert m.ticker == GSW
    assert [c.status for c in fake_kalshi.calls(f"/markets/{GSW}")] == [429, 429, 429, 200]
    policy = RetryPolicy(max_attempts=5, base_delay=0.05, max_delay=1.0)
    assert len(backoff_sleeps) == 3
    for n, s in enumerate(backoff_sleeps, start=1):
        assert 0.0 <= s <= policy.ceiling(n)


def test_500s_then_success(
    fake_kalshi: FakeKalshi, kalshi_client: KalshiClient, backoff_sleeps: list[float]
) -> None:
    fake_kalshi.fail("/markets/*/orderbook", 500, times=1)
    fake_kalshi.fail("/markets/*/orderbook", 502, times=1)
    book = kalshi_client.get_orderbook(LAL)
    assert isinstance(book, BookSnapshot) and book.market_ticker == LAL
    assert [c.status for c in fake_kalshi.calls("/markets/*/orderbook")] == [500, 502, 200]
    assert len(backoff_sleeps) == 2


def test_backoff_is_exponential_full_jitter_and_seeded() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=3.0)
    assert [policy.ceiling(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    a = [policy.delay(n, random.Random(1)) for n in range(1, 6)]
    b = [policy.delay(n, random.Random(1)) for n in range(1, 6)]
    assert a == b
    assert all(0 <= d <= policy.ceiling(n) for n, d in zip(range(1, 6), a, strict=True))
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_retries_exhausted_is_clear(fake_kalshi: FakeKalshi, kalshi_client: KalshiClient) -> None:
    fake_kalshi.fail(f"/markets/{GSW}", 503, times=50)
    with pytest.raises(KalshiRetriesExhausted) as info:
        kalshi_client.get_market(GSW)
    err = info.value
    assert err.attempts == 5
    assert isinstance(err.last_error, KalshiServerError) and err.last_error.status == 503
    assert f"GET /markets/{GSW}" in str(err) and "503" in str(err)
    assert len(fake_kalshi.calls(f"/markets/{GSW}")) == 5


def test_client_errors_are_not_retried(fake_kalshi: FakeKalshi, kalshi_client: KalshiClient) -> None:
    with pytest.raises(KalshiNotFound) as info:
        kalshi_client.get_market("KX-NOPE")
    assert info.value.status == 404 and info.value.code == "not_found"
    assert "market KX-NOPE not found" in str(info.value)
    assert len(fake_kalshi.calls("/markets/KX-NOPE")) == 1
    fake_kalshi.fail(f"/markets/{GSW}", 400, body={"code": "bad_request", "message": "nope", "details": "x"})
    with pytest.raises(KalshiError) as info2:
        kalshi_client.get_market(GSW)
    assert "[bad_request]" in str(info2.value) and "nope" in str(info2.value)


def test_slow_response_times_out_then_retry_succeeds(fake_kalshi: FakeKalshi) -> None:
    fake_kalshi.slow(f"/markets/{GSW}", 3.0)
    sleeps: list[float] = []
    with make_client(fake_kalshi, sleeps=sleeps, timeout=0.3) as client:
        assert client.get_market(GSW).ticker == GSW
    calls = fake_kalshi.calls(f"/markets/{GSW}")
    assert len(calls) == 2 and calls[0].fault == "delay"
    assert len(sleeps) == 1


def test_timeouts_exhausted(fake_kalshi: FakeKalshi) -> None:
    fake_kalshi.slow("/markets", 3.0, times=5)
    client = make_client(fake_kalshi, timeout=0.2, retry=RetryPolicy(max_attempts=2))
    with client, pytest.raises(KalshiRetriesExhausted) as info:
        list(client.iter_markets())
    last = info.value.last_error
    assert isinstance(last, KalshiTransportError) and last.kind == "timeout"


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    client = KalshiClient(
        base_url=f"http://127.0.0.1:{port}/trade-api/v2", rate_tier=None, sleep=sleeps.append,
        retry=RetryPolicy(max_attempts=3), timeout=2.0,
    )
    with client, pytest.raises(KalshiRetriesExhausted) as info:
        client.get_series(SERIES)
    assert isinstance(info.value.last_error, KalshiTransportError)
    assert info.value.last_error.kind == "connect" and len(sleeps) == 2


def test_rate_limiter_paces_calls_and_429_drains_it(fake_kalshi: FakeKalshi) -> None:
    now = [0.0]

    def fake_sleep(s: float) -> None:
        now[0] += s

    limiter = RateLimiter(RateTier("tiny", 2, 1), clock=lambda: now[0], sleep=fake_sleep)
    with make_client(fake_kalshi, rate_limiter=limiter) as client:
        for _ in range(5):
            client.get_series(SERIES)
        assert now[0] == pytest.approx(1.5)  # 2 in the burst, 3 more at 2 per second
        fake_kalshi.rate_limit(f"/series/{SERIES}")
        client.get_series(SERIES)
    assert now[0] == pytest.approx(1.5 + 0.5 + 0.5)


# --------------------------------------------------------------------------- bad payloads


def test_malformed_json_is_a_bad_response(fake_kalshi: FakeKalshi, kalshi_client: KalshiClient) -> None:
    fake_kalshi.malformed_json(f"/markets/{GSW}")
    with pytest.raises(KalshiBadResponse) as info:
        kalshi_client.get_market(GSW)
    assert info.value.reason == "malformed_json"
    assert len(fake_kalshi.calls(f"/markets/{GSW}")) == 1


def test_malformed_page_mid_iteration(fake_kalshi: FakeKalshi, kalshi_client: KalshiClient) -> None:
    fake_kalshi.page_size = 3
    fake_kalshi.malformed_json("/markets/trades", skip=1)
    items = list(kalshi_client.iter_trades(rejects=True))
    assert [type(i).__name__ for i in items] == ["Trade"] * 3 + ["Rejected"]
    rej = items[-1]
    assert isinstance(rej, Rejected)
    assert (rej.source, rej.locator, rej.reason) == ("live", "/markets/trades", "malformed_json")
    assert rej.position == 3
    fake_kalshi.malformed_json("/markets/trades", skip=1)
    with pytest.raises(KalshiBadResponse):
        list(kalshi_client.iter_trades())


def test_bad_items_become_rejected(fake_kalshi: FakeKalshi, kalshi_client: KalshiClient) -> None:
    fake_kalshi.data.markets[OKC]["close_time"] = "not a time"
    items = list(kalshi_client.iter_markets(series_ticker=SERIES, rejects=True))
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert len(items) == 10 and len(rejected) == 1
    r = rejected[0]
    assert (r.source, r.locator, r.reason, r.market_ticker) == ("live", "/markets", "bad_timestamp", OKC)
    assert OKC in r.payload and "not a time" in r.payload
    with pytest.raises(KalshiBadResponse) as info:
        list(kalshi_client.iter_markets(series_ticker=SERIES))
    assert info.value.reason == "bad_timestamp"


def test_nested_market_rejected_alone(fake_kalshi: FakeKalshi, kalshi_client: KalshiClient) -> None:
    fake_kalshi.data.markets[OKC]["yes_bid"] = "forty"
    items = list(kalshi_client.iter_events(series_ticker=SERIES, with_nested_markets=True, rejects=True))
    events = [i for i in items if isinstance(i, EventRecord)]
    markets = [i for i in items if isinstance(i, MarketRecord)]
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert len(events) == 5 and len(markets) == 9
    assert [(r.reason, r.market_ticker) for r in rejected] == [("bad_number", OKC)]
    assert GSW in {m.ticker for m in markets}


def test_bad_trade_prices_rejected(fake_kalshi: FakeKalshi, kalshi_client: KalshiClient) -> None:
    fake_kalshi.data.trades[0]["yes_price"] = 0
    fake_kalshi.data.trades[0]["no_price"] = 100
    items = list(kalshi_client.iter_trades(ticker=GSW, rejects=True))
    assert [i.reason for i in items if isinstance(i, Rejected)] == ["price_out_of_range"]


# --------------------------------------------------------------------------- market data, both shapes


def test_both_payload_shapes_normalize_identically(kalshi_client: KalshiClient) -> None:
    legacy, fixed = kalshi_client.get_market(GSW), kalshi_client.get_market(LAL)
    for f in ("yes_bid", "yes_ask", "last_price", "volume", "open_interest", "close_time", "status"):
        assert getattr(legacy, f) == getattr(fixed, f), f
    assert legacy.yes_bid == D("0.4200") and str(legacy.volume) == "1500.00"
    b1, b2 = kalshi_client.get_orderbook(GSW), kalshi_client.get_orderbook(LAL)
    assert isinstance(b1, BookSnapshot) and isinstance(b2, BookSnapshot)
    assert (b1.yes, b1.no) == (b2.yes, b2.no)
    assert b1.yes[-1] == (D("0.4200"), D("100.00"))
    assert kalshi_client.get_orderbook(OKC).yes == kalshi_client.get_orderbook(BOS).yes
    t1 = sorted(kalshi_client.iter_trades(ticker=GSW), key=lambda t: t.trade_id)
    t2 = sorted(kalshi_client.iter_trades(ticker=LAL), key=lambda t: t.trade_id)
    key = lambda t: (t.ts, t.yes_price, t.no_price, t.count, t.taker_side)  # noqa: E731
    assert [key(t) for t in t1 if t.trade_id[6:].isdigit()] == [key(t) for t in t2]
    c1 = kalshi_client.get_candlesticks(SERIES, GSW, 0, 2_000_000_000)
    c2 = kalshi_client.get_candlesticks(SERIES, LAL, 0, 2_000_000_000)
    assert len(c1) == 5
    assert [c._replace(market_ticker="") for c in c1] == [c._replace(market_ticker="") for c in c2]


def test_sub_cent_market(kalshi_client: KalshiClient) -> None:
    m = kalshi_client.get_market(DEN)
    assert (m.yes_bid, m.yes_ask) == (D("0.0450"), D("0.0470"))
    book = kalshi_client.get_orderbook(DEN, depth=1)
    assert isinstance(book, BookSnapshot) and book.yes == ((D("0.0450"), D("1000.00")),)
    (trade,) = kalshi_client.iter_trades(ticker=DEN)
    assert isinstance(trade, Trade) and trade.yes_price == D("0.0450") and trade.no_price == D("0.9550")


def test_series_events_and_event(kalshi_client: KalshiClient) -> None:
    s = kalshi_client.get_series(SERIES)
    assert s.fee_type == "quadratic_with_maker_fees" and s.source == "live"
    ev, markets = kalshi_client.get_event(E_LEGACY)
    assert ev.mutually_exclusive is True and {m.ticker for m in markets} == {GSW, OKC}
    _, markets2 = kalshi_client.get_event(E_FIXED, with_nested_markets=True)
    assert {m.ticker for m in markets2} == {LAL, f"{E_FIXED}-BOS"}
    assert all(m.series_ticker == SERIES for m in markets2)
    only_events = list(kalshi_client.iter_events(series_ticker=SERIES))
    assert all(isinstance(e, EventRecord) for e in only_events) and len(only_events) == 5


def test_historical_endpoints(fake_kalshi: FakeKalshi, kalshi_client: KalshiClient) -> None:
    cut = kalshi_client.get_historical_cutoff()
    assert cut.market_settled_ts is not None
    assert cut.market_settled_ts.isoformat() == "2026-03-07T12:00:00+00:00"
    candles = kalshi_client.get_historical_candlesticks(NYK, 0, 2_000_000_000)
    assert len(candles) == 3 and candles[0].yes_bid_open == D("0.6000") and candles[0].volume == D("10.00")
    assert kalshi_client.get_historical_market(NYK).result == "yes"
    (trade,) = kalshi_client.iter_trades(ticker=NYK, historical=True)
    assert isinstance(trade, Trade) and trade.yes_price == D("0.6100")
    with pytest.raises(KalshiNotFound):
        kalshi_client.get_candlesticks(SERIES, NYK, 0, 2_000_000_000)
    with pytest.raises(ValueError):
        kalshi_client.get_candlesticks(SERIES, GSW, 0, 1, period_interval=5)


def test_multivariate(kalshi_client: KalshiClient) -> None:
    (collection,) = kalshi_client.iter_multivariate_collections()
    assert collection["collection_ticker"].startswith("KXMVE")
    combos = list(kalshi_client.iter_multivariate_events())
    assert len(combos) == 4 and all(isinstance(c, ComboMarket) for c in combos)
    c1 = next(c for c in combos if c.ticker == COMBO_1)
    assert [(leg.market_ticker, leg.side) for leg in c1.legs] == [(GSW, "yes"), (LAL, "yes")]
    assert c1.collection_ticker == collection["collection_ticker"]


def test_settlements(kalshi_client: KalshiClient) -> None:
    got = {s.market_ticker: s for s in kalshi_client.iter_settlements(event_ticker="KXNBAGAME-26MAR06NYKMIA")}
    assert got[NYK].settlement_value == D(1)
    assert got[NYK].settled_ts.isoformat() == "2026-03-07T03:05:00+00:00"
    assert list(kalshi_client.iter_settlements(event_ticker=E_LEGACY)) == []


# --------------------------------------------------------------------------- auth


def test_signed_endpoint_without_credentials(fake_kalshi: FakeKalshi) -> None:
    with make_client(fake_kalshi, signed=False) as client:
        with pytest.raises(KalshiAuthError):
            client.get_balance()
        with pytest.raises(KalshiAuthError):
            client.create_order(GSW, "yes", "buy", 1, D("0.40"))
        assert client.get_market(GSW).ticker == GSW  # public data needs no key
    assert [r.path for r in fake_kalshi.requests] == [f"/markets/{GSW}"]


def test_server_rejects_bad_or_missing_signatures(fake_kalshi: FakeKalshi) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_pem = other_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    for signer, problem in (
        (KalshiSigner.from_pem(FAKE_KEY_ID, other_pem), "signature does not verify"),
        (KalshiSigner.from_pem("someone-else", fake_private_key_pem()), "unknown API key"),
    ):
        client = KalshiClient(
            base_url=fake_kalshi.base_url, signer=signer, rate_tier=None, sleep=lambda s: None
        )
        with client, pytest.raises(KalshiUnauthorized) as info:
            client.get_balance()
        assert info.value.status == 401 and isinstance(info.value, KalshiAuthError)
        assert fake_kalshi.requests[-1].auth_error == problem
    assert len(fake_kalshi.calls("/portfolio/balance")) == 2  # 401 is not retried
    import httpx

    assert httpx.get(f"{fake_kalshi.base_url}/portfolio/balance").status_code == 401


def test_signature_covers_path_not_query(fake_kalshi: FakeKalshi, kalshi_client: KalshiClient) -> None:
    orders = list(kalshi_client.iter_orders(ticker=GSW, status="resting"))
    assert [o.order_id for o in orders] == [SEED_ORDER_ID]
    call = fake_kalshi.calls("/portfolio/orders")[-1]
    assert call.query["ticker"] == [GSW] and call.status == 200 and call.auth_error is None


# --------------------------------------------------------------------------- portfolio


def test_portfolio_reads(kalshi_client: KalshiClient) -> None:
    bal = kalshi_client.get_balance()
    assert bal.balance == D("1000.0000") and bal.portfolio_value == D("25.0000")
    pos = {p.ticker: p for p in kalshi_client.iter_positions()}
    assert pos[GSW].position == D("10.00") and pos[GSW].market_exposure == D("4.2000")
    assert pos[LAL].position == D("-5.00") and pos[LAL].fees_paid == D("0.0400")
    fills = {f.fill_id: f for f in kalshi_client.iter_fills()}
    assert fills["f-1"].yes_price == fills["f-2"].yes_price == D("0.4200")
    assert fills["f-3"].yes_price == D("0.0450") and fills["f-2"].fee == D("0.0400")
    order = kalshi_client.get_order(SEED_ORDER_ID)
    assert order.yes_price == D("0.4000") and order.remaining_count == D("5.00")


def test_create_order_body_and_result(fake_kalshi: FakeKalshi, kalshi_client: KalshiClient) -> None:
    o = kalshi_client.create_order(
        GSW, "yes", "buy", 3, D("0.41"), client_order_id="c-1", time_in_force="good_till_canceled"
    )
    assert isinstance(o, Order)
    assert (o.client_order_id, o.yes_price, o.initial_count) == ("c-1", D("0.4100"), D("3.00"))
    assert o.status == "resting"
    body = fake_kalshi.calls("/portfolio/orders", "POST")[-1].json()
    assert body["yes_price_dollars"] == "0.4100" and body["yes_price"] == 41
    assert body["count"] == 3 and body["count_fp"] == "3.00" and body["time_in_force"] == "good_till_canceled"
    sub = kalshi_client.create_order(DEN, "no", "buy", 2, D("0.9545"))
    body = fake_kalshi.calls("/portfolio/orders", "POST")[-1].json()
    assert body["no_price_dollars"] == "0.9545" and "no_price" not in body
    assert len(body["client_order_id"]) == 36  # a UUID4 when none is given
    assert sub.no_price == D("0.9545") and sub.yes_price == D("0.0455")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((GSW, "yes", "buy", 1, D("1.00")), ValueError),
        ((GSW, "yes", "buy", 1, D("0")), ValueError),
        ((GSW, "yes", "buy", 0, D("0.5")), ValueError),
        ((GSW, "yes", "buy", D("1.5"), D("0.5")), ValueError),
        ((GSW, "yes", "buy", 1, D("0.12345")), ValueError),
        ((GSW, "maybe", "buy", 1, D("0.5")), ValueError),
        ((GSW, "yes", "hold", 1, D("0.5")), ValueError),
        ((GSW, "yes", "buy", 1, 0.5), TypeError),
    ],
)
def test_create_order_validates_before_sending(
    fake_kalshi: FakeKalshi, kalshi_client: KalshiClient, args: tuple, error: type[Exception]
) -> None:
    with pytest.raises(error):
        kalshi_client.create_order(*args)
    with pytest.raises(ValueError):
        kalshi_client.create_order(GSW, "yes", "buy", 1, D("0.5"), client_order_id="has space")
    assert fake_kalshi.requests == []


def test_order_accepted_but_response_dropped(fake_kalshi: FakeKalshi, kalshi_client: KalshiClient) -> None:
    before = fake_kalshi.order_count
    fake_kalshi.drop_after_processing("/portfolio/orders", method="POST")
    o = kalshi_client.create_order(GSW, "yes", "buy", 4, D("0.39"), client_order_id="retry-me")
    assert o.client_order_id == "retry-me" and o.yes_price == D("0.3900")
    assert fake_kalshi.order_count == before + 1
    assert len(fake_kalshi.orders_with_client_id("retry-me")) == 1
    posts = fake_kalshi.calls("/portfolio/orders", "POST")
    assert len(posts) == 1 and posts[0].status is None  # found by lookup, not sent twice


def test_order_accepted_but_response_too_slow(fake_kalshi: FakeKalshi) -> None:
    before = fake_kalshi.order_count
    fake_kalshi.slow("/portfolio/orders", 3.0, method="POST", after_processing=True)
    with make_client(fake_kalshi, timeout=0.3) as client:
        o = client.create_order(LAL, "no", "buy", 2, D("0.57"), client_order_id="slow-1")
    assert o.no_price == D("0.5700")
    assert fake_kalshi.order_count == before + 1 and len(fake_kalshi.orders_with_client_id("slow-1")) == 1


def test_resent_order_gets_409_and_returns_the_existing_one(
    fake_kalshi: FakeKalshi, kalshi_client: KalshiClient
) -> None:
    """The lookup after the dropped answer fails too, so the POST goes out again with the same
    client_order_id; the server answers 409 and the client fetches the order it already holds."""
    before = fake_kalshi.order_count
    fake_kalshi.drop_after_processing("/portfolio/orders", method="POST")
    fake_kalshi.fail("/portfolio/orders", 503, method="GET", times=5)
    o = kalshi_client.create_order(GSW, "no", "buy", 1, D("0.55"), client_order_id="twice")
    posts = fake_kalshi.calls("/portfolio/orders", "POST")
    assert [p.status for p in posts] == [None, 409]
    assert [p.json()["client_order_id"] for p in posts] == ["twice", "twice"]
    assert fake_kalshi.order_count == before + 1
    assert o.order_id == fake_kalshi.orders_with_client_id("twice")[0]["order_id"]


def test_last_attempt_taken_after_all(fake_kalshi: FakeKalshi, kalshi_client: KalshiClient) -> None:
    """Four 503s, then the fifth POST is processed but its answer lost: the retry budget is spent,
    yet the order exists, so the client returns it instead of raising."""
    before = fake_kalshi.order_count
    fake_kalshi.fail("/portfolio/orders", 503, method="POST", times=4)
    fake_kalshi.drop_after_processing("/portfolio/orders", method="POST")
    o = kalshi_client.create_order(GSW, "yes", "sell", 2, D("0.45"), client_order_id="last-try")
    assert [p.status for p in fake_kalshi.calls("/portfolio/orders", "POST")] == [503, 503, 503, 503, None]
    assert fake_kalshi.order_count == before + 1 and o.client_order_id == "last-try" and o.action == "sell"


def test_duplicate_client_order_id(fake_kalshi: FakeKalshi, kalshi_client: KalshiClient) -> None:
    o = kalshi_client.create_order(GSW, "yes", "buy", 5, D("0.40"), client_order_id=SEED_CLIENT_ORDER_ID)
    assert o.order_id == SEED_ORDER_ID
    with pytest.raises(KalshiConflict) as info:  # the id belongs to an order on another market
        kalshi_client.create_order(LAL, "yes", "buy", 5, D("0.40"), client_order_id=SEED_CLIENT_ORDER_ID)
    assert info.value.status == 409 and info.value.code == "order_already_exists"


def test_create_order_not_retried_on_client_error(
    fake_kalshi: FakeKalshi, kalshi_client: KalshiClient
) -> None:
    with pytest.raises(KalshiNotFound):
        kalshi_client.create_order("KX-NOPE", "yes", "buy", 1, D("0.5"))
    assert len(fake_kalshi.calls("/portfolio/orders", "POST")) == 1


def test_cancel_order(fake_kalshi: FakeKalshi, kalshi_client: KalshiClient) -> None:
    o = kalshi_client.cancel_order(SEED_ORDER_ID)
    assert o.status == "canceled" and o.remaining_count == D("0.00")
    with pytest.raises(KalshiNotFound):
        kalshi_client.cancel_order(SEED_ORDER_ID)
    new = kalshi_client.create_order(GSW, "yes", "buy", 1, D("0.30"))
    fake_kalshi.drop_after_processing(f"/portfolio/orders/{new.order_id}", method="DELETE")
    again = kalshi_client.cancel_order(new.order_id)
    assert again.status == "canceled"
    assert [c.status for c in fake_kalshi.calls(f"/portfolio/orders/{new.order_id}", "DELETE")] == [None, 404]


def test_prod_needs_explicit_trading_opt_in() -> None:
    client = KalshiClient("prod", rate_tier=None)
    assert client.base_url == BASE_URLS["prod"]
    with client, pytest.raises(KalshiConfigError):
        client.create_order(GSW, "yes", "buy", 1, D("0.5"))
    with pytest.raises(KalshiConfigError):
        KalshiClient("staging")
    assert KalshiClient().base_url == BASE_URLS["demo"] == "https://external-api.demo.kalshi.co/trade-api/v2"


def test_from_env(tmp_path) -> None:
    pem = fake_private_key_pem()
    c = KalshiClient.from_env(
        {"PARLAY_KALSHI_ENV": "prod", "KALSHI_API_KEY_ID": FAKE_KEY_ID, "KALSHI_PRIVATE_KEY_PEM": pem,
         "KALSHI_RATE_TIER": "premier"}
    )
    assert c.base_url == BASE_URLS["prod"] and c.has_credentials and "premier" in repr(c)
    assert not KalshiClient.from_env({}).has_credentials
    with pytest.raises(KalshiConfigError):
        KalshiClient.from_env({"KALSHI_RATE_TIER": "gold"})


# --------------------------------------------------------------------------- secrets


def test_no_secret_in_errors_reprs_or_logs(fake_kalshi: FakeKalshi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    pem = fake_private_key_pem()
    pem_body = "".join(pem.strip().splitlines()[1:-1])
    texts: list[str] = []
    client = make_client(fake_kalshi, retry=RetryPolicy(max_attempts=2))
    texts += [repr(client), str(client), repr(client._signer)]
    fake_kalshi.fail("/portfolio/balance", 500, times=5)
    fake_kalshi.fail("/portfolio/orders", 503, method="POST", times=5)
    fake_kalshi.drop_after_processing("/portfolio/positions", times=5)
    for call in (
        client.get_balance,
        lambda: client.create_order(GSW, "yes", "buy", 1, D("0.5"), client_order_id="s-1"),
        lambda: list(client.iter_positions()),
        lambda: client.get_order("missing"),
    ):
        with pytest.raises(KalshiError) as info:
            call()
        err = info.value
        texts += [str(err), repr(err), str(getattr(err, "last_error", ""))]
    wrong = KalshiSigner.from_pem("wrong-id-42", pem)
    bad = KalshiClient(base_url=fake_kalshi.base_url, signer=wrong, rate_tier=None)
    with bad, pytest.raises(KalshiUnauthorized) as info:
        bad.get_balance()
    texts += [str(info.value), repr(info.value), repr(bad)]
    texts += [r.getMessage() for r in caplog.records]
    signatures = [r.headers.get("Kalshi-Access-Signature") or r.headers.get("KALSHI-ACCESS-SIGNATURE")
                  for r in fake_kalshi.requests]
    signatures = [s for s in signatures if s]
    assert len(signatures) >= 5
    assert any("retry" in t for t in texts)  # the logs were captured
    blob = "\n".join(texts)
    assert FAKE_KEY_ID not in blob and "wrong-id-42" not in blob
    assert "PRIVATE KEY" not in blob
    for chunk in (pem_body[i:i + 24] for i in range(0, len(pem_body) - 24, 24)):
        assert chunk not in blob
    for sig in signatures:
        assert sig not in blob and sig[:24] not in blob
    client.close()
