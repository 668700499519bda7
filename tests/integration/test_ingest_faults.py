"""``parlay ingest-captures`` under odd input: duplicate files, bad lines, truncated gzip, name clashes,
out-of-range integers. Every message read is loaded or quarantined, and nothing loaded is lost."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zlib
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.fakes.captures import CaptureWriter, count_messages, count_type

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


C = "KXNBAGAME-26MAR08SSSTTT-SSS"
D = "KXNBAGAME-26MAR09UUUVVV-UUU"


def bad_lines(w: CaptureWriter) -> dict[str, str]:
    """One line per kind of bad input, each in A's file between good messages; reason expected for each."""
    ts = w.t.isoformat().replace("+00:00", "Z")
    trade = {
        "trade_id": "t-bad",
        "market_ticker": A,
        "yes_price_dollars": "0.3200",
        "no_price_dollars": "0.6800",
        "count_fp": "3.00",
        "taker_side": "yes",
        "ts": int(w.t.timestamp()),
    }
    delta = {"market_ticker": A, "price_dollars": "0.3100", "delta_fp": "2.00", "side": "yes", "ts": ts}

    def line(kind: str, sid: int, msg: dict, seq: int | None = None) -> str:
        return json.dumps({"type": kind, "sid": sid, "seq": w._next(sid) if seq is None else seq, "msg": msg})

    cases = {
        # a raw NUL byte inside a string: not JSON
        line("trade", 2, {**trade, "trade_id": "raw-nul"}).replace("raw-nul", "raw\x00nul"): "nul_character",
        # an escaped NUL: valid JSON, but no text column can hold it
        line("trade", 2, {**trade, "trade_id": "a\u0000b"}): "nul_character",
        line("trade", 2, {**trade, "trade_id": "t-px", "yes_price_dollars": "1e30"}): "number_out_of_range",
        line("trade", 2, {**trade, "trade_id": "t-count", "count_fp": "1e30"}): "number_out_of_range",
        line("orderbook_delta", 1, {**delta, "price_dollars": "1e30"}): "number_out_of_range",
        line("orderbook_delta", 1, {**delta, "delta_fp": "1e30"}): "number_out_of_range",
        line("orderbook_delta", 1, {**delta, "delta_fp": "1e20"}): "number_out_of_range",
        line("trade", 2, {**trade, "trade_id": "t-seq"}, seq=2**70): "integer_out_of_range",
        line("trade", 2, {**trade, "trade_id": "t-seq64"}, seq=2**64 - 1): "integer_out_of_range",
    }
    for text in cases:
        w.raw(A, text)
    return cases


def truncated_game(folder: Path) -> tuple[Path, int]:
    """A later game's capture cut short in the middle of its gzip stream; its readable trades."""
    w = CaptureWriter(shape="both", t=datetime(2026, 3, 9, 0, 30, tzinfo=UTC))
    w.snapshot(C, C, [(40, 10)], [(55, 10)])
    for i in range(400):
        w.delta(C, C, "yes", 40, 1 if i % 2 else -1)
        w.trade(C, C, 41, 1 + i % 5)
    path = w.write(folder)[C]
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) * 2 // 3])
    readable = 0
    prefix = zlib.decompressobj(wbits=31).decompress(path.read_bytes())
    complete = prefix.rsplit(b"\n", 1)[0]
    readable = sum(1 for ln in complete.split(b"\n") if ln.strip())
    return path, readable


def later_game(folder: Path) -> Path:
    w = CaptureWriter(shape="both", t=datetime(2026, 3, 10, 0, 30, tzinfo=UTC))
    w.snapshot(D, D, [(20, 10)], [(75, 10)])
    for _ in range(30):
        w.delta(D, D, "no", 75, 1)
        w.trade(D, D, 22, 2)
    return w.write(folder)[D]


