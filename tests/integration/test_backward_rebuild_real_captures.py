"""The backward book rebuild on the real captures: delete every file's opening snapshot (modified copies in
a temporary folder), rebuild, and compare with the forward rebuild of the original files."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import orjson
import pytest

from models.orderbook import SECOND_US, BookBuilder, TopOfBook
from models.orderbook_backward import CLOSING_SNAPSHOT, LATER_SNAPSHOT
from models.records import BookDelta, BookInvalidated, BookSeed, BookSnapshot, Rejected, Trade
from parlay.sources.recorded import RecordedSource, read_lines
from tests.fakes.captures import count_messages

pytestmark = pytest.mark.integration


def _without_opening_snapshots(src: Path, dst: Path) -> dict[str, int]:
    """Copy the capture files, dropping each market's first snapshot when it comes before the market's
    first delta; the number of dropped lines per file."""
    dst.mkdir()
    dropped: dict[str, int] = {}
    for path in sorted(src.glob("*.ndjson*")):
        out, seen_delta, gone = [], set(), 0
        first_snapshot_done: set[str] = set()
        for line in read_lines(path):
            if line.strip():
                obj = orjson.loads(line)
                ticker = obj["msg"].get("market_ticker")
                if obj["type"] == "orderbook_delta":
                    seen_delta.add(ticker)
                elif obj["type"] == "orderbook_snapshot" and ticker not in first_snapshot_done:
                    first_snapshot_done.add(ticker)
                    if ticker not in seen_delta:
                        gone += 1
                        continue
            out.append(line)
        dropped[path.name] = gone
        (dst / path.name).write_bytes(gzip.compress(b"\n".join(out), compresslevel=1))
    return dropped


def _rebuild(folder: Path) -> tuple[dict[tuple, TopOfBook], Counter, list, dict[str, int]]:
    """Tops keyed by (market, sid, seq, ts), reasons of rejected records, proven inconsistencies, and the
    deltas placed backward per market."""
    source = RecordedSource([folder])
    tops: dict[tuple, TopOfBook] = {}
    reasons: Counter = Counter()
    rebuilt: Counter = Counter()
    inconsistencies = []
    for unit in source.market_units():
        builder = BookBuilder(unit.session, SECOND_US)
        read = placed = 0
        for rec in unit.records:
            kind = type(rec)
            if kind is Rejected:
                reasons[rec.reason] += 1
                read += 1
                continue
            if kind in (BookDelta, BookSnapshot, Trade):
                read += 1
                placed += kind is not Trade
            if kind is BookSeed:
                rebuilt[rec.market_ticker] += rec.deltas
            if kind in (BookDelta, BookSnapshot, BookInvalidated, BookSeed):
                for t in builder.feed(rec) or ():
                    tops[(t.market_ticker, t.sid, t.seq, t.ts)] = t
        for t in builder.flush():
            tops[(t.market_ticker, t.sid, t.seq, t.ts)] = t
        inconsistencies += builder.inconsistencies
        # read = loaded + quarantined per file
        assert read == count_messages(Path(folder) / unit.label), unit.label
    return tops, reasons, inconsistencies, dict(rebuilt)


@pytest.fixture(scope="module")
def rebuilt(captures_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("midstream") / "captures"
    dropped = _without_opening_snapshots(captures_dir, folder)
    return dropped, _rebuild(captures_dir), _rebuild(folder)


def test_opening_snapshots_were_deleted_and_the_books_rebuilt_backward(rebuilt) -> None:
    dropped, _, (tops, reasons, inconsistencies, placed) = rebuilt
    assert sum(dropped.values()) >= 7
    assert sum(placed.values()) > 1_000_000
    assert not inconsistencies  # no level driven below zero, forward or backward
    kinds = Counter(t.rebuilt_from for t in tops.values())
    assert kinds[CLOSING_SNAPSHOT] > 0 and kinds[LATER_SNAPSHOT] > 0
    # deltas no snapshot follows (a file without a closing snapshot) and the few before a message lost
    # from the subscription stay quarantined with their reason
    assert set(reasons) <= {"delta_before_snapshot", "duplicate_message", "duplicate_trade_id"}


def test_no_negative_size_anywhere(rebuilt) -> None:
    _, _, (tops, _, _, _) = rebuilt
    for t in tops.values():
        for v in (t.yes_bid_size, t.no_bid_size):
            assert v is None or v > 0
        assert min(t.yes_depth, t.no_depth, t.yes_depth_5c, t.no_depth_5c) >= 0


def test_backward_and_forward_agree_at_every_shared_state(rebuilt) -> None:
    _, (fwd, _, _, _), (back, _, _, _) = rebuilt
    shared = [k for k, t in back.items() if t.rebuilt_from is not None and k in fwd]
    assert len(shared) > 50_000
    exact = 0
    for k in shared:
        f, b = fwd[k], back[k]
        # the best bids, hence bid, ask and mid, agree everywhere
        assert (b.yes_bid, b.no_bid) == (f.yes_bid, f.no_bid), k
        assert b.reliable == f.reliable and b.crossed == f.crossed, k
        if b.rebuilt_from == LATER_SNAPSHOT:  # from a snapshot with ladders: every figure agrees
            assert b._replace(rebuilt_from=None) == f, k
        else:  # from the closing snapshot: sizes are known up to what never left a level
            assert b.yes_depth <= f.yes_depth and b.no_depth <= f.no_depth, k
            for bs, fs in ((b.yes_bid_size, f.yes_bid_size), (b.no_bid_size, f.no_bid_size)):
                assert bs is None or bs <= fs, k
        exact += b._replace(rebuilt_from=None) == f
    # away from the deep resting orders the close cleared, the states agree in every figure too
    tops_exact = sum(
        (back[k].yes_bid_size, back[k].no_bid_size) == (fwd[k].yes_bid_size, fwd[k].no_bid_size) for k in shared
    )
    assert tops_exact / len(shared) > 0.99
    assert exact > 0
    # states after each file's first real snapshot are untouched by the rebuild
    after = [k for k, t in back.items() if t.rebuilt_from is None and k in fwd]
    assert after and all(back[k] == fwd[k] for k in after)
