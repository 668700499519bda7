"""`parlay dbt docs` documents the dbt project against the configured database (not dbt's profile default)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from parlay.db.connection import params

pytestmark = pytest.mark.integration
PARLAY = str(Path(sys.executable).with_name("parlay"))


def test_dbt_docs_reads_the_catalog_of_the_configured_database(fresh_database_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLAY_DBT_")}
    env["PARLAY_DATABASE_URL"] = fresh_database_url
    proc = subprocess.run([PARLAY, "dbt", "docs"], env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(out["index"]).is_file()
    catalog = json.loads(Path(out["catalog"]).read_text())
    databases = {s["metadata"]["database"] for s in catalog["sources"].values()}
    assert databases == {params(fresh_database_url).dbname}, databases
    assert "source.parlay.raw.trades" in catalog["sources"]
