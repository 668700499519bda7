"""``parlay ingest-captures`` under odd input: duplicate files, bad lines, truncated gzip, name clashes,
out-of-range integers. Every message read is loaded or quarantined, and nothing loaded is lost."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.fakes.captures import CaptureWriter, count_type

pytestmark = pytest.mark.integration

PARLAY = str(Path(sys.executable).with_name("parlay"))
A = "KXNBAGAME-26MAR07QQQRRR-QQQ"
B = "KXNBAGAME-26MAR07QQQRRR-RRR"


def session(trades: int = 40) -> CaptureWriter:
    w = CaptureWriter(shape="both")
    w.snapshot(A, A, [(30, 10), (31, 20)], [(66, 5)])
    w.snapshot(B, B, [(66, 7)], [(31, 9)])
    for i in range(trades):
        w.delta(A, A, "yes", 31, 2 if i % 3 else -2)
        w.delta(B, B, "no", 31, 1)
        w.trade(A, A, 32, 3)
        w.trade(B, B, 68, 4, taker="no")
    return w


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PARLAY, "ingest-captures", *args], capture_output=True, text=True, timeout=300, check=False)


def summary_of(proc: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def count(url: str, query: str, *params: object) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


def test_same_content_under_two_names_loads_once(tmp_path: Path, fresh_database_url: str) -> None:
    folder = tmp_path / "caps"
    paths = session().write(folder)
    shutil.copy(paths[A], folder / f"{A}.copy.ndjson.gz")
    trades = sum(count_type(p, "trade") for p in paths.values())

    proc = run_cli(str(folder), "--database-url", fresh_database_url)
    assert proc.returncode == 0, proc.stderr
    summary = summary_of(proc)
    assert summary["loaded"]["trades"] == trades
    assert summary["quarantined"] == 0
    assert summary["duplicates"] == [{"file": f"{A}.copy.ndjson.gz", "duplicate_of": f"{A}.ndjson.gz"}]
    assert count(fresh_database_url, "SELECT count(*) FROM raw.trades") == trades
    assert count(fresh_database_url, "SELECT count(*) FROM quarantine.rejected_records") == 0
    with psycopg.connect(fresh_database_url) as conn:
        names = conn.execute(
            """SELECT n.file_name, n.duplicate_of FROM raw.capture_file_names n
               JOIN raw.capture_files f USING (file_id) WHERE f.file_name = %s ORDER BY 1""",
            (f"{A}.ndjson.gz",),
        ).fetchall()
    assert names == [(f"{A}.copy.ndjson.gz", f"{A}.ndjson.gz"), (f"{A}.ndjson.gz", None)]

    # the copy alone, in a later run, deletes nothing and loads nothing twice
    proc = run_cli(str(folder / f"{A}.copy.ndjson.gz"), "--database-url", fresh_database_url)
    assert proc.returncode == 0, proc.stderr
    assert count(fresh_database_url, "SELECT count(*) FROM raw.trades") == trades
    assert count(fresh_database_url, "SELECT count(*) FROM raw.capture_files") == 2
