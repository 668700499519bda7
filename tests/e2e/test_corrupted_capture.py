"""A corrupt feed must stop at the ingest checks: nothing downstream (features, pricing) runs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from parlay.orchestration import DayOutcome, run_main_job
from tests.fakes.captures import CaptureWriter

pytestmark = pytest.mark.e2e

HOME = "KXNBAGAME-26MAR07CCCDDD-DDD"
AWAY = "KXNBAGAME-26MAR07CCCDDD-CCC"
DAY = "2026-03-07"


def game(corrupt: bool) -> CaptureWriter:
    w = CaptureWriter(shape="both")
    w.snapshot(HOME, HOME, [(40, 100), (41, 50)], [(57, 80)])
    w.snapshot(AWAY, AWAY, [(57, 70)], [(41, 60)])
    for i in range(240):
        w.delta(HOME, HOME, "yes", 41, 3 if i % 2 else -3)
        w.delta(AWAY, AWAY, "no", 41, 2 if i % 2 else -2)
        if i % 4 == 0:
            tid = w.trade(HOME, HOME, 42, 5)
            w.trade(AWAY, AWAY, 58, 4, taker="no")
            w.tick(60)
    if corrupt:
        # a crossed snapshot, a price of $1.20, and a trade id seen twice
        w.message(HOME, {"type": "orderbook_snapshot", "sid": 1, "seq": 10_000, "msg": {
            "market_ticker": HOME, "yes_dollars_fp": [["0.7000", "10.00"]], "no_dollars_fp": [["0.6000", "10.00"]]}})
        w.message(HOME, {"type": "orderbook_delta", "sid": 1, "seq": 10_001, "msg": {
            "market_ticker": HOME, "price_dollars": "1.2000", "delta_fp": "5.00", "side": "yes",
            "ts": w.tick(1).isoformat().replace("+00:00", "Z")}})
        w.trade(HOME, HOME, 43, 1, trade_id=tid)
    w.trade(HOME, HOME, 1, 10)
    w.trade(AWAY, AWAY, 99, 10)
    return w


def run_main(tmp_path: Path, monkeypatch, url: str, corrupt: bool) -> DayOutcome:
    """The CLI's main-job path (all three phases), without the synthetic experiments (group evaluation)."""
    captures = tmp_path / ("bad" if corrupt else "good")
    game(corrupt).write(captures)
    for key, value in {
        "PARLAY_DATABASE_URL": url, "PARLAY_SOURCE": "recorded", "PARLAY_CAPTURES_DIR": str(captures),
        "PARLAY_STORAGE_URL": str(tmp_path / "lake"),
    }.items():
        monkeypatch.setenv(key, value)
    from dagster_project.assets import ingest

    ingest._cached_source.cache_clear()
    (outcome,) = run_main_job("recorded", [date.fromisoformat(DAY)], [captures], log=lambda _: None,
                              instance=dg.DagsterInstance.ephemeral(), exclude_groups=("evaluation",))
    return outcome


def materialized(outcome: DayOutcome) -> set[str]:
    return {k.split("[")[0] for k in outcome.materialized}


def failed_checks(outcome: DayOutcome) -> set[str]:
    # freshness is judged against the data's own clock, so a replay of 2026-03-07 is not late: nothing left out
    return {c.rsplit(" (", 1)[0] for c in outcome.failed_checks}


def test_corrupt_capture_fails_the_blocking_checks_and_stops_downstream(tmp_path, monkeypatch,
                                                                        fresh_database_url) -> None:
    result = run_main(tmp_path, monkeypatch, fresh_database_url, corrupt=True)
    assert not result.success, result
    assert {"raw/orderbook_deltas:no_corrupt_book_messages", "raw/trades:no_corrupt_trades"} <= failed_checks(result)
    done = materialized(result)
    assert "raw/trades" in done and "raw/orderbook_tops" in done  # ingest ran and quarantined the bad records
    assert not any(k.startswith(("marts/", "pricing/", "risk/", "hedging/", "ledger/")) for k in done), done
    assert "pricing/ising_models" in result.not_materialized and "hedging/orders" in result.not_materialized


def test_clean_capture_passes_every_check(tmp_path, monkeypatch, fresh_database_url) -> None:
    result = run_main(tmp_path, monkeypatch, fresh_database_url, corrupt=False)
    assert result.success, (result.failed_steps, result.failed_checks)
    # the capture holds no combo trades, so no settled parlays are held back: calibration is a failed warning
    # ("no data"), never a pass; every other check passes
    assert failed_checks(result) == {"pricing/ensemble:ensemble_calibrated"}
    done = materialized(result)
    assert {"marts/book_snapshots", "marts/binary_variables", "marts/combo_features", "pricing/ising_models",
            "pricing/ensemble", "risk/listed_quotes", "hedging/orders", "ledger/pnl"} <= done
    # one game: its two moneylines are complements, so every 2-leg bet is impossible or a duplicate
    assert result.metadata["ledger/pnl"]["trial_balance"] == 0
    # every check result (dbt tests included) attaches to its partition: the day, or the game cluster of a fit
    unattached = {c: p for c, p in result.check_partitions.items()
                  if p != DAY and not (c.startswith("pricing/ising_models:") and p == "26MAR07CCCDDD")}
    assert result.check_partitions and not unattached, unattached


def test_a_failed_fit_stops_quotes_and_hedges(tmp_path, monkeypatch, fresh_database_url) -> None:
    """A fit whose inference did not converge fails its blocking check: no ensemble, no bets, no hedges."""
    import dataclasses

    from parlay import pricing_runtime

    real_fit = pricing_runtime.fit_cluster

    def non_converged_fit(*args, **kwargs):  # type: ignore[no-untyped-def]
        return dataclasses.replace(real_fit(*args, **kwargs), converged=False)

    monkeypatch.setattr(pricing_runtime, "fit_cluster", non_converged_fit)
    result = run_main(tmp_path, monkeypatch, fresh_database_url, corrupt=False)
    assert not result.success
    assert any(c.startswith("pricing/ising_models:fit_converged") for c in result.failed_checks), result.failed_checks
    done = materialized(result)
    assert "pricing/ising_models" in done
    assert not any(k.startswith(("risk/", "hedging/", "ledger/")) or k == "pricing/ensemble" for k in done), done
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM ledger.hedge_orders").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM pricing.ensembles").fetchone()[0] == 0
