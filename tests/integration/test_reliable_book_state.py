"""One definition of a reliable book state (``raw.reliable_orderbook_tops``) for every reader: a crossed
book or out-of-order deltas never reach the quote service's market snapshot or the dbt features."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest

from parlay.sources.recorded import RecordedSource
from parlay.warehouse.ingest import load_market_stream, load_metadata
from service.state import query_snapshot
from tests.fakes.captures import CaptureWriter

pytestmark = pytest.mark.integration

A = "KXNBAGAME-26MAR07QQQRRR-QQQ"
B = "KXNBAGAME-26MAR07QQQRRR-RRR"
DAY = date(2026, 3, 7)


def capture(folder: Path) -> None:
    w = CaptureWriter(shape="both")
    w.snapshot(A, A, [(30, 10), (31, 20)], [(66, 5)])
    w.snapshot(B, B, [(60, 7)], [(35, 9)])
    for _ in range(5):
        w.tick(2)
        w.delta(A, A, "yes", 31, 1)
        w.delta(B, B, "yes", 60, 1)
    w.tick(5)
    # A: a delta that crosses the book (0.40 YES bid + 0.66 NO bid > 1) is its last state
    w.delta(A, A, "yes", 40, 5)
    # B: three deltas arrive in reverse order of their sequence numbers
    first = w.seqs[w.book_sid] + 1
    w.seqs[w.book_sid] += 3
    w.tick(5)
    for seq in (first + 2, first + 1, first):
        w.message(
            B,
            {
                "type": "orderbook_delta",
                "sid": w.book_sid,
                "seq": seq,
                "msg": {
                    "market_ticker": B,
                    "price_dollars": "0.6100",
                    "delta_fp": "4.00",
                    "side": "yes",
                    "ts": w.tick(0.3).isoformat().replace("+00:00", "Z"),
                },
            },
        )
    w.write(folder)


def test_the_market_snapshot_shows_only_reliable_book_states(tmp_path: Path, conn: psycopg.Connection) -> None:
    capture(tmp_path / "caps")
    source = RecordedSource([tmp_path / "caps"])
    load_metadata(conn, source.metadata())
    load_market_stream(conn, source)

    reasons = conn.execute("SELECT reason, count(*) FROM quarantine.rejected_records GROUP BY 1").fetchall()
    assert reasons == [("out_of_order", 2)]  # the two deltas that came after a higher number
    crossed = conn.execute(
        "SELECT max(ts) FROM raw.orderbook_tops WHERE market_ticker = %s AND crossed", (A,)
    ).fetchone()[0]
    assert crossed is not None

    states = query_snapshot(conn, [A, B], DAY)
    # A: the last state before the crossing delta: YES bid 0.31, YES ask 1 - 0.66
    assert states[A].book_ts < crossed
    assert states[A].mid == pytest.approx((0.31 + 0.34) / 2)
    # B: the state before the reordered deltas; nothing after them until a new snapshot
    reordered = conn.execute(
        "SELECT min(ts) FROM raw.orderbook_deltas WHERE market_ticker = %s AND price = 0.61", (B,)
    ).fetchone()[0]
    assert states[B].book_ts < reordered
    assert states[B].mid == pytest.approx((0.60 + 0.65) / 2)

    # the same single definition is what dbt's staging model reads
    unreliable = conn.execute(
        "SELECT count(*) FROM raw.reliable_orderbook_tops WHERE NOT reliable OR crossed"
    ).fetchone()[0]
    assert unreliable == 0
    source_sql = (Path(__file__).parents[2] / "dbt/models/staging/_kalshi__sources.yml").read_text()
    assert "identifier: reliable_orderbook_tops" in source_sql
