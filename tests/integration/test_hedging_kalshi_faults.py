"""Hedging against the fake Kalshi exchange under faults: 429 bursts, 500s, answers slower than the
client's timeout, dropped connections, a reused client_order_id. Whatever happens, the exchange never
holds two orders for one client_order_id, and every order in the ledger ends in a known state."""

from __future__ import annotations

import itertools
import json
import math
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from models.hedging import Ask, HedgeConfig, book_exposure, independent_joint, plan_hedges
from models.risk import Book, MarketDef, PoolState, RiskConfig, evaluate
from parlay import ledger
from parlay.execution import KalshiVenue, OrderLimits
from parlay.hedging_runtime import current_positions, open_bets, rebalance, reconcile
from parlay.kalshi.client import RetryPolicy
from parlay.ledger import StoredQuote
from tests.fakes.kalshi_server import CHI, GSW, LAL, FakeKalshi, LoggedRequest, fake_private_key, iso, make_client

pytestmark = pytest.mark.integration

D = Decimal
ORDERS = "/portfolio/orders"
MARKETS = {GSW: MarketDef(GSW, (("gsw", True),)), LAL: MarketDef(LAL, (("lal", True),)),
           CHI: MarketDef(CHI, (("chi", True),))}
MARGINALS = {GSW: 0.43, LAL: 0.43, CHI: 0.31}
ASKS = {GSW: Ask(D("0.44"), D("0.58")), LAL: Ask(D("0.44"), D("0.58")), CHI: Ask(D("0.32"), D("0.70"))}
BETS = [
    (((GSW, "yes"), (LAL, "yes")), D(300), 0.19),
    (((LAL, "yes"), (CHI, "no")), D(250), 0.30),
    (((CHI, "no"),), D(200), 0.69),
]
FINAL_OR_EXPLAINED = {"filled", "partially_filled", "canceled", "rejected", "resting", "submitted"}
CLIENT_TIMEOUT = 0.3
SERVER_DELAY = 1.0  # well beyond the client's timeout


@pytest.fixture
def fake() -> Iterator[FakeKalshi]:
    with FakeKalshi(fake_private_key().public_key()) as f:
        yield f


@pytest.fixture
def venue(fake: FakeKalshi) -> Iterator[KalshiVenue]:
    client = make_client(fake, timeout=CLIENT_TIMEOUT,
                         retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02))
    try:
        yield KalshiVenue(client, "demo")
    finally:
        client.close()


