"""Ingest of a capture that begins mid-stream: rows rebuilt backward are loaded, marked and counted, and
every message is still accounted for (read = loaded + quarantined per file)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from parlay.sources.recorded import RecordedSource
from parlay.warehouse.ingest import load_market_stream, load_metadata
from tests.fakes.captures import CaptureWriter, count_messages

pytestmark = pytest.mark.integration

A = "KXNBAGAME-26MAR07AAABBB-AAA"
B = "KXNBAGAME-26MAR07AAABBB-BBB"


def test_rebuilt_rows_are_loaded_marked_and_counted(tmp_path: Path, conn: psycopg.Connection) -> None:
    w = CaptureWriter()
    for i in range(30):  # A: no opening snapshot, only the empty closing one
        w.delta(A, A, "yes", 40 + i % 3, 5 if i % 2 else -5)
        w.delta(A, A, "no", 55, 2)
        w.trade(A, A, 42, 1)
        if i == 10:  # B: deltas, then a snapshot with ladders, then more deltas (one session with A)
            w.delta(B, B, "yes", 30, 4)
            w.delta(B, B, "yes", 30, -1)
            w.snapshot(B, B, [(30, 13)], [(60, 9)])
        if i == 20:
            w.delta(B, B, "no", 60, 1)
            w.delta(B, B, "no", 61, 1)
    w.snapshot(A, A, [], [])
    paths = w.write(tmp_path)
    source = RecordedSource(paths.values())
    load_metadata(conn, source.metadata())
    report = load_market_stream(conn, source, resolution_us=0)
    conn.commit()
    assert report.summary()["rebuilt_backward"] == 60 + 2
    assert report.summary()["quarantined"] == 0
    for u in report.units:
        assert u.balanced and u.messages_read == count_messages(paths[u.label.split(".")[0]])
    rows = dict(
        conn.execute("SELECT coalesce(rebuilt_from, 'forward'), count(*) FROM raw.orderbook_tops GROUP BY 1").fetchall()
    )
    assert rows == {"closing_snapshot": 60, "later_snapshot": 2, "forward": 4}
    # the rebuilt states pass the reliable-book filters of the features layer
    bad = conn.execute(
        "SELECT count(*) FROM raw.orderbook_tops WHERE rebuilt_from IS NOT NULL AND (NOT reliable OR crossed)"
    ).fetchone()[0]
    assert bad == 0
    assert conn.execute("SELECT count(*) FROM raw.orderbook_deltas").fetchone()[0] == 60 + 4
    assert (
        conn.execute(
            "SELECT count(*) FROM quarantine.rejected_records WHERE reason = 'delta_before_snapshot'"
        ).fetchone()[0]
        == 0
    )


def test_a_file_whose_game_ends_after_midnight_balances_on_its_first_day(
    tmp_path: Path, conn: psycopg.Connection
) -> None:
    """A game that ends after midnight in New York spans two trading days: loading the first day leaves the
    second day's rows for later, and the day's accounting check must not call that a loss."""
    from datetime import UTC, date, datetime

    from dagster_project.checks.ingest import ACCOUNTING_SQL

    w = CaptureWriter(t=datetime(2026, 3, 13, 3, 58, tzinfo=UTC))  # 23:58 EDT on 2026-03-12
    w.snapshot(A, A, [(40, 100)], [(55, 80)])
    for i in range(600):  # 0.8 s per round: the last ones fall on 2026-03-13 in New York
        w.delta(A, A, "yes", 40, 5 if i % 2 else -5)
        w.trade(A, A, 42, 1)
    w.snapshot(A, A, [], [])
    paths = w.write(tmp_path)
    source = RecordedSource(paths.values())
    assert source.days() == [date(2026, 3, 12), date(2026, 3, 13)]
    load_metadata(conn, source.metadata())
    day = date(2026, 3, 12)
    report = load_market_stream(conn, source, day)
    conn.commit()
    assert report.total("outside_day") > 0
    assert conn.execute(ACCOUNTING_SQL, {"day": day}).fetchall() == []
    report = load_market_stream(conn, source, date(2026, 3, 13))
    conn.commit()
    assert conn.execute(ACCOUNTING_SQL, {"day": date(2026, 3, 13)}).fetchall() == []
