"""dbt's connection and location: the profile reads PARLAY_DBT_* variables that we derive from the
project's database URL, so dbt, Dagster and the CLI always talk to the same Postgres."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from parlay.config import PROJECT_ROOT
from parlay.db.connection import params

DBT_DIR = PROJECT_ROOT / "dbt"


def dbt_env(url: str) -> dict[str, str]:
    p = params(url)
    return {
        "PARLAY_DBT_HOST": p.host,
        "PARLAY_DBT_PORT": str(p.port),
        "PARLAY_DBT_USER": p.user,
        "PARLAY_DBT_PASSWORD": p.password,
        "PARLAY_DBT_DBNAME": p.dbname,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PROFILES_DIR": str(DBT_DIR),
    }


def apply_dbt_env(url: str) -> None:
    os.environ.update(dbt_env(url))


def dbt_executable() -> str:
    return str(Path(sys.executable).with_name("dbt"))


def parse() -> Path:
    """``dbt parse``: writes dbt/target/manifest.json (needed before the code location loads)."""
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_PROFILES_DIR": str(DBT_DIR)}
    proc = subprocess.run(
        [dbt_executable(), "parse", "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--quiet"],
        env=env, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{proc.stdout}\n{proc.stderr}")
    return DBT_DIR / "target" / "manifest.json"
