"""Schedules and sensors (they tick under ``parlay ui``, which runs the Dagster daemon).

Start stopped (they reach out: switch them on in the UI, Automation page):

* ``market_snapshots_every_5_min`` — ingest today's partition from the configured source (live: Kalshi's API);
* ``hedge_rebalance_every_15_min`` — risk limits and hedge orders for today's partition (orders go to the
  execution venue);
* ``experiments_weekly`` (in :mod:`dagster_project.definitions`) — the synthetic experiments, minutes of CPU.

Start running (they only react to data already loaded, and write only our own tables):

* ``combo_trades_sensor`` — new combo trades ingested for a day → refit that day's fitted clusters;
* ``settlements_sensor`` — new settlements ingested for a day → settle the ledger and refresh P&L.

Both sensors leave alone what ``parlay run`` materializes (runs tagged ``parlay/phase``): the CLI runs the
whole day, fits and settlement included, itself. No asset carries an automation condition: a fit needs its
trading day, which a request from a sensor carries (tag ``parlay/trading_day``) and a condition cannot.
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


def from_parlay_run(instance: dg.DagsterInstance, asset_event: dg.EventLogEntry) -> bool:
    """Was the event materialized by a ``parlay run`` phase (which handles the rest of the day itself)?"""
    run = instance.get_run_by_id(asset_event.run_id) if asset_event.run_id else None
    return run is not None and "parlay/phase" in run.tags


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
                 default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=60)
def combo_trades_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):  # type: ignore[no-untyped-def]
    """New combo trades → refit every cluster of that day that is already fitted (the parlay targets moved)."""
    mat = asset_event.asset_materialization
    day = mat.partition if mat is not None else None
    if not day:
        return dg.SkipReason("combo trades materialized without a partition")
    if from_parlay_run(context.instance, asset_event):
        return dg.SkipReason(f"combo trades of {day} came from parlay run, which fits the day itself")
    fitted = context.instance.get_materialized_partitions(pricing.ising_models.key)
    clusters = [c for c in day_clusters(context.instance, day) if c in fitted]
    requests = [dg.RunRequest(run_key=f"refit:{day}:{c}:{asset_event.timestamp}", partition_key=c,
                              tags={TRADING_DAY_TAG: day})
                for c in clusters]
    return requests or dg.SkipReason(f"no fitted game clusters registered for {day}")


@dg.asset_sensor(asset_key=ingest.raw("settlements"), job=settle_job, name="settlements_sensor",
                 default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=60)
def settlements_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):  # type: ignore[no-untyped-def]
    """New settlements → settle the ledger for that day."""
    mat = asset_event.asset_materialization
    day = mat.partition if mat is not None else None
    if not day:
        return dg.SkipReason("settlements materialized without a partition")
    if from_parlay_run(context.instance, asset_event):
        return dg.SkipReason(f"settlements of {day} came from parlay run, which settles the day itself")
    return dg.RunRequest(run_key=f"settle:{day}:{asset_event.timestamp}", partition_key=day)


JOBS = [snapshot_job, hedge_job, settle_job, refit_job]
SCHEDULES = [market_snapshots_schedule, hedge_rebalance_schedule]
SENSORS = [combo_trades_sensor, settlements_sensor]