@pytest.fixture
def conn(fresh_database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(fresh_database_url) as c:
        ledger.deposit(c, D(50_000), "seed")
        for i, (legs, stake, p) in enumerate(BETS):
            q = StoredQuote(ledger.new_id("q"), legs, stake, p, 0.0, 0.02, D("0.50"), stake * 2, D(1000), "test",
                            datetime.now(UTC) + timedelta(minutes=1), None)
            ledger.store_quote(c, q)
            c.commit()

            def check(book: Book, pool: PoolState, q: StoredQuote = q, stake: Decimal = stake):
                return evaluate(q.legs, stake, q.probability, 0.0, book, pool, MARKETS, RiskConfig())

            assert ledger.place_bet(c, q, stake, f"k{i}", None, check).created
        yield c


def posts(fake: FakeKalshi) -> list[LoggedRequest]:
    return fake.calls(ORDERS, method="POST")


def coid_of(req: LoggedRequest) -> str:
    return json.loads(req.body)["client_order_id"]


def wait_for_in_flight(fake: FakeKalshi) -> None:
    """Let requests the server is still sleeping on finish (their client has long given up)."""
    for _ in range(500):
        if not any(r.status is None and r.fault in ("delay", "delay_after") for r in fake.requests):
            return
        time.sleep(0.02)
    raise AssertionError("the fake still has requests in flight")


def ledger_orders(conn: psycopg.Connection) -> list[tuple]:
    rows = conn.execute(
        "SELECT client_order_id, state, exchange_order_id, reason, venue FROM ledger.hedge_orders ORDER BY 1"
    ).fetchall()
    conn.commit()
    return rows


def assert_one_order_per_client_id(fake: FakeKalshi, coids: list[str]) -> None:
    for coid in coids:
        assert len(fake.orders_with_client_id(coid)) <= 1, coid
        created = [r for r in posts(fake) if coid_of(r) == coid and r.status == 201]
        assert len(created) <= 1, coid
    all_ids = Counter(o.get("client_order_id") for o in fake.data.orders.values())
    assert max(all_ids.values()) == 1


def assert_known_states(conn: psycopg.Connection) -> None:
    for coid, state, _, reason, venue_name in ledger_orders(conn):
        assert venue_name == "demo"
        assert state in FINAL_OR_EXPLAINED or (state == "pending" and reason and "submit failed" in reason), coid


def test_mixed_faults_never_double_an_order(fake: FakeKalshi, venue: KalshiVenue, conn) -> None:
    fake.rate_limit(ORDERS, method="POST", times=3)  # a 429 burst: the client gives up on one order
    fake.fail(ORDERS, 500, method="POST", times=2)
    fake.slow(ORDERS, SERVER_DELAY, method="POST")  # times out; the server takes the order afterwards
    fake.slow(ORDERS, SERVER_DELAY, method="POST", after_processing=True)  # taken, answered too late
    fake.drop_after_processing(ORDERS, method="POST")  # taken, connection dropped

    first = rebalance(conn, venue, MARGINALS, ASKS, HedgeConfig(), "plan-1")
    coids = [o.client_order_id for o in first.orders]
    assert first.planned == 3 and len(coids) == 3
    assert first.failed >= 1  # the 429 burst outlasted the client's retries
    assert_one_order_per_client_id(fake, coids)
    assert_known_states(conn)

    wait_for_in_flight(fake)
    second = rebalance(conn, venue, MARGINALS, ASKS, HedgeConfig(), "plan-1")
    assert second.planned == 3 and second.failed == 0
    wait_for_in_flight(fake)
    assert_one_order_per_client_id(fake, coids)
    for coid, state, exchange_id, _, _ in ledger_orders(conn):
        [on_exchange] = fake.orders_with_client_id(coid)  # every order made it, exactly once
        assert state == "resting" and exchange_id == on_exchange["order_id"]
    assert fake.order_count == 1 + 3  # the seeded resting order plus ours
    n_posts = len(posts(fake))
    assert n_posts > 3  # faults forced resends, none of them doubled an order

    # a third run (new plan, same book) waits for the resting orders instead of stacking more on them
    third = rebalance(conn, venue, MARGINALS, ASKS, HedgeConfig(), "plan-2")
    assert third.orders == [] and all("still resting" in r for r in third.skipped.values())
    assert len(posts(fake)) == n_posts


def test_sustained_500s_leave_orders_pending_then_one_resend_each(fake: FakeKalshi, venue: KalshiVenue,
                                                                  conn) -> None:
    fake.fail(ORDERS, 500, method="POST", times=1000)
    first = rebalance(conn, venue, MARGINALS, ASKS, HedgeConfig(), "plan-1")
    assert first.failed == 3 and first.submitted == 0
    assert [o.state for o in first.orders] == ["pending"] * 3
    assert all("not found on the exchange" in (o.reason or "") for o in first.orders)
    assert fake.order_count == 1  # only the seed
    assert_known_states(conn)

    fake.clear_faults()
    second = rebalance(conn, venue, MARGINALS, ASKS, HedgeConfig(), "plan-1")
    assert second.submitted == 3 and [o.state for o in second.orders] == ["resting"] * 3
    log = fake.requests
    for o in second.orders:
        assert len(fake.orders_with_client_id(o.client_order_id)) == 1
        idx = [i for i, r in enumerate(log) if r.method == "POST" and r.path == ORDERS
               and coid_of(r) == o.client_order_id]
        assert [log[i].status for i in idx][-1] == 201 and [log[i].status for i in idx].count(201) == 1
        # after every failed POST, the order was looked up before the next POST went out
        for a, b in itertools.pairwise(idx):
            assert any(r.method == "GET" and r.path == ORDERS for r in log[a + 1:b]), o.client_order_id
    assert_known_states(conn)


def test_reused_client_order_id_is_treated_as_already_placed(fake: FakeKalshi, venue: KalshiVenue, conn) -> None:
    # A previous process sent the GSW order and crashed before writing anything down.
    exposure = book_exposure(open_bets(conn), independent_joint(MARGINALS))
    plan = plan_hedges(exposure, current_positions(conn), ASKS, HedgeConfig(), "plan-1")
    gsw = next(o for o in plan.orders if o.market_ticker == GSW)
    earlier = venue.client.create_order(gsw.market_ticker, gsw.side, gsw.action, gsw.count, gsw.limit_price,
                                        client_order_id=gsw.client_order_id)

    report = rebalance(conn, venue, MARGINALS, ASKS, HedgeConfig(), "plan-1")
    assert report.failed == 0
    statuses = [r.status for r in posts(fake) if coid_of(r) == gsw.client_order_id]
    assert statuses == [201, 409]
    assert len(fake.orders_with_client_id(gsw.client_order_id)) == 1
    row = next(r for r in ledger_orders(conn) if r[0] == gsw.client_order_id)
    assert row[1] == "resting" and row[2] == earlier.order_id


def test_fills_are_booked_once_and_the_ledger_balances(fake: FakeKalshi, venue: KalshiVenue, conn) -> None:
    report = rebalance(conn, venue, MARGINALS, ASKS, HedgeConfig(), "plan-1")
    assert [o.state for o in report.orders] == ["resting"] * 3
    now = iso(datetime.now(UTC))
    for o in report.orders:  # the exchange executes every order in full
        [order] = fake.orders_with_client_id(o.client_order_id)
        with fake.lock:
            order.update(status="executed", fill_count_fp=order["initial_count_fp"], remaining_count_fp="0.00")
            fake.data.fills.append({
                "fill_id": f"fill-{order['order_id']}", "trade_id": f"trade-{order['order_id']}",
                "order_id": order["order_id"], "ticker": order["ticker"], "side": order["side"],
                "action": order["action"], "count_fp": order["initial_count_fp"],
                "yes_price_dollars": order["yes_price_dollars"], "no_price_dollars": order["no_price_dollars"],
                "is_taker": True, "fee_cost": "0.0500", "created_time": now,
            })
    assert reconcile(conn, venue) == 3
    assert reconcile(conn, venue) == 0  # idempotent by fill id
    assert {r[1] for r in ledger_orders(conn)} == {"filled"}
    assert ledger.trial_balance(conn) == 0 and ledger.unbalanced_transactions(conn) == []
    positions = current_positions(conn)
    for market, target in report.targets.items():
        assert positions[market].net_yes == target
        assert abs(target) == math.trunc(abs(0.35 * report.exposure[market]))
    # the seeded fills of other (older, foreign) orders were never booked
    assert conn.execute("SELECT count(*) FROM ledger.fills").fetchone()[0] == 3
    assert len(posts(fake)) == 3


def test_order_limits_stop_orders_before_they_leave(fake: FakeKalshi, conn) -> None:
    client = make_client(fake)
    try:
        capped = KalshiVenue(client, "demo", limits=OrderLimits(max_order_contracts=300, max_notional=D(1000)))
        report = rebalance(conn, capped, MARGINALS, ASKS, HedgeConfig(), "plan-1")
    finally:
        client.close()
    big = {o.client_order_id for o in report.orders if o.count > 300}
    small = {o.client_order_id for o in report.orders if o.count <= 300}
    assert big and small
    assert all(o.state == "rejected" and "per-order limit" in (o.reason or "")
               for o in report.orders if o.client_order_id in big)
    assert {coid_of(r) for r in posts(fake)} == small  # the big order never left the process
    assert report.failed == len(big) and report.submitted == len(small)
    assert_known_states(conn)
