"""The quote engine's risk rules on real Postgres: exposure per outcome, closed markets at placement, the
last look, and open quotes reserving capacity."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import psycopg
import pytest

from models.pricing.ensemble import ClusterModel, EnsemblePricer
from models.pricing.ising import InferenceConfig, IsingModel
from models.pricing.quotes import MarketInfo
from models.pricing.replay import LiteralMap, MarketLiterals
from models.risk import BookBet, RiskConfig, outcome_exposure, worst_case_payout
from parlay import ledger
from service.app import ServiceRuntime
from service.bench import seed_database
from service.errors import ApiError
from service.quoting import BetOut, BetRequest, LegIn, QuoteOut, QuoteRequest
from service.settings import ServiceSettings
from service.state import open_reservations
from tests.integration.test_service_api import FAST_SCRYPT

pytestmark = pytest.mark.integration


def game_pricer(version: str = "g1", fields: tuple[float, float, float] = (0.1, -0.2, 0.3)) -> EnsemblePricer:
    """One game: DET wins (v0) and MIL wins (its complement, not v0), an over (v1) and a player prop (v2)."""
    model = IsingModel(np.array(fields), np.zeros((3, 3)), InferenceConfig())
    cm = ClusterModel("G1", ("v0", "v1", "v2"), model, None)
    rows = [
        MarketLiterals("G1-DET", "G1", ((0, True),), ("v0",), "G1-MIL"),
        MarketLiterals("G1-MIL", "G1", ((0, False),), ("v0",), "G1-DET"),
        MarketLiterals("G1-OVER", "G1", ((1, True),), ("v1",)),
        MarketLiterals("G1-PROP", "G1", ((2, True),), ("v2",)),
    ]
    info = {
        r.market_ticker: MarketInfo(r.market_ticker, "G1", "G1", r.market_ticker, "Yes", "No", 0.5, 0.5, "active")
        for r in rows
    }
    return EnsemblePricer(
        {"G1": cm}, LiteralMap({r.market_ticker: r for r in rows}, {"G1": cm.variables}), info, version=version
    )


@dataclass
class Engine:
    runtime: ServiceRuntime
    key_id: str
    url: str

    def quote(self, legs: list[tuple[str, str]], stake: Decimal | int) -> QuoteOut:
        self.runtime.risk_state.refresh_now()
        return self.runtime.engine.quote(
            QuoteRequest(legs=[LegIn(ticker=t, side=s) for t, s in legs], stake=Decimal(stake)), self.key_id
        )

    def bet(self, quote: QuoteOut, key: str, stake: Decimal | None = None) -> BetOut:
        return self.runtime.engine.place(
            BetRequest(quote_id=quote.quote_id, stake=stake if stake is not None else quote.stake, idempotency_key=key),
            self.key_id,
        )

    def count(self, sql: str) -> int:
        with psycopg.connect(self.url) as conn:
            return int(conn.execute(sql).fetchone()[0])


def make_engine(
    url: str,
    storage: Path,
    pricer: EnsemblePricer | None = None,
    lp_capital: Decimal = Decimal(1_000_000),
    snapshot_at: datetime | None = None,
    **settings: object,
) -> Engine:
    key = seed_database(url, str(storage), pricer or game_pricer(), lp_capital=lp_capital, scrypt=FAST_SCRYPT,
                        snapshot_at=snapshot_at)
    values: dict[str, object] = {
        "database_url": url,
        "storage_url": str(storage),
        "live": False,
        "redis_enabled": False,
    }
    values.update(settings)
    return Engine(ServiceRuntime(ServiceSettings(**values)), key.key_id, url)  # type: ignore[arg-type]


@pytest.fixture
def engine_factory(fresh_database_url: str, tmp_path: Path) -> Iterator:
    made: list[Engine] = []

    def make(pricer: EnsemblePricer | None = None, **settings: object) -> Engine:
        e = make_engine(fresh_database_url, tmp_path, pricer, **settings)
        made.append(e)
        return e

    yield make
    for e in made:
        e.runtime.close()


# ----------------------------------------------------------------------------- exposure per outcome


def test_mil_no_counts_as_det_yes(engine_factory) -> None:
    """With DET YES at its limit, bets on MIL NO (the same event) are refused by quote and by bet."""
    e = engine_factory(risk=RiskConfig(max_market_exposure=Decimal(250), max_stake=Decimal(1000)))
    q = e.quote([("G1-DET", "yes"), ("G1-OVER", "yes")], 65)
    e.bet(q, "det-1")
    room = Decimal(250) - q.payout
    assert 0 < room < 30, (q.price, q.payout, q.max_stake)
    # G1-MIL NO has no bet on its ticker, but it is the outcome DET YES, which has ``room`` left
    with pytest.raises(ApiError) as refused:
        e.quote([("G1-MIL", "no"), ("G1-PROP", "yes")], 20)
    assert refused.value.code == "market_exposure_limit", refused.value
    assert "G1/v0 = yes" in refused.value.message
    assert Decimal(refused.value.details["max_stake"]) <= room
    assert e.count("SELECT count(*) FROM ledger.bets") == 1
    # MIL YES is the other outcome: all its room is left
    e.bet(e.quote([("G1-MIL", "yes"), ("G1-PROP", "yes")], 50), "mil-yes")
    with psycopg.connect(e.url) as conn:
        owed_if_det = conn.execute(
            """SELECT coalesce(sum(b.payout), 0) FROM ledger.bets b WHERE EXISTS (
                 SELECT 1 FROM ledger.bet_legs l WHERE l.bet_id = b.bet_id
                 AND ((l.market_ticker = 'G1-DET' AND l.side = 'yes')
                      OR (l.market_ticker = 'G1-MIL' AND l.side = 'no')))"""
        ).fetchone()[0]
    assert owed_if_det <= Decimal(250)


# ----------------------------------------------------------------------------- closed markets at placement


def _market_row(conn: psycopg.Connection, ticker: str, status: str, result: str | None = None) -> None:
    conn.execute(
        """INSERT INTO raw.markets (ticker, event_ticker, status, result, source) VALUES (%s, 'G1', %s, %s, 'test')
           ON CONFLICT (ticker) DO UPDATE SET status = excluded.status, result = excluded.result""",
        (ticker, status, result),
    )


def _ledger_rows(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        return tuple(
            int(conn.execute(f"SELECT count(*) FROM ledger.{t}").fetchone()[0])  # type: ignore[return-value]
            for t in ("bets", "bet_legs", "entries")
        )


@pytest.mark.parametrize("how", ["closed", "settled_on_kalshi", "settled_in_ledger"])
def test_no_bet_on_a_market_closed_after_the_quote(engine_factory, how: str) -> None:
    e = engine_factory()
    with psycopg.connect(e.url) as conn:
        _market_row(conn, "G1-OVER", "active")
    q = e.quote([("G1-DET", "yes"), ("G1-OVER", "yes")], 10)
    before = _ledger_rows(e.url)
    with psycopg.connect(e.url) as conn:
        if how == "closed":
            _market_row(conn, "G1-OVER", "closed")
        elif how == "settled_on_kalshi":
            _market_row(conn, "G1-OVER", "finalized", "yes")
        else:
            conn.execute("INSERT INTO ledger.market_settlements (market_ticker, result) VALUES ('G1-OVER', 'no')")
    with pytest.raises(ApiError) as refused:
        e.bet(q, f"closed-{how}")
    assert refused.value.status == 409 and refused.value.code == "market_closed", refused.value
    assert refused.value.details == {"ticker": "G1-OVER"}
    assert _ledger_rows(e.url) == before


def test_closed_market_refusal_over_http(fresh_database_url: str, tmp_path: Path) -> None:
    from tests.integration.test_service_api import drop_prefix, legs, make_service

    client, key, _, _, prefix = make_service(fresh_database_url, tmp_path, pricer=game_pricer())
    h = {"X-API-Key": key.api_key}
    with client:
        r = client.post("/quotes", json={"legs": legs(("G1-DET", "yes"), ("G1-PROP", "no")), "stake": 10}, headers=h)
        assert r.status_code == 201, r.text
        with psycopg.connect(fresh_database_url) as conn:
            _market_row(conn, "G1-PROP", "closed")
        r = client.post(
            "/bets", json={"quote_id": r.json()["quote_id"], "stake": 10, "idempotency_key": "late"}, headers=h
        )
    drop_prefix(prefix)
    assert r.status_code == 409 and r.json()["code"] == "market_closed", r.text
    assert _ledger_rows(fresh_database_url) == (0, 0, 2)  # only the pool's deposit


# ----------------------------------------------------------------------------- last look


def _new_model(e: Engine, storage: Path, fields: tuple[float, float, float]) -> None:
    from datetime import date

    from parlay.pricing_store import save_pricer

    with psycopg.connect(e.url) as conn:
        save_pricer(conn, str(storage), date.today(), game_pricer(f"g{fields}", fields))
    e.runtime.pricers.refresh_now()


def test_last_look_refuses_a_moved_price_and_offers_the_new_quote(engine_factory, tmp_path: Path) -> None:
    e = engine_factory()
    legs = [("G1-DET", "yes"), ("G1-OVER", "yes")]
    q = e.quote(legs, 10)
    _new_model(e, tmp_path, (0.9, -0.2, 0.3))  # DET's field moves: the parlay's fair probability jumps
    before = _ledger_rows(e.url)
    with pytest.raises(ApiError) as refused:
        e.bet(q, "moved")
    err = refused.value
    assert err.status == 409 and err.code == "price_moved", err
    assert err.details["quoted_probability"] == pytest.approx(q.probability)
    new = err.details["new_quote"]
    assert new is not None and new["quote_id"] != q.quote_id, err.details
    assert new["probability"] == pytest.approx(err.details["probability"])
    assert new["probability"] - q.probability > 0.02 and Decimal(new["price"]) > q.price
    assert _ledger_rows(e.url) == before
    # the offered quote is a real one: the bet goes through on it
    bet = e.runtime.engine.place(
        BetRequest(quote_id=new["quote_id"], stake=Decimal(10), idempotency_key="retry"), e.key_id
    )
    assert bet.created and bet.price == Decimal(new["price"])
    # a move within the tolerance (default 0.02) still takes the bet
    q2 = e.quote(legs, 10)
    _new_model(e, tmp_path, (0.92, -0.2, 0.3))
    moved = abs(e.runtime.pricers.get().pricer.quote(tuple(legs)).probability - q2.probability)
    assert 0 < moved < 0.02
    assert e.bet(q2, "small-move").created


def _book(conn: psycopg.Connection, ticker: str, ts: datetime) -> None:
    conn.execute(
        """INSERT INTO raw.orderbook_tops (market_ticker, ts, sid, seq, trading_day, event_kind, yes_bid, no_bid,
                  yes_depth_5c, no_depth_5c, yes_depth, no_depth, yes_levels, no_levels, reliable, crossed, source)
           VALUES (%s, %s, 1, 1, current_date, 'snapshot', 0.48, 0.50, 10, 10, 10, 10, 1, 1, true, false, 'test')""",
        (ticker, ts),
    )


def test_last_look_refuses_a_stale_book(engine_factory) -> None:
    e = engine_factory(live=True, max_market_data_age_s=60.0)
    now = datetime.now(UTC)
    with psycopg.connect(e.url) as conn:
        for t in ("G1-DET", "G1-PROP"):
            _book(conn, t, now)
    q = e.quote([("G1-DET", "yes"), ("G1-PROP", "yes")], 10)
    with psycopg.connect(e.url) as conn:  # the PROP book stops updating: its last update is now 10 minutes old
        conn.execute("UPDATE raw.orderbook_tops SET ts = ts - interval '10 minutes' WHERE market_ticker = 'G1-PROP'")
    before = _ledger_rows(e.url)
    with pytest.raises(ApiError) as refused:
        e.bet(q, "stale")
    err = refused.value
    assert err.status == 503 and err.code == "stale_market_data", err
    assert err.details["ticker"] == "G1-PROP"
    # no quote can be made on a stale book either: the offer says so
    assert err.details["new_quote"] is None
    assert err.details["new_quote_refused"]["code"] == "stale_market_data"
    assert _ledger_rows(e.url) == before
    # the book updates again: the same quote is taken
    with psycopg.connect(e.url) as conn:
        _book(conn, "G1-PROP", datetime.now(UTC))
    assert e.bet(q, "fresh-again").created


# ----------------------------------------------------------------------------- open quotes reserve capacity


def _open_quotes(conn: psycopg.Connection) -> list[BookBet]:
    """Unexpired quotes a key can take, with what is left of their payout (read from the quotes themselves)."""
    rows = conn.execute(
        """SELECT q.legs, q.payout - coalesce((SELECT sum(b.payout) FROM ledger.bets b
                                               WHERE b.quote_id = q.quote_id), 0)
           FROM ledger.quotes q WHERE q.expires_at > now() AND q.api_key_id IS NOT NULL"""
    ).fetchall()
    return [BookBet(tuple((leg["ticker"], leg["side"]) for leg in legs), left) for legs, left in rows if left > 0]


def test_200_concurrent_quotes_and_bets_never_breach_a_limit(fresh_database_url: str, tmp_path: Path) -> None:
    limit, utilization, capital = Decimal(1000), 0.5, Decimal(2400)  # LP capacity 1,200
    risk = RiskConfig(max_market_exposure=limit, lp_utilization=utilization, max_stake=Decimal(1000))
    e = make_engine(fresh_database_url, tmp_path, lp_capital=capital, risk=risk, db_pool_size=20, quote_ttl_s=600.0)
    combos = [
        [("G1-DET", "yes"), ("G1-OVER", "yes")],
        [("G1-MIL", "no"), ("G1-PROP", "yes")],
        [("G1-MIL", "yes"), ("G1-PROP", "no")],
        [("G1-OVER", "yes"), ("G1-PROP", "yes")],
        [("G1-MIL", "yes"), ("G1-OVER", "no")],
    ]
    engine = e.runtime.engine
    e.runtime.risk_state.refresh_now()

    def one(i: int) -> tuple[str, str]:
        legs = combos[i % len(combos)]
        try:
            q = engine.quote(QuoteRequest(legs=[LegIn(ticker=t, side=s) for t, s in legs], stake=Decimal(10)), e.key_id)
        except ApiError as exc:
            return "quote_refused", exc.code
        if i % 3 == 0:  # this bettor walks away: the quote stays open until it expires
            return "held", q.quote_id
        try:
            engine.place(BetRequest(quote_id=q.quote_id, stake=Decimal(10), idempotency_key=f"c{i}"), e.key_id)
        except ApiError as exc:
            return "bet_refused", exc.code
        return "bet", q.quote_id

    try:
        with ThreadPoolExecutor(max_workers=40) as pool:
            results = list(pool.map(one, range(200), timeout=600))
    finally:
        e.runtime.close()
    outcomes = Counter(kind for kind, _ in results)
    refusals = Counter(f"{kind}:{code}" for kind, code in results if kind.endswith("refused"))
    defs = game_pricer().market_defs()
    with psycopg.connect(fresh_database_url) as conn:
        bets = ledger.open_book(conn).bets
        held = _open_quotes(conn)
        cash = ledger.pool_state(conn).cash
        balance = ledger.trial_balance(conn)
    capacity = Decimal(repr(utilization)) * cash
    worst_bets = worst_case_payout(bets, defs).payout
    worst_all = worst_case_payout([*bets, *held], defs).payout
    exposure = outcome_exposure([*bets, *held], defs)
    figures = (
        f"{dict(outcomes)}, refusals {dict(refusals)}; {len(bets)} bets, {len(held)} open quotes; worst case "
        f"{worst_bets} (bets), {worst_all} (bets + open quotes) vs capacity {capacity}; largest outcome "
        f"exposure {max(exposure.values())} vs limit {limit}; trial balance {balance}"
    )
    print(figures)
    assert worst_bets <= capacity and worst_all <= capacity, figures
    assert max(exposure.values()) <= limit, figures
    assert outcomes["bet"] > 0 and outcomes["held"] > 0, figures
    assert outcomes["quote_refused"] > 0, figures  # the limits were reached, at quote time
    assert set(refusals) <= {"quote_refused:market_exposure_limit", "quote_refused:lp_capacity"}, figures
    assert outcomes["bet_refused"] == 0, figures  # every quote given out could be taken
    assert balance == 0, figures


def test_replay_mode_quotes_and_takes_bets(engine_factory) -> None:
    """As the simulated bettors run (as of an instant of the day, no wall-clock checks): quote, last look and
    bet go through, and the reservation is used up by the bet."""
    as_of = datetime.now(UTC)
    e = engine_factory(as_of=as_of, quote_ttl_s=300.0, snapshot_at=as_of - timedelta(hours=1))
    q = e.quote([("G1-DET", "yes"), ("G1-PROP", "no")], 10)
    assert e.bet(q, "replay").created
    assert e.count("SELECT count(*) FROM risk.quote_reservations") == 1
    with psycopg.connect(e.url) as conn:
        assert open_reservations(conn) == []


def test_replay_mode_has_no_model_before_its_first_snapshot(engine_factory) -> None:
    """Point in time: as of an instant before the fit's first snapshot, no model of the game exists yet, so
    its markets are not quotable (and the model fitted later is not used)."""
    as_of = datetime.now(UTC)
    e = engine_factory(as_of=as_of, snapshot_at=as_of + timedelta(hours=1))
    with pytest.raises(ApiError) as refused:
        e.quote([("G1-DET", "yes"), ("G1-PROP", "no")], 10)
    assert refused.value.code == "unknown_market", refused.value
