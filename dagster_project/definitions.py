"""The Dagster code location: ``dagster dev -m dagster_project.definitions`` (or ``parlay ui``).

Jobs:

* ``main`` — every daily asset of one trading day (ingest → features → pricing snapshot → risk → hedging →
  settlement → monitoring); the per-cluster Ising fits are their own (day × cluster) partitions, run by
  ``fit_clusters`` (or by their automation condition once ``pricing/game_clusters`` registers the day).
* ``main_prepare`` / ``fit_clusters`` / ``main_finish`` — the three phases ``parlay run`` executes in order.
"""

import dagster as dg
from dagster_dbt import DbtCliResource

from dagster_project import automation
from dagster_project.assets import book, evaluation, features, ingest, pricing, transform
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

FITS = dg.AssetSelection.assets(pricing.ising_models)
DAILY_ALL = dg.AssetSelection.all() - FITS
AFTER_FITS = FITS.downstream() - FITS
BEFORE_FITS = DAILY_ALL - AFTER_FITS
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

defs = dg.Definitions(
    assets=[*INGEST_ASSETS, *transform.ASSETS, *features.ASSETS, *pricing.ASSETS, *book.ASSETS, *evaluation.ASSETS],
    asset_checks=[*ingest_checks.CHECKS, *quality.CHECKS, *features.CHECKS, *pricing.CHECKS, *book.CHECKS,
                  *freshness.CHECKS],
    sensors=automation.SENSORS,
    schedules=automation.SCHEDULES,
    jobs=[main_job, prepare_job, finish_job, *automation.JOBS],
    resources={
        "warehouse": WarehouseResource(),
        "market_source": MarketSourceResource(),
        "lake": LakeResource(),
        "execution": ExecutionResource(),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
    },
)
