"""Shared fixtures: a real PostgreSQL database per test session (and fresh ones on demand).

The server is ``PARLAY_TEST_DATABASE_URL`` or ``PARLAY_DATABASE_URL`` when set, else the project's
embedded server; each session creates its own database and drops it at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from parlay.db.connection import temporary_database
from parlay.db.migrate import migrate

REPO = Path(__file__).resolve().parent.parent

# The suite's simulated days are the small profile (20–40 markets a game): quick, and the figures its tests
# check are the small day's. The default day (the paper's scale) has its own tests, which set the profile.
os.environ["PARLAY_SIM_PROFILE"] = "small"


def _server_url() -> str | None:
    return os.environ.get("PARLAY_TEST_DATABASE_URL") or os.environ.get("PARLAY_DATABASE_URL") or None


@pytest.fixture(scope="session")
def pg_server() -> str:
    """URL of the server tests create their databases on."""
    from parlay.db.connection import resolve_database_url

    return resolve_database_url(_server_url())


@pytest.fixture(scope="session")
def database_url(pg_server: str) -> Iterator[str]:
    """A migrated database shared by the session (tests must not depend on each other's rows)."""
    with temporary_database(pg_server, prefix="parlay_test") as url:
        with psycopg.connect(url) as conn:
            migrate(conn)
        yield url


@pytest.fixture
def fresh_database_url(pg_server: str) -> Iterator[str]:
    """An empty, migrated database for one test."""
    with temporary_database(pg_server, prefix="parlay_fresh") as url:
        with psycopg.connect(url) as conn:
            migrate(conn)
        yield url


@pytest.fixture
def conn(fresh_database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(fresh_database_url) as c:
        yield c


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    """The real Kalshi captures (PARLAY_CAPTURES_DIR, default ../shared/data/kalshi_ws)."""
    from parlay.config import captures_dir as configured

    path = configured()
    files = sorted(path.glob("*.ndjson*")) if path.is_dir() else []
    if not files:
        pytest.fail(f"no Kalshi captures under {path}: set PARLAY_CAPTURES_DIR to the capture folder")
    return path
