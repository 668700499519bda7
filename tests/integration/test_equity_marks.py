"""Equity marks on a real Postgres: what ``mark_equity`` writes and the drawdown ``pool_state`` reads back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from models.risk import Book, MarketDef, PoolState, RiskConfig, evaluate
from parlay import ledger
from parlay.ledger import StoredQuote

pytestmark = pytest.mark.integration

D = Decimal
MARKETS = {t: MarketDef(t, ((t.lower(), True),)) for t in ("M-A", "M-B")}
T0 = datetime(2025, 12, 15, 17, 0, tzinfo=UTC)  # replayed instants, far from the wall clock


def place(conn: psycopg.Connection, legs, stake: Decimal, prob: float, key: str) -> ledger.PlacedBet:
    q = StoredQuote(
        ledger.new_id("q"),
        tuple(legs),
        stake,
        prob,
        0.0,
        0.02,
        D("0.50"),
        stake * 2,
        D(1000),
        "test",
        datetime.now(UTC) + timedelta(minutes=1),
        None,
    )
    ledger.store_quote(conn, q)
    conn.commit()

    def check(book: Book, pool: PoolState):
        return evaluate(q.legs, stake, q.probability, q.uncertainty, book, pool, MARKETS, RiskConfig())

    return ledger.place_bet(conn, q, stake, key, None, check)


def buy_hedge(conn: psycopg.Connection, market: str, count: int, price: str) -> None:
    coid = f"h-{market}-{count}"
    ledger.record_order(conn, ledger.OrderRecord(coid, "paper", market, "yes", "buy", D(count), D(price), "p", "t"))
    ledger.record_fill(conn, f"f-{coid}", coid, market, "yes", "buy", D(count), D(price), D(0), T0)


def test_mark_equity_and_pool_state_give_the_drawdown_from_real_rows(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        ledger.deposit(conn, D(1000), "seed")
        assert ledger.pool_state(conn) == PoolState(D(1000), D(1000), D(1000))  # no marks yet: equity = cash

        m0 = ledger.mark_equity(conn, T0, "start")
        assert (m0.cash, m0.expected_payout, m0.hedge_value, m0.equity) == (D(1000), 0, 0, D(1000))

        a = place(conn, [("M-A", "yes"), ("M-B", "yes")], D(100), 0.40, "k1")  # price 0.42
        b = place(conn, [("M-A", "yes")], D(50), 0.60, "k2")  # price 0.62
        buy_hedge(conn, "M-A", 40, "0.55")  # 22 of cash into 40 YES contracts
        cash = D(1000) + D(150) - D(22)

        # marked to the model's current probabilities and the venue's mids
        model = {(("M-A", "yes"), ("M-B", "yes")): 0.5, (("M-A", "yes"),): 0.7}
        m1 = ledger.mark_equity(
            conn,
            T0 + timedelta(hours=1),
            "hourly",
            probability=lambda legs: model[legs],
            mids={"M-A": 0.7},
            trading_day=T0.date(),
        )
        expected = (a.payout * D("0.5") + b.payout * D("0.7")).quantize(D("0.0001"))
        assert (m1.cash, m1.expected_payout, m1.hedge_value) == (cash, expected, D("28.0000"))
        assert m1.equity == cash + D(28) - expected
        # without a model the quotes' probabilities are used; without a mid the hedge is carried at cost
        m2 = ledger.mark_equity(conn, T0 + timedelta(hours=2), "hourly", probability=lambda legs: None)
        assert m2.expected_payout == (a.payout * D("0.4") + b.payout * D("0.6")).quantize(D("0.0001"))
        assert m2.hedge_value == D(22)

        # both bets win; the hedge pays 40
        ledger.settle(conn, {"M-A": "yes", "M-B": "yes"})
        m3 = ledger.mark_equity(conn, T0 + timedelta(hours=3), "settlement", mids={"M-A": 1.0})
        assert m3.cash == cash - a.payout - b.payout + D(40)
        assert (m3.expected_payout, m3.hedge_value) == (0, 0) and m3.equity == m3.cash

        peak = max(m0.equity, m1.equity, m2.equity, m3.equity)
        pool = ledger.pool_state(conn)
        assert (pool.cash, pool.equity, pool.peak_equity) == (m3.cash, m3.equity, peak)
        assert pool.drawdown == pytest.approx(float((peak - m3.equity) / peak))
        assert pool.drawdown > 0.1

        # the latest mark is the one describing the latest instant, not the last row written
        ledger.mark_equity(conn, T0 - timedelta(hours=5), "late write of an earlier instant", mids={})
        assert ledger.pool_state(conn).equity == m3.equity
        rows = conn.execute("SELECT marked_at FROM ledger.equity_marks ORDER BY mark_id").fetchall()
        assert [r[0] for r in rows][:4] == [T0 + timedelta(hours=h) for h in range(4)]

        # the guardrail refuses with lp_drawdown past the limit, and not below it
        legs = (("M-B", "yes"), ("M-A", "yes"))
        tight = RiskConfig(max_drawdown=pool.drawdown - 0.01)
        loose = RiskConfig(max_drawdown=pool.drawdown + 0.01)
        assert evaluate(legs, D(10), 0.3, 0.0, Book(), pool, MARKETS, tight).rule == "lp_drawdown"
        assert evaluate(legs, D(10), 0.3, 0.0, Book(), pool, MARKETS, loose).accepted


def test_marked_at_must_be_given_and_timezone_aware(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        ledger.deposit(conn, D(10), "seed")
        with pytest.raises(ValueError, match="timezone"):
            ledger.mark_equity(conn, datetime(2025, 12, 15, 17), "naive")
        with pytest.raises(psycopg.errors.NotNullViolation):  # no wall-clock default any more
            conn.execute(
                "INSERT INTO ledger.equity_marks (cash, expected_payout, hedge_value, equity, reason) "
                "VALUES (1, 0, 0, 1, 'x')"
            )
