"""The ledger on a real Postgres: balances, idempotency, concurrency against one limit, crash safety."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from models.risk import Book, MarketDef, PoolState, RiskConfig, evaluate
from parlay import ledger
from parlay.ledger import BetRejected, StoredQuote

pytestmark = pytest.mark.integration

MARKETS = {
    "G-HOME": MarketDef("G-HOME", (("G.home", True),)),
    "G-AWAY": MarketDef("G-AWAY", (("G.home", False),)),
    "K-A": MarketDef("K-A", (("K.a", True),)),
}


def quote(conn: psycopg.Connection, legs, stake=Decimal(10), prob=0.45) -> StoredQuote:
    q = StoredQuote(ledger.new_id("q"), tuple(legs), stake, prob, 0.0, 0.02, Decimal("0.47"),
                    (stake / Decimal("0.47")).quantize(Decimal("0.01")), Decimal(100), "test",
                    datetime.now(UTC) + timedelta(minutes=1), None)
    ledger.store_quote(conn, q)
    conn.commit()
    return q


def checker(q: StoredQuote, stake: Decimal, cfg: RiskConfig):
    def check(book: Book, pool: PoolState):
        return evaluate(q.legs, stake, q.probability, q.uncertainty, book, pool, MARKETS, cfg)
    return check


def test_place_settle_and_balance_to_the_cent(fresh_database_url: str) -> None:
    cfg = RiskConfig()
    with psycopg.connect(fresh_database_url) as conn:
        ledger.deposit(conn, Decimal(1000), "seed")
        ledger.deposit(conn, Decimal(1000), "seed")  # retried deposit: no double money
        q1 = quote(conn, [("G-HOME", "yes")])
        q2 = quote(conn, [("G-AWAY", "yes"), ("K-A", "yes")])
        b1 = ledger.place_bet(conn, q1, Decimal(10), "k1", None, checker(q1, Decimal(10), cfg))
        again = ledger.place_bet(conn, q1, Decimal(10), "k1", None, checker(q1, Decimal(10), cfg))
        assert again.bet_id == b1.bet_id and not again.created
        b2 = ledger.place_bet(conn, q2, Decimal(20), "k2", None, checker(q2, Decimal(20), cfg))
        bal = ledger.balances(conn)
        assert bal["pool:cash"] == Decimal(1030) and bal["bettors:stakes"] == Decimal(-30)
        report = ledger.settle(conn, {"G-HOME": "yes", "G-AWAY": "no"})
        assert (report.bets_won, report.bets_lost) == (1, 1)
        assert ledger.settle(conn, {"G-HOME": "yes", "G-AWAY": "no"}).bets_won == 0  # idempotent
        bal = ledger.balances(conn)
        assert bal["pool:cash"] == Decimal(1030) - b1.payout
        assert bal["bettors:stakes"] == 0 and bal["pool:reserve"] == 0
        assert ledger.trial_balance(conn) == 0 and ledger.unbalanced_transactions(conn) == []
        assert ledger.get_bet(conn, b2.bet_id).state == "lost"


def test_rejected_bet_writes_nothing(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        ledger.deposit(conn, Decimal(100), "seed")
        q = quote(conn, [("G-HOME", "yes"), ("G-AWAY", "yes")])
        with pytest.raises(BetRejected, match="impossible_combo"):
            ledger.place_bet(conn, q, Decimal(10), "k", None, checker(q, Decimal(10), RiskConfig()))
        assert conn.execute("SELECT count(*) FROM ledger.bets").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM ledger.transactions").fetchone()[0] == 1


def test_concurrent_bets_never_exceed_the_limit(fresh_database_url: str) -> None:
    """200 placements racing on 40 connections against one exposure limit."""
    from concurrent.futures import ThreadPoolExecutor

    cfg = RiskConfig(max_market_exposure=Decimal(1000), max_stake=Decimal(100))
    with psycopg.connect(fresh_database_url) as conn:
        ledger.deposit(conn, Decimal(100_000), "seed")
        q = quote(conn, [("G-HOME", "yes")])
    local = threading.local()

    def place(i: int) -> tuple[str, Decimal | str]:
        if not hasattr(local, "conn"):
            local.conn = psycopg.connect(fresh_database_url)
        try:
            bet = ledger.place_bet(local.conn, q, Decimal(10), f"k{i}", None, checker(q, Decimal(10), cfg))
            return "ok", bet.payout
        except BetRejected as exc:
            return "rejected", exc.decision.rule or ""

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(place, range(200), timeout=300))
    accepted = [v for k, v in results if k == "ok"]
    rejected = [v for k, v in results if k == "rejected"]
    assert sum(accepted) <= Decimal(1000)
    assert len(accepted) == 47  # price 0.45 + 2¢ margin = 0.47, payout 21.27: 47 fit under 1000
    assert set(rejected) == {"market_exposure_limit"} and len(rejected) == 153
    with psycopg.connect(fresh_database_url) as conn:
        assert ledger.trial_balance(conn) == 0
        assert conn.execute("SELECT sum(payout) FROM ledger.bets").fetchone()[0] == sum(accepted)


def test_killed_connection_mid_bet_leaves_nothing_half_written(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        ledger.deposit(conn, Decimal(1000), "seed")
        q = quote(conn, [("K-A", "yes")])
    victim = psycopg.connect(fresh_database_url)
    pid = victim.info.backend_pid

    def check_then_die(book: Book, pool: PoolState):
        # the bet rows are about to be written inside the transaction: kill the session now
        with psycopg.connect(fresh_database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return evaluate(q.legs, Decimal(10), q.probability, 0.0, book, pool, MARKETS, RiskConfig())

    with pytest.raises(psycopg.OperationalError):
        ledger.place_bet(victim, q, Decimal(10), "dies", None, check_then_die)
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM ledger.bets").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM ledger.entries").fetchone()[0] == 2  # the deposit only
        retry = ledger.place_bet(conn, q, Decimal(10), "dies", None,
                                 lambda b, p: evaluate(q.legs, Decimal(10), q.probability, 0.0, b, p, MARKETS,
                                                       RiskConfig()))
        assert retry.created and ledger.trial_balance(conn) == 0


def test_killed_connection_mid_settlement_then_retry_settles_once(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        ledger.deposit(conn, Decimal(1000), "seed")
        q = quote(conn, [("K-A", "yes")])
        ledger.place_bet(conn, q, Decimal(10), "k", None, checker(q, Decimal(10), RiskConfig()))
    victim = psycopg.connect(fresh_database_url)
    pid = victim.info.backend_pid
    with psycopg.connect(fresh_database_url, autocommit=True) as admin:
        # hold the settlement lock so the victim blocks inside its transaction, then kill it there
        holder = psycopg.connect(fresh_database_url)
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (ledger.SETTLEMENT_LOCK,))
        errors: list[BaseException] = []

        def settle_in_victim() -> None:
            try:
                ledger.settle(victim, {"K-A": "yes"})
            except BaseException as exc:
                errors.append(exc)

        t = threading.Thread(target=settle_in_victim)
        t.start()
        import time

        for _ in range(100):
            waiting = admin.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
            if waiting and waiting[0] == "Lock":
                break
            time.sleep(0.05)
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        t.join()
        assert len(errors) == 1 and isinstance(errors[0], psycopg.OperationalError), errors
        holder.rollback()
        holder.close()
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT state FROM ledger.bets").fetchone()[0] == "open"
        assert ledger.settle(conn, {"K-A": "yes"}).bets_won == 1
        assert ledger.settle(conn, {"K-A": "yes"}).bets_won == 0
        assert conn.execute("SELECT count(*) FROM ledger.transactions WHERE kind = 'bet_settled'").fetchone()[0] == 1
        assert ledger.trial_balance(conn) == 0


def test_fills_and_hedge_settlement_close_positions(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        ledger.deposit(conn, Decimal(1000), "seed")
        order = ledger.OrderRecord("pmm-1", "paper", "K-A", "yes", "buy", Decimal(10), Decimal("0.50"), "p", "t")
        assert ledger.record_order(conn, order) and not ledger.record_order(conn, order)
        now = datetime.now(UTC)
        assert ledger.record_fill(conn, "f1", "pmm-1", "K-A", "yes", "buy", Decimal(6), Decimal("0.48"),
                                  Decimal("0.18"), now)
        assert not ledger.record_fill(conn, "f1", "pmm-1", "K-A", "yes", "buy", Decimal(6), Decimal("0.48"),
                                      Decimal("0.18"), now)
        assert conn.execute("SELECT state, filled_count FROM ledger.hedge_orders").fetchone() == (
            "partially_filled", Decimal("6.00"))
        assert ledger.settle(conn, {"K-A": "yes"}).hedges_closed == 1
        bal = ledger.balances(conn)
        assert bal["hedge:K-A:yes"] == 0
        assert bal["pool:cash"] == Decimal(1000) - Decimal("2.88") - Decimal("0.18") + Decimal(6)
        assert ledger.trial_balance(conn) == 0
