"""Schedules and sensors (on in a ``parlay ui`` deployment, where the Dagster daemon runs).

* ``market_snapshots_every_5_min`` — the ingest assets of today's partition (books, trades, combos);
* ``hedge_rebalance_every_15_min`` — risk limits and hedge orders of today's partition;
* ``combo_trades_sensor`` — new combo trades ingested for a day → refit that day's clusters (model update);
* ``settlements_sensor`` — new settlements ingested for a day → settle the ledger and refresh P&L.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from dagster_project.assets import book, ingest, pricing
from dagster_project.partitions import DAILY, GAME_CLUSTERS, TRADING_DAY_TAG, register_days

NEW_YORK = ZoneInfo("America/New_York")

snapshot_job = dg.define_asset_job(
    "market_snapshots", selection=dg.AssetSelection.assets(*ingest.ASSETS), partitions_def=DAILY,
    description="Ingest today's market data (books, trades, combos, settlements).",
)
hedge_job = dg.define_asset_job(
    "hedge_rebalance", selection=dg.AssetSelection.assets(book.limits, book.deltas, book.hedge_orders, book.fills),
    partitions_def=DAILY,
    description="Re-check risk limits and move hedges to 35 % of the book's delta.",
)
settle_job = dg.define_asset_job(
    "settle_ledger", selection=dg.AssetSelection.assets(book.settlements, book.pnl), partitions_def=DAILY,
    description="Settle open bets and hedges from market results; refresh P&L.",
)
refit_job = dg.define_asset_job(
    "fit_clusters", selection=dg.AssetSelection.assets(pricing.ising_models), partitions_def=GAME_CLUSTERS,
    description="Fit one game cluster's Ising model (partition: the cluster; its trading day from the run tag "
    "parlay/trading_day, else the newest day it was registered on); phase 2 of `parlay run`, and the model "
    "update after new combo trades.",
)


def _today(context: dg.ScheduleEvaluationContext) -> str:
    """The trading day (New York calendar) of the tick: today's partition (registered if new)."""
    when = context.scheduled_execution_time or datetime.now(NEW_YORK)
    day = when.astimezone(NEW_YORK).date().isoformat()
    register_days(context.instance, [day])
    return day


def day_clusters(instance: dg.DagsterInstance, day: str) -> list[str]:
    """The game clusters ``pricing/game_clusters`` registered for a day (its newest materialization)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=pricing.game_clusters.key, asset_partitions=[day]), limit=1).records
    mat = records[0].asset_materialization if records else None
    value = mat.metadata.get("cluster_ids") if mat is not None else None
    return sorted(getattr(value, "value", None) or [])


@dg.schedule(job=snapshot_job, cron_schedule="*/5 * * * *", execution_timezone="America/New_York",
             default_status=dg.DefaultScheduleStatus.STOPPED, name="market_snapshots_every_5_min")
def market_snapshots_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = _today(context)
    return dg.RunRequest(run_key=f"snap:{context.scheduled_execution_time}", partition_key=day)


@dg.schedule(job=hedge_job, cron_schedule="*/15 * * * *", execution_timezone="America/New_York",
             default_status=dg.DefaultScheduleStatus.STOPPED, name="hedge_rebalance_every_15_min")
def hedge_rebalance_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = _today(context)
    return dg.RunRequest(run_key=f"hedge:{context.scheduled_execution_time}", partition_key=day)


@dg.asset_sensor(asset_key=ingest.raw("combo_trades"), job=refit_job, name="combo_trades_sensor",
                 default_status=dg.DefaultSensorStatus.STOPPED, minimum_interval_seconds=60)
def combo_trades_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):  # type: ignore[no-untyped-def]
    """New combo trades → refit every cluster of that day that is already fitted (the parlay targets moved)."""
    mat = asset_event.asset_materialization
    day = mat.partition if mat is not None else None
    if not day:
        return dg.SkipReason("combo trades materialized without a partition")
    fitted = context.instance.get_materialized_partitions(pricing.ising_models.key)
    clusters = [c for c in day_clusters(context.instance, day) if c in fitted]
    requests = [dg.RunRequest(run_key=f"refit:{day}:{c}:{asset_event.timestamp}", partition_key=c,
                              tags={TRADING_DAY_TAG: day})
                for c in clusters]
    return requests or dg.SkipReason(f"no fitted game clusters registered for {day}")


@dg.asset_sensor(asset_key=ingest.raw("settlements"), job=settle_job, name="settlements_sensor",
                 default_status=dg.DefaultSensorStatus.STOPPED, minimum_interval_seconds=60)
def settlements_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):  # type: ignore[no-untyped-def]
    """New settlements → settle the ledger for that day."""
    mat = asset_event.asset_materialization
    day = mat.partition if mat is not None else None
    if not day:
        return dg.SkipReason("settlements materialized without a partition")
    return dg.RunRequest(run_key=f"settle:{day}:{asset_event.timestamp}", partition_key=day)


JOBS = [snapshot_job, hedge_job, settle_job, refit_job]
SCHEDULES = [market_snapshots_schedule, hedge_rebalance_schedule]
SENSORS = [combo_trades_sensor, settlements_sensor]