def test_bad_lines_and_a_truncated_gzip_do_not_stop_the_run(tmp_path: Path, fresh_database_url: str) -> None:
    folder = tmp_path / "caps"
    w = session(trades=10)
    cases = bad_lines(w)
    for _ in range(10):  # good messages after the bad ones
        w.trade(A, A, 33, 1)
        w.delta(A, A, "yes", 31, 1)
    good = w.write(folder)
    cut, readable = truncated_game(folder)
    last = later_game(folder)

    proc = run_cli(str(folder), "--database-url", fresh_database_url)
    assert proc.returncode == 0, proc.stderr
    summary = summary_of(proc)
    per_file = {f["file"]: f for f in summary["per_file"]}
    for f in per_file.values():
        assert f["read"] == f["loaded"] + f["quarantined"], f
    assert per_file[good[A].name]["quarantined"] == len(cases)
    assert per_file[good[A].name]["read"] == count_messages(good[A])
    assert per_file[last.name]["quarantined"] == 0
    assert per_file[last.name]["read"] == count_messages(last)
    trunc = per_file[cut.name]
    assert trunc["truncated_at_byte"] == cut.stat().st_size
    assert trunc["read"] == readable + 1 and trunc["quarantined"] == 1  # the line the file ends inside
    assert f"{cut.name}: truncated at byte {cut.stat().st_size}" in proc.stderr

    with psycopg.connect(fresh_database_url) as conn:
        reasons = sorted(
            r
            for (r,) in conn.execute(
                "SELECT reason FROM quarantine.rejected_records WHERE locator = %s", (good[A].name,)
            )
        )
        assert reasons == sorted(cases.values())
        payloads = [p for (p,) in conn.execute("SELECT payload FROM quarantine.rejected_records")]
        assert all("\x00" not in p for p in payloads)
        loaded = {
            name: (read, n)
            for name, read, n in conn.execute(
                """SELECT file_name, messages_read, loaded_snapshots + loaded_deltas + loaded_trades + quarantined
               FROM raw.capture_files"""
            )
        }
        assert all(read == n for read, n in loaded.values()), loaded
        assert conn.execute(
            "SELECT truncated_at_byte FROM raw.capture_files WHERE file_name = %s", (cut.name,)
        ).fetchone() == (cut.stat().st_size,)
        for path in (*good.values(), last):
            n = conn.execute(
                "SELECT count(*) FROM raw.trades t JOIN raw.capture_files f USING (file_id) WHERE f.file_name = %s",
                (path.name,),
            ).fetchone()[0]
            assert n == count_type(path, "trade") - (len(cases) - 4 if path == good[A] else 0)


def test_a_file_that_cannot_be_read_is_named_and_the_rest_loads(tmp_path: Path, fresh_database_url: str) -> None:
    folder = tmp_path / "caps"
    later_game(folder)
    broken = folder / "KXNBAGAME-26MAR11WWWXXX-WWW.ndjson.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4)
    proc = run_cli(str(folder), "--database-url", fresh_database_url)
    assert proc.returncode == 3, proc.stderr
    assert f"cannot read {broken}" in proc.stderr
    summary = summary_of(proc)
    assert summary["unreadable"] == [{"file": broken.name, "error": summary["unreadable"][0]["error"]}]
    assert summary["loaded"]["trades"] == 30


def test_same_name_in_two_folders_keeps_both_files_quarantine(tmp_path: Path, fresh_database_url: str) -> None:
    for folder, ticker, day in (("one", A, 8), ("two", C, 9)):
        w = CaptureWriter(shape="both", t=datetime(2026, 3, day, 0, 30, tzinfo=UTC))
        w.snapshot("capture", ticker, [(40, 10)], [(55, 10)])
        for _ in range(5):
            w.trade("capture", ticker, 41, 1)
        w.raw("capture", "not json")
        w.delta("capture", ticker, "yes", 40, 1)
        w.write(tmp_path / folder)
    proc = run_cli(str(tmp_path / "one"), str(tmp_path / "two"), "--database-url", fresh_database_url)
    assert proc.returncode == 0, proc.stderr
    assert [f["quarantined"] for f in summary_of(proc)["per_file"]] == [1, 1]
    with psycopg.connect(fresh_database_url) as conn:
        rows = conn.execute(
            """SELECT c.file_id, c.messages_read,
                      (SELECT count(*) FROM raw.orderbook_snapshots s WHERE s.file_id = c.file_id)
                    + (SELECT count(*) FROM raw.orderbook_deltas d WHERE d.file_id = c.file_id)
                    + (SELECT count(*) FROM raw.trades t WHERE t.file_id = c.file_id),
                      (SELECT count(*) FROM quarantine.rejected_records q WHERE q.file_id = c.file_id)
               FROM raw.capture_files c ORDER BY 1"""
        ).fetchall()
    assert len(rows) == 2
    for _, read, loaded, quarantined in rows:
        assert (read, quarantined) == (loaded + quarantined, 1)


