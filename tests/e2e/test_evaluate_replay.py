"""`parlay evaluate replay` and the evaluation/replay_table asset on the main job's simulated day.

The figures obey what holds by construction: Kalshi's execution price takes every trade; every strategy takes
at most every trade; net P&L = premium − payout; the capital is no smaller than any loss it must carry; and
the day's combined row equals its only day's row. The JSON's last line keeps the contract's keys.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from dagster_project.assets import evaluation
from dagster_project.partitions import register_days
from dagster_project.plots import PLOTS_ROUTE
from dagster_project.resources import LakeResource, WarehouseResource
from tests.e2e.conftest import MainJobDay, copy_of_database

pytestmark = pytest.mark.e2e
PARLAY = str(Path(sys.executable).with_name("parlay"))
KEYS = {"strategy", "trades", "accepted", "win_rate", "net_pnl", "capital", "roi", "sharpe", "brier"}


def test_evaluate_replay_json_and_the_asset(main_job_day: MainJobDay, pg_server: str, tmp_path: Path) -> None:
    day = main_job_day.day.isoformat()
    with copy_of_database(pg_server, main_job_day.database_url, prefix="parlay_replay") as url:
        env = {**os.environ, "PARLAY_STORAGE_URL": str(tmp_path / "lake"), "PARLAY_HOME": str(tmp_path)}
        proc = subprocess.run([PARLAY, "evaluate", "replay", "--date", day, "--json", "--database-url", url],
                              capture_output=True, text=True, env=env, timeout=1800)
        assert proc.returncode == 0, proc.stderr[-3000:]
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        assert report["days"] == [day]
        rows = {r["strategy"]: r for r in report["strategies"]}
        assert set(rows) == {"kalshi_execution", "independence", "standalone_mm", "full_amm",
                             "standalone_mm_uncorrected"}
        assert all(set(r) == KEYS for r in report["strategies"])
        trades = rows["kalshi_execution"]["trades"]
        assert trades > 100 and rows["kalshi_execution"]["accepted"] == trades
        for r in rows.values():
            assert r["trades"] == trades and 0 <= r["accepted"] <= trades
            assert r["capital"] >= 0
        assert 0 < rows["standalone_mm"]["accepted"] < trades  # the margin makes it refuse some trades
        (per_day,) = report["per_day"]
        assert "simulated" in per_day["setting"]
        for r in per_day["strategies"]:
            assert r["net_pnl"] == pytest.approx(r["premium"] - r["payout"], abs=1e-9)
            assert r["capital"] >= -min(r["net_pnl"], 0) or r["strategy"] == "full_amm"
            combined = rows[r["strategy"]]
            assert (combined["accepted"], combined["net_pnl"]) == (r["accepted"], r["net_pnl"])
        assert "standalone_mm" in proc.stderr and "Sharpe" in proc.stderr  # the table a user reads
        with psycopg.connect(url) as conn:
            stored = conn.execute(
                """SELECT strategy, accepted, net_pnl, premium - payout FROM evaluation.replay_strategies
                   WHERE run_id = %s AND trading_day IS NULL""", (report["run_id"],)).fetchall()
        expected = {s: (r["accepted"], r["net_pnl"]) for s, r in rows.items()}
        assert {s: (a, float(n)) for s, a, n, _ in stored} == expected
        assert all(n == d for _, _, n, d in stored)

        # the asset: the same code path, its table and both plots as metadata
        instance = dg.DagsterInstance.ephemeral()
        register_days(instance, [day])
        result = dg.materialize(
            evaluation.REPLAY_ASSETS, partition_key=day, instance=instance, raise_on_error=False,
            resources={"warehouse": WarehouseResource(database_url=url),
                       "lake": LakeResource(storage_url=str(tmp_path / "lake2"))})
        assert result.success
        (event,) = result.get_asset_materialization_events()
        md = event.materialization.metadata
        assert isinstance(md["table"], dg.TableMetadataValue) and len(md["table"].records) == 5
        for name in ("cumulative_pnl", "calibration"):
            assert f"]({PLOTS_ROUTE}/" in md[name].value and md[name].value.endswith(".png)")
        got = {r.data["strategy"]: r.data["accepted"] for r in md["table"].records}
        assert got == {s: r["accepted"] for s, r in rows.items()}
        assert Decimal(str(rows["kalshi_execution"]["net_pnl"])) != 0
