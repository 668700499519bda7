"""Schedules and sensors ask for the right runs."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from dagster_project import automation
from dagster_project.definitions import defs
from dagster_project.partitions import GAME_CLUSTERS

pytestmark = pytest.mark.e2e
NY = ZoneInfo("America/New_York")


def test_every_job_schedule_and_sensor_loads() -> None:
    names = {j.name for j in defs.resolve_all_job_defs()}
    assert {"main", "main_prepare", "fit_clusters", "main_finish", "market_snapshots", "hedge_rebalance",
            "settle_ledger"} <= names
    assert {s.name for s in defs.schedules} == {"market_snapshots_every_5_min", "hedge_rebalance_every_15_min"}
    assert {"combo_trades_sensor", "settlements_sensor", "ingest_freshness"} <= {s.name for s in defs.sensors}


def test_schedules_target_todays_partition() -> None:
    when = datetime(2026, 3, 7, 20, 15, tzinfo=NY)
    with dg.DagsterInstance.ephemeral() as instance:
        for schedule in automation.SCHEDULES:
            ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=when,
                                            repository_def=defs.get_repository_def())
            request = schedule.evaluate_tick(ctx).run_requests[0]
            assert request.partition_key == "2026-03-07", schedule.name


def test_settlements_sensor_settles_the_day_of_new_settlements() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(
            asset_key=dg.AssetKey(["raw", "settlements"]), partition="2026-03-07"))
        ctx = dg.build_sensor_context(instance=instance, definitions=defs)
        result = automation.settlements_sensor.evaluate_tick(ctx)
        assert [r.partition_key for r in result.run_requests] == ["2026-03-07"]
        # nothing new: no second request
        ctx2 = dg.build_sensor_context(instance=instance, definitions=defs, cursor=result.cursor)
        assert not automation.settlements_sensor.evaluate_tick(ctx2).run_requests


def test_combo_trades_sensor_refits_the_days_fitted_clusters() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(GAME_CLUSTERS.name, ["G1", "G2"])
        for cluster, day in (("G1", "2026-03-07"), ("G2", "2026-03-07"), ("G1", "2026-03-10")):
            key = dg.MultiPartitionKey({"day": day, "cluster": cluster})
            instance.report_runless_asset_event(dg.AssetMaterialization(
                asset_key=dg.AssetKey(["pricing", "ising_models"]), partition=key))
        instance.report_runless_asset_event(dg.AssetMaterialization(
            asset_key=dg.AssetKey(["raw", "combo_trades"]), partition="2026-03-07"))
        ctx = dg.build_sensor_context(instance=instance, definitions=defs)
        with dg.partition_loading_context(dynamic_partitions_store=instance):  # the daemon provides this
            result = automation.combo_trades_sensor.evaluate_tick(ctx)
        keys = sorted(r.partition_key.keys_by_dimension["cluster"] for r in result.run_requests)
        assert keys == ["G1", "G2"]
        assert {r.partition_key.keys_by_dimension["day"] for r in result.run_requests} == {"2026-03-07"}
