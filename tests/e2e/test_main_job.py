"""The main job on a simulated day ends with a book of bets, hedges and settlements whose ledger balances."""

from __future__ import annotations

from datetime import date

import dagster as dg
import psycopg
import pytest

from parlay import book_runtime
from parlay.orchestration import run_main_job

pytestmark = pytest.mark.e2e

DAY = date(2025, 12, 15)  # any day works on the simulated source (no calendar start)


def test_simulated_day_runs_end_to_end_and_the_ledger_balances(tmp_path, monkeypatch, fresh_database_url) -> None:
    monkeypatch.setenv("PARLAY_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("PARLAY_STORAGE_URL", str(tmp_path / "lake"))
    monkeypatch.delenv("PARLAY_EXECUTION_VENUE", raising=False)
    from dagster_project.assets import ingest

    ingest._cached_source.cache_clear()
    (out,) = run_main_job("simulated", [DAY], log=lambda _: None, instance=dg.DagsterInstance.ephemeral(),
                          exclude_groups=("evaluation",))
    assert out.success, (out.failed_steps, out.failed_checks)
    done = {k.split("[")[0] for k in out.materialized}
    assert {"pricing/ising_models", "pricing/copula", "pricing/ensemble", "risk/simulated_bets", "hedging/deltas",
            "hedging/orders", "hedging/fills",
            "ledger/settlements", "ledger/pnl"} <= done
    fits = [k for k in out.materialized if k.startswith("pricing/ising_models[")]
    assert len(fits) == 6  # one partition per simulated game
    bets = out.metadata["risk/simulated_bets"]
    assert bets["bets_placed"] >= 20, bets
    hedges = out.metadata["hedging/orders"]
    assert hedges["fills_booked"] > 0 and hedges["orders_failed"] == 0, hedges
    with psycopg.connect(fresh_database_url) as conn:
        summary = book_runtime.pnl(conn)
        open_bets = conn.execute("SELECT count(*) FROM ledger.bets WHERE state = 'open'").fetchone()[0]
        over_hedged = conn.execute(
            """SELECT count(*) FROM ledger.hedge_orders o
               WHERE o.count > (SELECT sum(b.payout) FROM ledger.bets b JOIN ledger.bet_legs l USING (bet_id)
                                WHERE l.market_ticker = o.market_ticker)""").fetchone()[0]
    assert summary["trial_balance"] == 0
    assert open_bets == 0  # every game of the simulated day settled
    assert sum(summary["bets"].values()) == bets["bets_placed"]
    assert over_hedged == 0  # a hedge never covers the full payout on a market
    assert out.metadata["ledger/pnl"]["trial_balance"] == 0
