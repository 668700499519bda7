"""Monitoring: the four monitoring/* assets of the main job's simulated day (tables, plots, checks), `parlay report`,
and the sensor that pauses the hedge schedule on a failed ERROR check."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
import pytest

from dagster_project import automation
from dagster_project.definitions import defs
from dagster_project.partitions import DAILY, register_days
from dagster_project.resources import WarehouseResource
from parlay.orchestration import DayOutcome, _collect, stopped
from tests.e2e.conftest import MainJobDay

pytestmark = pytest.mark.e2e
PARLAY = str(Path(sys.executable).with_name("parlay"))
MONITORING = ["monitoring/pnl", "monitoring/lp_pool", "monitoring/hedge_quality", "monitoring/model_drift"]
TABLES = [
    "pnl",
    "lp_pool",
    "hedge_quality",
    "hedge_summary",
    "calibration",
    "reliability",
    "parameter_drift",
    "feature_drift",
    "check_results",
]


def test_main_job_materializes_monitoring_with_tables_and_plots(main_job_day: MainJobDay) -> None:
    out = main_job_day.outcome
    assert out.success, (out.failed_steps, out.failed_checks)
    assert set(MONITORING) <= set(out.materialized)
    for key in MONITORING:
        meta = out.metadata[key]
        assert meta["dagster/row_count"] > 0, key
        plots = [v for k, v in meta.items() if "plot" in k]
        assert plots and all(str(p).startswith("![") and "/parlay/plots/" in str(p) for p in plots), key
        table = meta["table"]
        assert table.schema.columns and table.records, key  # MetadataValue.table with a TableSchema
        png = Path(main_job_day.storage_url) / "plots" / str(plots[0]).split("/parlay/plots/")[1].rstrip(")")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    checks = {c.split(" ")[0] for c in out.passed_checks + out.failed_checks if c.startswith("monitoring/")}
    assert checks == {
        "monitoring/lp_pool:drawdown_near_limit",
        "monitoring/hedge_quality:fill_ratio_floor",
        "monitoring/hedge_quality:slippage_ceiling",
        "monitoring/model_drift:calibration_vs_recent",
        "monitoring/model_drift:feature_psi",
    }
    with psycopg.connect(main_job_day.database_url) as conn:
        for table in TABLES:
            n = conn.execute(
                f"SELECT count(*) FROM monitoring.{table} WHERE trading_day = %s",
                (main_job_day.day,),
            ).fetchone()[0]
            assert n > 0, table
        hours = conn.execute(
            "SELECT count(DISTINCT hour) FROM monitoring.pnl WHERE trading_day = %s", (main_job_day.day,)
        ).fetchone()[0]
        final = conn.execute(
            """SELECT component, realized, unrealized FROM monitoring.pnl
               WHERE trading_day = %s AND cluster_id = 'total'
                 AND hour = (SELECT max(hour) FROM monitoring.pnl WHERE trading_day = %s)""",
            (main_job_day.day, main_job_day.day),
        ).fetchall()
        settled = conn.execute(
            "SELECT coalesce(sum(stake), 0) - coalesce(sum(payout) FILTER (WHERE state = 'won'), 0) "
            "FROM ledger.bets WHERE trading_day = %s",
            (main_job_day.day,),
        ).fetchone()[0]
        summary = conn.execute(
            "SELECT fill_ratio, effectiveness, settled_bets FROM monitoring.hedge_summary WHERE trading_day = %s",
            (main_job_day.day,),
        ).fetchone()
    assert hours >= 3
    by = {c: (r, u) for c, r, u in final}
    assert by["bets"] == (settled, 0)  # every bet settled by the day's last hour: all realized, as in the ledger
    assert summary[0] is not None and summary[2] > 0
    print(f"hedge effectiveness {summary[1]}")


def test_parlay_report_prints_the_days_summary(main_job_day: MainJobDay) -> None:
    env = {**os.environ, "PARLAY_DATABASE_URL": main_job_day.database_url}
    proc = subprocess.run(
        [PARLAY, "report", "--date", main_job_day.day.isoformat()],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    print(text)
    for head in ("Monitoring 2025-12-15", "P&L ", "LP pool ", "Hedges ", "Drift ", "Checks ", "Hedging "):
        assert head in text, head
    assert "fill ratio" in text and "max drawdown" in text and "Brier" in text
    assert len(text.splitlines()) <= 20  # readable in 30 seconds
    # the newest monitored day is the default; a day without monitoring is refused in one line
    assert (
        subprocess.run([PARLAY, "report"], capture_output=True, text=True, env=env, timeout=120, check=False).stdout
        == text
    )
    empty = subprocess.run(
        [PARLAY, "report", "--date", "2020-01-01"], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert empty.returncode == 1 and "no monitoring for 2020-01-01" in empty.stderr


# ----------------------------------------------------------------------------- checks and the halt sensor


def _failing_check(name: str, asset: str, severity: dg.AssetCheckSeverity):  # type: ignore[no-untyped-def]
    """A stand-in for a monitoring asset and one of its checks, failing at ``severity``."""

    @dg.asset(key=["monitoring", asset], partitions_def=DAILY)
    def stand_in() -> None:
        return None

    @dg.asset_check(asset=stand_in, name=name, partitions_def=DAILY, blocking=False)
    def check() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, severity=severity, description=f"{severity.value}: past the limit")

    return [stand_in, check]


def _sensor(instance: dg.DagsterInstance, url: str, cursor: str | None = None):  # type: ignore[no-untyped-def]
    ctx = dg.build_sensor_context(
        instance=instance, definitions=defs, cursor=cursor, resources={"warehouse": WarehouseResource(database_url=url)}
    )
    return automation.monitoring_halt_sensor.evaluate_tick(ctx)


def _hedge_tick(instance: dg.DagsterInstance, url: str):  # type: ignore[no-untyped-def]
    """A tick of the hedge schedule; it reads pauses from the warehouse of PARLAY_DATABASE_URL."""
    ctx = dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=datetime(2026, 3, 7, 20, 15, tzinfo=ZoneInfo("America/New_York")),
        repository_def=defs.get_repository_def(),
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PARLAY_DATABASE_URL", url)
        return automation.hedge_rebalance_schedule.evaluate_tick(ctx)


def test_failed_error_check_pauses_the_hedge_schedule_and_records_why(fresh_database_url: str) -> None:
    with dg.instance_for_test() as instance:
        register_days(instance, ["2026-03-07"])
        assert _hedge_tick(instance, fresh_database_url).run_requests  # not paused yet
        result = dg.materialize(
            _failing_check("drawdown_near_limit", "lp_pool", dg.AssetCheckSeverity.ERROR),
            instance=instance,
            partition_key="2026-03-07",
        )
        assert result.success  # a failed non-blocking check does not fail the run
        tick = _sensor(instance, fresh_database_url)
        assert "hedging paused" in (tick.skip_message or "")
        with psycopg.connect(fresh_database_url) as conn:
            rows = conn.execute(
                "SELECT trading_day::text, check_name, reason, run_id FROM monitoring.hedge_pauses "
                "WHERE resumed_at IS NULL"
            ).fetchall()
        assert rows == [
            ("2026-03-07", "monitoring/lp_pool:drawdown_near_limit", "ERROR: past the limit", result.run_id)
        ]
        skipped = _hedge_tick(instance, fresh_database_url)
        assert not skipped.run_requests
        assert "hedging paused" in skipped.skip_message and "drawdown_near_limit" in skipped.skip_message
        # the same failure is seen once: a second tick from the cursor records nothing new
        _sensor(instance, fresh_database_url, tick.cursor)
        with psycopg.connect(fresh_database_url) as conn:
            assert conn.execute("SELECT count(*) FROM monitoring.hedge_pauses").fetchone()[0] == 1
            from parlay.monitoring_runtime import resume_hedging

            assert resume_hedging(conn) == 1
        assert _hedge_tick(instance, fresh_database_url).run_requests  # resumed


def test_failed_warn_check_pauses_nothing(fresh_database_url: str) -> None:
    with dg.instance_for_test() as instance:
        register_days(instance, ["2026-03-07"])
        dg.materialize(
            _failing_check("feature_psi", "model_drift", dg.AssetCheckSeverity.WARN),
            instance=instance,
            partition_key="2026-03-07",
        )
        tick = _sensor(instance, fresh_database_url)
        assert "no failed ERROR" in (tick.skip_message or "")
        assert _hedge_tick(instance, fresh_database_url).run_requests
        with psycopg.connect(fresh_database_url) as conn:
            assert conn.execute("SELECT count(*) FROM monitoring.hedge_pauses").fetchone()[0] == 0


def test_failed_non_blocking_checks_do_not_stop_the_day() -> None:
    with dg.instance_for_test() as instance:
        register_days(instance, ["2026-03-07"])
        result = dg.materialize(
            _failing_check("slippage_ceiling", "hedge_quality", dg.AssetCheckSeverity.ERROR),
            instance=instance,
            partition_key="2026-03-07",
        )
    out = DayOutcome(datetime(2026, 3, 7).date(), result.run_id, True)
    _collect(out, result, "main_finish", "2026-03-07")
    assert out.failed_checks == ["monitoring/hedge_quality:slippage_ceiling (error)"]
    assert out.success and not stopped(out)
    assert stopped(DayOutcome(out.day, "", True, failed_checks=["pricing/ising_models:fit_converged (blocking)"]))


def test_failed_error_check_stops_a_running_hedge_schedule(fresh_database_url: str) -> None:
    """Switched on in the UI, the hedge schedule is switched off by the sensor (the Automation page shows it)."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteInstigatorOrigin, RemoteRepositoryOrigin
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        InstigatorType,
        ScheduleInstigatorData,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    with dg.instance_for_test() as instance:
        location = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(module_name="dagster_project.definitions"), "parlay"
        )
        origin = RemoteInstigatorOrigin(RemoteRepositoryOrigin(location, "__repository__"), automation.HEDGE_SCHEDULE)
        instance.add_instigator_state(
            InstigatorState(
                origin, InstigatorType.SCHEDULE, InstigatorStatus.RUNNING, ScheduleInstigatorData("*/15 * * * *")
            )
        )
        register_days(instance, ["2026-03-07"])
        dg.materialize(
            _failing_check("fill_ratio_floor", "hedge_quality", dg.AssetCheckSeverity.ERROR),
            instance=instance,
            partition_key="2026-03-07",
        )
        _sensor(instance, fresh_database_url)
        states = instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE)
        assert [(s.name, s.status) for s in states] == [(automation.HEDGE_SCHEDULE, InstigatorStatus.STOPPED)]
