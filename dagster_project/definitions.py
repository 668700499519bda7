"""The Dagster code location: ``dagster dev -m dagster_project.definitions`` (or ``parlay ui``)."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from dagster_project.assets import evaluation, features, ingest, transform
from dagster_project.checks import freshness, quality
from dagster_project.checks import ingest as ingest_checks
from dagster_project.dbt_project import dbt_project
from dagster_project.partitions import DAILY
from dagster_project.resources import LakeResource, MarketSourceResource, WarehouseResource
from parlay.dbtenv import dbt_executable

MAIN_JOB = "main"

main_job = dg.define_asset_job(
    MAIN_JOB,
    selection=dg.AssetSelection.all() - dg.AssetSelection.checks(*freshness.CHECKS),
    partitions_def=DAILY,
    description="The whole pipeline for one trading day: ingest → features → pricing → risk → hedging → monitoring.",
)

defs = dg.Definitions(
    assets=[*ingest.ASSETS, *transform.ASSETS, *features.ASSETS, *evaluation.ASSETS],
    asset_checks=[*ingest_checks.CHECKS, *quality.CHECKS, *features.CHECKS, *freshness.CHECKS],
    sensors=[freshness.SENSOR],
    jobs=[main_job],
    resources={
        "warehouse": WarehouseResource(),
        "market_source": MarketSourceResource(),
        "lake": LakeResource(),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
    },
)