def test_out_of_range_integers_are_quarantined_not_truncated(tmp_path: Path, fresh_database_url: str) -> None:
    w = session(trades=5)
    ts = int(w.t.timestamp())
    for i, sid in enumerate((2**40, 2**31, -1)):
        w.raw(
            A,
            json.dumps(
                {
                    "type": "trade",
                    "sid": sid,
                    "seq": 7,
                    "msg": {
                        "trade_id": f"t-sid-{i}",
                        "market_ticker": A,
                        "yes_price_dollars": "0.3200",
                        "no_price_dollars": "0.6800",
                        "count_fp": "1.00",
                        "taker_side": "yes",
                        "ts": ts,
                    },
                }
            ),
        )
    w.raw(
        A,
        json.dumps(
            {
                "type": "orderbook_delta",
                "sid": 2**31,
                "seq": 8,
                "msg": {
                    "market_ticker": A,
                    "price_dollars": "0.3100",
                    "delta_fp": "1.00",
                    "side": "yes",
                    "ts": w.t.isoformat().replace("+00:00", "Z"),
                },
            }
        ),
    )
    paths = w.write(tmp_path / "caps")
    proc = run_cli(str(tmp_path / "caps"), "--database-url", fresh_database_url)
    assert proc.returncode == 0, proc.stderr
    with psycopg.connect(fresh_database_url) as conn:
        reasons = conn.execute("SELECT reason, count(*) FROM quarantine.rejected_records GROUP BY 1").fetchall()
        assert reasons == [("integer_out_of_range", 4)]
        assert conn.execute("SELECT count(*) FROM raw.trades WHERE trade_id LIKE 't-sid-%'").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM raw.trades WHERE sid NOT IN (1, 2)").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM raw.orderbook_deltas WHERE sid <> 1").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM raw.trades").fetchone() == (
            count_type(paths[A], "trade") - 3 + count_type(paths[B], "trade"),
        )


def test_acceptance_a_folder_mixing_every_fault(tmp_path: Path, fresh_database_url: str) -> None:
    """Good files, a duplicate under another name, a truncated gzip and a file with each bad line."""
    folder = tmp_path / "caps"
    w = session(trades=10)
    cases = bad_lines(w)
    for _ in range(10):
        w.trade(A, A, 33, 1)
        w.delta(A, A, "yes", 31, 1)
    first = w.write(folder)
    copy = folder / "backup-of-rrr.ndjson.gz"
    shutil.copy(first[B], copy)
    cut, readable = truncated_game(folder)
    last = later_game(folder)

    proc = run_cli(str(folder), "--database-url", fresh_database_url)
    assert proc.returncode == 0, proc.stderr
    summary = summary_of(proc)
    assert summary["duplicates"] == [{"file": copy.name, "duplicate_of": first[B].name}]
    assert summary["unreadable"] == []
    per_file = {f["file"]: f for f in summary["per_file"]}
    assert set(per_file) == {first[A].name, first[B].name, cut.name, last.name}
    for f in per_file.values():
        assert f["read"] == f["loaded"] + f["quarantined"], f
    assert per_file[first[A].name]["quarantined"] == len(cases)
    assert per_file[first[B].name]["quarantined"] == per_file[last.name]["quarantined"] == 0
    assert per_file[cut.name]["read"] == readable + 1
    assert summary["messages_read"] == sum(f["read"] for f in per_file.values())

    with psycopg.connect(fresh_database_url) as conn:
        rows = conn.execute(
            """SELECT c.file_name, c.messages_read,
                      (SELECT count(*) FROM raw.orderbook_snapshots s WHERE s.file_id = c.file_id)
                    + (SELECT count(*) FROM raw.orderbook_deltas d WHERE d.file_id = c.file_id)
                    + (SELECT count(*) FROM raw.trades t WHERE t.file_id = c.file_id),
                      (SELECT count(*) FROM quarantine.rejected_records q WHERE q.file_id = c.file_id),
                      (SELECT count(*) FROM raw.trades t WHERE t.file_id = c.file_id)
               FROM raw.capture_files c"""
        ).fetchall()
        in_db = {name: (read, loaded, quarantined, trades) for name, read, loaded, quarantined, trades in rows}
        assert set(in_db) == set(per_file)
        for name, (read, loaded, quarantined, _) in in_db.items():
            assert read == loaded + quarantined == per_file[name]["read"], name
            assert quarantined == per_file[name]["quarantined"], name
        # every good file completely: all of its messages loaded
        for path in (first[B], last):
            assert in_db[path.name][:3] == (count_messages(path), count_messages(path), 0)
            assert in_db[path.name][3] == count_type(path, "trade")
        dup = conn.execute(
            "SELECT duplicate_of FROM raw.capture_file_names WHERE file_name = %s", (copy.name,)
        ).fetchone()
        assert dup == (first[B].name,)
