"""Schedules and sensors (they tick under ``parlay ui``, which runs the Dagster daemon).

Start stopped (they reach out: switch them on in the UI, Automation page):

* ``market_snapshots_every_5_min`` — ingest today's partition from the configured source (live: Kalshi's API);
* ``hedge_rebalance_every_15_min`` — risk limits and hedge orders for today's partition (orders go to the
  execution venue);
* ``experiments_weekly`` (in :mod:`dagster_project.definitions`) — the synthetic experiments, minutes of CPU.

Start running (they only react to data already loaded, and write only our own tables):

* ``combo_trades_sensor`` — new combo trades ingested for a day → refit that day's fitted clusters;
* ``settlements_sensor`` — new settlements ingested for a day → settle the ledger and refresh P&L;
* ``monitoring_halt_sensor`` — a monitoring check failed at ERROR → pause the hedge schedule: record why in
  ``monitoring.hedge_pauses`` (the schedule then skips, naming the reason, until ``parlay resume-hedging``) and stop
  the schedule if it is running. WARN failures are early warnings: they pause nothing.

Both sensors leave alone what ``parlay run`` materializes (runs tagged ``parlay/phase``): the CLI runs the
whole day, fits and settlement included, itself. No asset carries an automation condition: a fit needs its
trading day, which a request from a sensor carries (tag ``parlay/trading_day``) and a condition cannot.
"""

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from dagster_project.assets import book, ingest, monitoring, pricing
from dagster_project.partitions import DAILY, GAME_CLUSTERS, TRADING_DAY_TAG, register_days
from dagster_project.resources import WarehouseResource

HEDGE_SCHEDULE = "hedge_rebalance_every_15_min"

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


def hedge_pauses() -> list[tuple]:
    """Active pauses of the hedge schedule, read from the warehouse the jobs use (PARLAY_DATABASE_URL); none when
    the monitoring tables do not exist yet."""
    from parlay.db.connection import connect
    from parlay.monitoring_runtime import active_pauses

    with connect(WarehouseResource().url()) as conn:  # read only: no migration from a schedule tick
        return active_pauses(conn)


@dg.schedule(job=hedge_job, cron_schedule="*/15 * * * *", execution_timezone="America/New_York",
             default_status=dg.DefaultScheduleStatus.STOPPED, name=HEDGE_SCHEDULE)
def hedge_rebalance_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    """Rebalance today's hedges, unless a failed ERROR monitoring check paused hedging."""
    paused = hedge_pauses()
    if paused:
        at, day, check, reason = paused[0]
        return dg.SkipReason(f"hedging paused since {at:%Y-%m-%d %H:%M} UTC by {check} ({day}): {reason}; "
                             "`parlay resume-hedging` lifts the pause")
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


MONITORING_CHECKS = [dg.AssetCheckKey(spec.asset_key, spec.name) for c in monitoring.CHECKS for spec in c.check_specs]


def _stop_schedule(instance: dg.DagsterInstance, name: str) -> bool:
    """Stop a running schedule in the instance (the UI's Automation page shows it stopped); False when it was not
    running."""
    from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType

    stopped = False
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE):
        if state.name == name and state.status in (InstigatorStatus.RUNNING, InstigatorStatus.DECLARED_IN_CODE):
            instance.update_instigator_state(state.with_status(InstigatorStatus.STOPPED))
            stopped = True
    return stopped


@dg.sensor(name="monitoring_halt_sensor", default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=60,
           description="A monitoring check failed at ERROR (trading must stop) → pause the hedge schedule and record "
           "why in monitoring.hedge_pauses. WARN failures pause nothing.")
def monitoring_halt_sensor(context: dg.SensorEvaluationContext,
                           warehouse: WarehouseResource) -> dg.SkipReason | dg.SensorResult:
    seen: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    halts = []
    for check in MONITORING_CHECKS:
        name = check.to_user_string()
        history = context.instance.event_log_storage.get_asset_check_execution_history(check, limit=50)
        for record in sorted(history, key=lambda r: r.id):
            if record.id <= seen.get(name, 0):
                continue
            seen[name] = record.id
            entry = record.event
            evaluation = entry.dagster_event.event_specific_data if entry and entry.dagster_event else None
            if evaluation is None or evaluation.passed or evaluation.severity != dg.AssetCheckSeverity.ERROR:
                continue
            halts.append((name, record.run_id, evaluation.partition, evaluation.description or "failed at ERROR"))
    cursor = json.dumps(seen, sort_keys=True)
    if not halts:
        return dg.SensorResult(skip_reason=dg.SkipReason("no failed ERROR monitoring check"), cursor=cursor)
    from parlay.monitoring_runtime import pause_hedging

    with warehouse.connection() as conn:
        for name, run_id, partition, reason in halts:
            pause_hedging(conn, date.fromisoformat(partition) if partition else None, name, reason, run_id)
    stopped = _stop_schedule(context.instance, HEDGE_SCHEDULE)
    what = ", ".join(f"{n} ({p or '-'}): {r}" for n, _, p, r in halts)
    context.log.warning(f"hedging paused ({'schedule stopped' if stopped else 'schedule was not running'}): {what}")
    return dg.SensorResult(skip_reason=dg.SkipReason(f"hedging paused: {what}"), cursor=cursor)


JOBS = [snapshot_job, hedge_job, settle_job, refit_job]
SCHEDULES = [market_snapshots_schedule, hedge_rebalance_schedule]
SENSORS = [combo_trades_sensor, settlements_sensor, monitoring_halt_sensor]
