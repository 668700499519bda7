"""The Dagster code location `parlay` (pyproject.toml [tool.dagster]; `parlay ui` loads it by that name).

Jobs:

* ``main`` — every daily asset of one trading day (ingest → features → pricing snapshot → risk → hedging →
  settlement → monitoring); the per-cluster Ising fits are their own partitions (one per game cluster),
  run by ``fit_clusters``;
* ``main_prepare`` / ``fit_clusters`` / ``main_finish`` — the three phases ``parlay run`` executes in order;
* ``experiments`` — the paper's synthetic experiments (group ``evaluation``), on their own weekly schedule.
"""

import dagster as dg
from dagster_dbt import DbtCliResource

from dagster_project import automation
from dagster_project.assets import book, evaluation, features, ingest, monitoring, pricing, transform
from dagster_project.checks import freshness, quality
from dagster_project.checks import ingest as ingest_checks
from dagster_project.dbt_project import dbt_project
from dagster_project.partitions import DAILY
from dagster_project.resources import ExecutionResource, LakeResource, MarketSourceResource, WarehouseResource
from parlay.dbtenv import dbt_executable

MAIN_JOB = "main"
PREPARE_JOB = "main_prepare"
FIT_JOB = automation.refit_job.name
FINISH_JOB = "main_finish"

EXPERIMENTS_JOB = "experiments"

FITS = dg.AssetSelection.assets(pricing.ising_models)
EXPERIMENTS = dg.AssetSelection.assets(*evaluation.ASSETS)
REPLAY = dg.AssetSelection.assets(*evaluation.REPLAY_ASSETS)
DAILY_ALL = dg.AssetSelection.all() - FITS - EXPERIMENTS - REPLAY
AFTER_FITS = FITS.downstream() - FITS - REPLAY
BEFORE_FITS = DAILY_ALL - AFTER_FITS

# Who owns each stage, and what each Python asset is made of (shown as kinds and owners in the UI).
OWNERS = {"ingest": "team:data", "marts": "team:features", "pricing": "team:pricing", "risk": "team:risk",
          "hedging": "team:risk", "ledger": "team:risk", "monitoring": "team:risk", "evaluation": "team:research"}
KINDS = {"history/raw_parquet": {"python", "parquet"}, "pricing/catboost_model": {"python", "catboost", "postgres"},
         "hedging/orders": {"python", "kalshi", "postgres"}, "hedging/fills": {"python", "kalshi", "postgres"}}


def labelled(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """Python assets with kinds and owners (kept where an asset already sets them)."""
    def label(spec: dg.AssetSpec) -> dg.AssetSpec:
        kinds = spec.kinds or KINDS.get(spec.key.to_user_string(), {"python", "postgres"})
        owner = OWNERS.get(spec.group_name or "", "team:parlay")
        return spec.replace_attributes(kinds=kinds, owners=list(spec.owners) or [owner])

    return [a.map_asset_specs(label) for a in assets]


INGEST_ASSETS = [a.map_asset_specs(lambda spec: dg.apply_freshness_policy(spec, freshness.POLICY))
                 for a in ingest.ASSETS]

main_job = dg.define_asset_job(
    MAIN_JOB, selection=DAILY_ALL, partitions_def=DAILY,
    description="The whole pipeline for one trading day: ingest → features → pricing → risk → hedging → "
    "settlement → monitoring (the cluster fits run as their own partitions: job fit_clusters).",
)
prepare_job = dg.define_asset_job(
    PREPARE_JOB, selection=BEFORE_FITS, partitions_def=DAILY,
    description="Phase 1 of a trading day: ingest, dbt features, structural layer, cluster registry, checks.",
)
finish_job = dg.define_asset_job(
    FINISH_JOB, selection=AFTER_FITS, partitions_def=DAILY,
    description="Phase 3: ensemble snapshot and everything downstream of the fits.",
)

experiments_job = dg.define_asset_job(
    EXPERIMENTS_JOB, selection=EXPERIMENTS,
    description="The paper's synthetic experiments (group evaluation): not part of any trading day; run weekly "
    "by experiments_weekly, or on demand (`parlay experiment NAME`, or materialize them in the UI).",
)
replay_job = dg.define_asset_job(
    "replay_evaluation", selection=REPLAY, partitions_def=DAILY,
    description="The replay evaluation of a trading day (Table 4, evaluation/replay_table) after its main job; "
    "`parlay evaluate replay` runs the same code for several days with the mean ± 2 SE across them.",
)
experiments_schedule = dg.ScheduleDefinition(
    name="experiments_weekly", job=experiments_job, cron_schedule="0 6 * * 0", execution_timezone="America/New_York",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Sundays 06:00 New York: re-run the synthetic experiments (quick sizes).",
)

defs = dg.Definitions(
    assets=[*labelled([*INGEST_ASSETS, *features.ASSETS, *pricing.ASSETS, *book.ASSETS, *monitoring.ASSETS,
                     *evaluation.ASSETS, *evaluation.REPLAY_ASSETS]),
            *transform.ASSETS],
    asset_checks=[*ingest_checks.CHECKS, *quality.CHECKS, *features.CHECKS, *pricing.CHECKS, *book.CHECKS,
                  *monitoring.CHECKS, *freshness.CHECKS],
    sensors=automation.SENSORS,
    schedules=[*automation.SCHEDULES, experiments_schedule],
    jobs=[main_job, prepare_job, finish_job, experiments_job, replay_job, *automation.JOBS],
    resources={
        "warehouse": WarehouseResource(),
        "market_source": MarketSourceResource(),
        "lake": LakeResource(),
        "execution": ExecutionResource(),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
    },
)
