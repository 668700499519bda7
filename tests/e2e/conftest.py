"""Materialize Dagster assets in process against a fresh database; the main job's day, run once per session."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from dagster_project.resources import LakeResource, MarketSourceResource, WarehouseResource
from parlay.db.connection import temporary_database
from parlay.db.migrate import migrate
from parlay.orchestration import DayOutcome, run_main_job

MAIN_JOB_DAY = date(2025, 12, 15)  # any day works on the simulated source (no calendar start)


@dataclass(frozen=True)
class MainJobDay:
    """The main job's simulated day: its database and object storage, as the job left them."""

    day: date
    database_url: str
    storage_url: str
    outcome: DayOutcome
    seconds: float


def _main_job(pg_server: str, tmp_path_factory: pytest.TempPathFactory, profile: str) -> Iterator[MainJobDay]:
    from dagster_project.assets import ingest

    lake = tmp_path_factory.mktemp(f"main_job_{profile}") / "lake"
    with temporary_database(pg_server, prefix=f"parlay_mainjob_{profile}") as url:
        with psycopg.connect(url) as conn:
            migrate(conn)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PARLAY_DATABASE_URL", url)
            mp.setenv("PARLAY_STORAGE_URL", str(lake))
            mp.setenv("PARLAY_SIM_PROFILE", profile)
            mp.delenv("PARLAY_EXECUTION_VENUE", raising=False)
            ingest._cached_source.cache_clear()
            start = time.monotonic()
            (out,) = run_main_job("simulated", [MAIN_JOB_DAY], log=lambda _: None,
                                  instance=dg.DagsterInstance.ephemeral(), exclude_groups=("evaluation",))
        yield MainJobDay(MAIN_JOB_DAY, url, str(lake), out, time.monotonic() - start)


@pytest.fixture(scope="session")
def main_job_day(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MainJobDay]:
    """The main job on one simulated day of the small profile (the evaluation group excluded), run once per
    test session. Tests must not change its database: copy it with :func:`copy_of_database` first."""
    yield from _main_job(pg_server, tmp_path_factory, "small")


@pytest.fixture(scope="session")
def paper_job_day(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MainJobDay]:
    """The main job on the default simulated day (the paper's scale: 6 games of 70–135 markets), once per
    session. Tests must not change its database."""
    yield from _main_job(pg_server, tmp_path_factory, "paper")


def copy_of_database(pg_server: str, url: str, prefix: str = "parlay_copy") -> AbstractContextManager[str]:
    """A context manager: a copy of the database of ``url`` (its other sessions are closed first), dropped after."""
    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                     "AND pid <> pg_backend_pid()", (name,))
    return temporary_database(pg_server, prefix=prefix, template=str(name))


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
