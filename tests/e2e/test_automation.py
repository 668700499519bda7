"""Schedules and sensors ask for the right runs."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from dagster_project import automation
from dagster_project.definitions import defs
from dagster_project.partitions import TRADING_DAY_TAG, register_clusters, register_days

pytestmark = pytest.mark.e2e
NY = ZoneInfo("America/New_York")


def test_every_job_schedule_and_sensor_loads() -> None:
    names = {j.name for j in defs.resolve_all_job_defs()}
    assert {"main", "main_prepare", "fit_clusters", "main_finish", "market_snapshots", "hedge_rebalance",
            "settle_ledger"} <= names
    assert {s.name for s in defs.schedules} == {"market_snapshots_every_5_min", "hedge_rebalance_every_15_min",
                                               "experiments_weekly"}
    assert {"combo_trades_sensor", "settlements_sensor"} <= {s.name for s in defs.sensors}


def test_schedules_target_todays_partition() -> None:
    when = datetime(2026, 3, 7, 20, 15, tzinfo=NY)
    with dg.instance_for_test() as instance:  # a schedule's context needs an instance it can reload
        for schedule in automation.SCHEDULES:
            ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=when,
                                            repository_def=defs.get_repository_def())
            request = schedule.evaluate_tick(ctx).run_requests[0]
            assert request.partition_key == "2026-03-07", schedule.name
        # the tick registers today's trading day: a partition that exists
        assert instance.get_dynamic_partitions("trading_days") == ["2026-03-07"]


def test_settlements_sensor_settles_the_day_of_new_settlements() -> None:
    with dg.DagsterInstance.ephemeral() as instance, dg.partition_loading_context(dynamic_partitions_store=instance):
        register_days(instance, ["2026-03-07"])
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
        register_days(instance, ["2026-03-07", "2026-03-10"])
        register_clusters(instance, ["26MAR07AAABBB", "26MAR07CCCDDD", "26MAR07EEEFFF", "26MAR10AAABBB"])
        for day, clusters in (("2026-03-07", ["26MAR07AAABBB", "26MAR07CCCDDD", "26MAR07EEEFFF"]),
                              ("2026-03-10", ["26MAR10AAABBB"])):
            instance.report_runless_asset_event(dg.AssetMaterialization(
                asset_key=dg.AssetKey(["pricing", "game_clusters"]), partition=day,
                metadata={"cluster_ids": dg.MetadataValue.json(clusters)}))
        for cluster in ("26MAR07AAABBB", "26MAR07CCCDDD", "26MAR10AAABBB"):  # 26MAR07EEEFFF never fitted
            instance.report_runless_asset_event(dg.AssetMaterialization(
                asset_key=dg.AssetKey(["pricing", "ising_models"]), partition=cluster))
        instance.report_runless_asset_event(dg.AssetMaterialization(
            asset_key=dg.AssetKey(["raw", "combo_trades"]), partition="2026-03-07"))
        ctx = dg.build_sensor_context(instance=instance, definitions=defs)
        with dg.partition_loading_context(dynamic_partitions_store=instance):  # the daemon provides this
            result = automation.combo_trades_sensor.evaluate_tick(ctx)
        assert sorted(r.partition_key for r in result.run_requests) == ["26MAR07AAABBB", "26MAR07CCCDDD"]
        assert {r.tags[TRADING_DAY_TAG] for r in result.run_requests} == {"2026-03-07"}


def test_sensors_leave_parlay_run_days_alone() -> None:
    """`parlay run` settles and fits its day itself: a running sensor must not start a second settlement."""
    from dagster_project.partitions import DAILY

    @dg.asset(key=["raw", "settlements"], partitions_def=DAILY)
    def settlements_from_a_phase() -> None:
        return None

    with dg.DagsterInstance.ephemeral() as instance, dg.partition_loading_context(dynamic_partitions_store=instance):
        register_days(instance, ["2026-03-07"])
        dg.materialize([settlements_from_a_phase], instance=instance, partition_key="2026-03-07",
                       tags={"parlay/phase": "1"})
        result = automation.settlements_sensor.evaluate_tick(dg.build_sensor_context(instance=instance,
                                                                                     definitions=defs))
        assert not result.run_requests
        assert "parlay run" in (result.skip_message or "")
    assert automation.settlements_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert automation.combo_trades_sensor.default_status == dg.DefaultSensorStatus.RUNNING
