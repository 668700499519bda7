"""The LP drawdown guardrail is live: the pipeline marks the pool's equity over the replayed day, a day whose
bettors win breaches the limit, and then the pipeline, the simulated bettors and the API halt with
``lp_drawdown``."""

from __future__ import annotations

import functools
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import dagster as dg
import psycopg
import pytest
from fastapi.testclient import TestClient

from dagster_project.assets import book
from dagster_project.partitions import register_days
from dagster_project.resources import ExecutionResource, LakeResource, WarehouseResource
from models.risk import RiskConfig
from parlay import apikeys, book_runtime, ledger
from parlay.apikeys import ScryptParams
from tests.e2e.conftest import MainJobDay, copy_of_database

pytestmark = pytest.mark.e2e

LIMIT = 0.02  # a tight drawdown limit: 2 % of LP equity ($2,000 of the $100,000 pool)
LEDGER_TABLES = (
    "entries",
    "transactions",
    "accounts",
    "fills",
    "hedge_orders",
    "hedge_settlements",
    "bet_legs",
    "bets",
    "quotes",
    "market_settlements",
    "equity_marks",
)


def marks_per_hour(conn: psycopg.Connection, day) -> dict:  # type: ignore[no-untyped-def]
    """Equity marks of ``day`` per clock hour of its replayed span (first to last book)."""
    start, end = book_runtime.trading_day_span(conn, day)
    counts = Counter(
        r[0]
        for r in conn.execute(
            "SELECT date_trunc('hour', marked_at) FROM ledger.equity_marks WHERE trading_day = %s", (day,)
        )
    )
    hour, out = start.replace(minute=0, second=0, microsecond=0), {}
    while hour <= end:
        out[hour] = counts.get(hour, 0)
        hour += timedelta(hours=1)
    return out


def test_the_main_job_marks_equity_at_least_hourly_over_the_replayed_day(main_job_day: MainJobDay) -> None:
    assert main_job_day.outcome.success, main_job_day.outcome.failed_steps
    day = main_job_day.day
    with psycopg.connect(main_job_day.database_url) as conn:
        per_hour = marks_per_hour(conn, day)
        hedged_at = book_runtime.hedge_time(conn, day)
        settled_at = book_runtime.settlement_time(conn, day)
        marks = ledger.equity_marks(conn, day)
        rebalances = [m for m in marks if m.reason.startswith("rebalance ")]
        final = ledger.pool_state(conn)
    print("equity marks per hour of", day, {h.strftime("%H:%M"): n for h, n in per_hour.items()})
    assert per_hour and min(per_hour.values()) >= 1, per_hour
    # replayed instants of the simulated day, not the wall clock of the run
    assert all(abs(m.marked_at - hedged_at) < timedelta(days=2) for m in marks)
    assert [m.marked_at for m in rebalances] == [hedged_at]
    assert rebalances[0].expected_payout > 0 and rebalances[0].hedge_value > 0
    assert marks[-1].reason == "settlement" and marks[-1].marked_at == settled_at
    assert marks[-1].expected_payout == 0 and marks[-1].equity == marks[-1].cash  # every bet settled
    assert final.equity == marks[-1].equity and final.peak_equity == max(m.equity for m in marks)
    md = main_job_day.outcome.metadata
    assert md["risk/limits"]["halted"] is False and md["risk/limits"]["halt_reason"] is None
    assert md["ledger/settlements"]["equity_marks_of_day"] == len(marks)


def _informed_legs(results: dict[str, str]):  # type: ignore[no-untyped-def]
    """Bettors who know how the replayed games end: the usual picks, each on the side that won."""
    from parlay import bettors

    usual = bettors.bettor_legs

    def pick(pricer, rng, cfg):  # type: ignore[no-untyped-def]
        return [(t, results.get(t, side)) for t, side in usual(pricer, rng, cfg)]

    return pick


def _materialize(assets: list, url: str, lake: str, day: str) -> dg.ExecuteInProcessResult:
    instance = dg.DagsterInstance.ephemeral()
    register_days(instance, [day])
    return dg.materialize(
        assets,
        partition_key=day,
        instance=instance,
        raise_on_error=False,
        resources={
            "warehouse": WarehouseResource(database_url=url),
            "lake": LakeResource(storage_url=lake),
            "execution": ExecutionResource(venue_name="paper"),
        },
    )


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, object]]:
    out = {}
    for event in result.get_asset_materialization_events():
        md = event.materialization.metadata
        out[event.materialization.asset_key.to_user_string()] = {k: getattr(v, "value", v) for k, v in md.items()}
    return out


