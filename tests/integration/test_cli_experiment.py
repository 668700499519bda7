"""``parlay experiment … --save --json`` as a real process: stored in Postgres, CSV + PNG in storage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.integration

PARLAY = str(Path(sys.executable).with_name("parlay"))


def test_experiment_saves_its_run_and_prints_json_last(fresh_database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "PARLAY_STORAGE_URL": str(tmp_path / "lake")}
    proc = subprocess.run(
        [PARLAY, "experiment", "parlay-reversal", "--runs", "2", "--rounds", "30", "--n-min", "3", "--n-max", "4",
         "--json", "--save", "--database-url", fresh_database_url, "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, check=False, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout.strip().splitlines()[-1])
    assert payload["with_parlays"]["n"] == payload["base_only"]["n"] == [3, 4]
    assert "Claims (computed on this output):" in proc.stdout
    with psycopg.connect(fresh_database_url) as conn:
        name, checks, config, plot = conn.execute(
            "SELECT name, checks, config, plot_url FROM evaluation.experiment_runs WHERE run_id = %s",
            (payload["run_id"],)).fetchone()
        rows = conn.execute("SELECT count(*) FROM evaluation.experiment_rows WHERE run_id = %s",
                            (payload["run_id"],)).fetchone()[0]
    assert name == "parlay-reversal" and [c["key"] for c in checks] == ["a", "d"]
    assert config["horizon"] == 0.5 and rows == 2 * 2 * 6  # regimes × n × makers
    assert Path(plot).read_bytes().startswith(b"\x89PNG") and Path(config["table_url"]).exists()
