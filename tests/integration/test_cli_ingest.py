"""``parlay ingest-captures`` end to end, on captures it has never seen, in both unit shapes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.fakes.captures import CaptureWriter, count_messages, count_type

pytestmark = pytest.mark.integration

PARLAY = str(Path(sys.executable).with_name("parlay"))
A = "KXNBAGAME-26MAR07QQQRRR-QQQ"
B = "KXNBAGAME-26MAR07QQQRRR-RRR"


def session(shape: str, dup_trade: bool) -> CaptureWriter:
    w = CaptureWriter(shape=shape)
    w.snapshot(A, A, [(30, 10), (31, 20)], [(66, 5)])
    w.snapshot(B, B, [(66, 7)], [(31, 9)])
    tid = ""
    for i in range(40):
        w.delta(A, A, "yes", 31, 2 if i % 3 else -2)
        w.delta(B, B, "no", 31, 1)
        tid = w.trade(A, A, 32, 3)
        w.trade(B, B, 68, 4, taker="no")
    if dup_trade:
        w.trade(A, A, 33, 1, trade_id=tid)
    w.raw(B, "garbage line")
    return w


def run_cli(*args: str) -> tuple[dict, str]:
    proc = subprocess.run([PARLAY, *args], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode in (0, 2), proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    return json.loads(last), proc.stderr


@pytest.mark.parametrize("shape", ["cents", "fixed"])
def test_ingest_captures_prints_an_exact_summary(tmp_path: Path, fresh_database_url: str, shape: str) -> None:
    paths = session(shape, dup_trade=True).write(tmp_path / shape)
    summary, stderr = run_cli("ingest-captures", str(tmp_path / shape), "--database-url", fresh_database_url)
    read = sum(count_messages(p) for p in paths.values())
    trades = sum(count_type(p, "trade") for p in paths.values())
    per_file = summary.pop("per_file")
    assert sorted(f["file"] for f in per_file) == sorted(p.name for p in paths.values())
    assert all(f["read"] == f["loaded"] + f["quarantined"] for f in per_file)
    assert sum(f["read"] for f in per_file) == read
    assert summary == {
        "files": 2,
        "messages_read": read,
        "loaded": {"orderbook_snapshots": 2, "orderbook_deltas": 80, "trades": trades - 1},
        "quarantined": 2,
        "gaps": 0,
        "markets": 2,
        "duplicates": [],
        "unreadable": [],
        "rebuilt_backward": 0,
    }
    assert "quarantine reasons" in stderr
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM raw.trades").fetchone()[0] == trades - 1
        reasons = dict(conn.execute(
            "SELECT reason, count(*) FROM quarantine.rejected_records GROUP BY 1").fetchall())
        assert reasons == {"duplicate_trade_id": 1, "malformed_json": 1}
        prices = conn.execute("SELECT DISTINCT yes_price FROM raw.trades ORDER BY 1").fetchall()
        assert [str(p[0]) for p in prices] == ["0.3200", "0.6800"]  # the 0.33 trade was the duplicate

    # loading the same files again changes nothing
    again, _ = run_cli("ingest-captures", str(tmp_path / shape), "--database-url", fresh_database_url)
    assert again.pop("per_file") == per_file
    assert again == summary
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM raw.orderbook_deltas").fetchone()[0] == 80
        assert conn.execute("SELECT count(*) FROM quarantine.rejected_records").fetchone()[0] == 2


def test_missing_path_is_a_clear_error(tmp_path: Path, fresh_database_url: str) -> None:
    proc = subprocess.run([PARLAY, "ingest-captures", str(tmp_path / "none"), "--database-url", fresh_database_url],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1
    assert "capture path not found" in proc.stderr


def test_help_lists_every_command() -> None:
    proc = subprocess.run([PARLAY, "--help"], capture_output=True, text=True, timeout=60, check=True)
    for command in ("ingest-captures", "run", "ui", "db", "bench"):
        assert command in proc.stdout
