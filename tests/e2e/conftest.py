"""Materialize Dagster assets in process against a fresh database."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.resources import LakeResource, MarketSourceResource, WarehouseResource


@pytest.fixture
def materialize_ingest(fresh_database_url: str, tmp_path: Path):
    """Run the ingest assets (and their checks) for one day with a given source resource."""
    from dagster_project.assets import ingest
    from dagster_project.checks import ingest as ingest_checks

    def run(source: MarketSourceResource, day: str, assets: Sequence | None = None) -> dg.ExecuteInProcessResult:
        from dagster_project.partitions import register_days

        ingest._cached_source.cache_clear()
        instance = dg.DagsterInstance.ephemeral()
        register_days(instance, [day])
        return dg.materialize(
            [*(assets or ingest.ASSETS), *ingest_checks.CHECKS],
            partition_key=day,
            resources={
                "warehouse": WarehouseResource(database_url=fresh_database_url),
                "market_source": source,
                "lake": LakeResource(storage_url=str(tmp_path / "lake")),
            },
            instance=instance,
            raise_on_error=False,
        )

    return run