def test_winning_bettors_breach_the_drawdown_limit_and_quoting_halts_with_lp_drawdown(
    main_job_day: MainJobDay, pg_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from parlay import bettors
    from service.app import create_app
    from service.settings import ServiceSettings

    day, lake = main_job_day.day, main_job_day.storage_url
    with copy_of_database(pg_server, main_job_day.database_url, prefix="parlay_drawdown") as url:
        with psycopg.connect(url) as conn:  # the day's markets and models stay; the book starts over
            conn.execute(
                f"TRUNCATE {', '.join('ledger.' + t for t in LEDGER_TABLES)}, risk.listed_quotes, "
                "risk.limit_snapshots, risk.quote_reservations"
            )
            results = dict(
                conn.execute("SELECT market_ticker, result FROM marts.markets WHERE result IN ('yes', 'no')").fetchall()
            )
            conn.commit()
        monkeypatch.setenv("PARLAY_RISK_MAX_DRAWDOWN", str(LIMIT))
        monkeypatch.setenv("PARLAY_DATABASE_URL", url)
        monkeypatch.setattr(bettors, "bettor_legs", _informed_legs(results))
        usual_config = bettors.BettorConfig
        monkeypatch.setattr(bettors, "BettorConfig", functools.partial(usual_config, stakes=(100, 200, 500)))

        # the day replayed with bettors who know the results and stake big: limits, bets, hedges, settlement, P&L
        first = _materialize([*book.ASSETS, *book.CHECKS], url, lake, day.isoformat())
        assert first.success
        md = _metadata(first)
        assert md["risk/limits"]["halted"] is False  # the pool starts at its peak
        placed = md["risk/simulated_bets"]["bets_placed"]
        assert placed >= 20 and md["risk/simulated_bets"]["halted"] is False, md["risk/simulated_bets"]
        settled = md["ledger/settlements"]
        assert settled["bets_won"] == placed and settled["bets_lost"] == 0, settled
        assert settled["halted"] is True and settled["halt_reason"] == "lp_drawdown", settled
        assert settled["drawdown"] > LIMIT
        with psycopg.connect(url) as conn:
            pool = ledger.pool_state(conn)
            marks = ledger.equity_marks(conn, day)
            per_hour = marks_per_hour(conn, day)
            hedged_at = book_runtime.hedge_time(conn, day)
            legs = conn.execute(
                "SELECT legs FROM ledger.quotes q JOIN ledger.bets b USING (quote_id) ORDER BY b.placed_at LIMIT 1"
            ).fetchone()[0]
        assert min(per_hour.values()) >= 1
        peak = max(m.equity for m in marks)
        assert pool.peak_equity == peak and pool.equity == marks[-1].equity < peak * Decimal(1 - LIMIT)
        print(
            f"drawdown after the winning day: {pool.drawdown:.2%} (peak {peak}, equity {pool.equity}, "
            f"{placed} bets won, house P&L {md['ledger/pnl']['house_pnl_from_bets']})"
        )

        # the pipeline afterwards: limits halted, no listed combo quotable, a new wave of bettors refused
        monkeypatch.setattr(bettors, "BettorConfig", functools.partial(usual_config, seed=12))
        second = _materialize([book.limits, book.listed_quotes, book.simulated_bets], url, lake, day.isoformat())
        assert second.success
        md = _metadata(second)
        limits = md["risk/limits"]
        assert limits["halted"] is True and limits["halt_reason"] == "lp_drawdown" and limits["quotes_halted"]
        assert limits["drawdown"] == pytest.approx(pool.drawdown)
        quotes = md["risk/listed_quotes"]
        assert quotes["halted"] is True and quotes["halt_reason"] == "lp_drawdown"
        if quotes["combos"]:
            assert quotes["quotable"] == 0 and quotes["by_rule"].get("lp_drawdown", 0) > 0, quotes["by_rule"]
        wave = md["risk/simulated_bets"]
        assert wave["bets_placed"] == 0 and wave["halted"] is True and wave["halt_reason"] == "lp_drawdown"
        assert wave["refused_by_rule"].get("lp_drawdown") == wave["refused_after_halt"] > 0, wave
        print(f"second wave: {wave['attempts']} bettors, refused {wave['refused_by_rule']}")

        # the API afterwards: a quote is refused with lp_drawdown (409), and so is a bet on a quote given before
        with psycopg.connect(url) as conn:
            key = apikeys.create_api_key(conn, "drawdown-test", params=ScryptParams(log2_n=10))
            conn.commit()
        settings = {
            "database_url": url,
            "storage_url": lake,
            "trading_day": day,
            "as_of": hedged_at,
            "live": False,
            "redis_enabled": False,
            "start_private_redis": False,
            "quote_ttl_s": 600.0,
        }
        headers = {"X-API-Key": key.api_key}
        body = {"legs": [{"ticker": leg["ticker"], "side": leg["side"]} for leg in legs], "stake": 10}
        with TestClient(create_app(ServiceSettings(**settings, risk=RiskConfig(max_drawdown=0.99)))) as loose:
            before = loose.post("/quotes", json=body, headers=headers)
        assert before.status_code == 201, before.text
        with TestClient(create_app(ServiceSettings(**settings, risk=RiskConfig(max_drawdown=LIMIT)))) as api:
            refused = api.post("/quotes", json=body, headers=headers)
            bet = api.post(
                "/bets",
                json={"quote_id": before.json()["quote_id"], "stake": "10.00", "idempotency_key": "after-the-halt"},
                headers=headers,
            )
        assert refused.status_code == 409 and refused.json()["code"] == "lp_drawdown", refused.text
        assert "below its peak" in refused.json()["reason"]
        assert bet.status_code == 409 and bet.json()["code"] == "lp_drawdown", bet.text
        with psycopg.connect(url) as conn:
            assert (
                conn.execute("SELECT count(*) FROM ledger.bets WHERE idempotency_key = 'after-the-halt'").fetchone()[0]
                == 0
            )
