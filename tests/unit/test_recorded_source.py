"""The recorded source on synthetic captures: both unit shapes, bad input, gaps, sessions."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from models.orderbook import BookBuilder
from models.records import BookDelta, BookInvalidated, BookSnapshot, Rejected, SequenceGap, Trade
from parlay.sources.base import MarketSource
from parlay.sources.recorded import RecordedSource
from tests.fakes.captures import CaptureWriter, count_messages

A = "KXNBAGAME-26MAR07AAABBB-AAA"
B = "KXNBAGAME-26MAR07AAABBB-BBB"


def game(shape: str) -> CaptureWriter:
    w = CaptureWriter(shape=shape)
    w.snapshot(A, A, [(40, 100), (41, 50)], [(55, 80), (57, 10)])
    w.snapshot(B, B, [(55, 70)], [(41, 60)])
    for i in range(20):
        w.delta(A, A, "yes", 41, 5 if i % 2 else -5)
        w.delta(B, B, "no", 41, 3)
        w.trade(A, A, 42, 10)
        w.trade(B, B, 58, 7, taker="no")
    w.trade(A, A, 1, 50)
    w.trade(B, B, 99, 50)
    w.snapshot(A, A, [], [])
    w.snapshot(B, B, [], [])
    return w


def records(src: RecordedSource) -> list:
    return list(src.market_stream())


@pytest.mark.parametrize("shape", ["cents", "fixed", "both"])
def test_every_shape_normalizes_to_the_same_records(tmp_path: Path, shape: str) -> None:
    ref = records(RecordedSource(game("both").write(tmp_path / "ref").values()))
    got = records(RecordedSource(game(shape).write(tmp_path / shape).values()))
    assert got == ref
    trades = [r for r in got if isinstance(r, Trade)]
    assert trades[0].yes_price == Decimal("0.4200") and trades[0].count == Decimal("10.00")
    assert not [r for r in got if isinstance(r, Rejected)]


def test_source_satisfies_protocol_and_accounts_every_message(tmp_path: Path) -> None:
    paths = game("fixed").write(tmp_path)
    src = RecordedSource(paths.values())
    assert isinstance(src, MarketSource)
    kinds = Counter(type(r).__name__ for r in records(src))
    total = sum(count_messages(p) for p in paths.values())
    assert kinds["BookSnapshot"] + kinds["BookDelta"] + kinds["Trade"] + kinds["Rejected"] == total
    assert kinds["Rejected"] == 0


def test_outcomes_from_closing_prices(tmp_path: Path) -> None:
    src = RecordedSource(game("both").write(tmp_path).values())
    got = {s.market_ticker: s.result for s in src.settlements()}
    assert got == {A: "no", B: "yes"}
    markets = {m.ticker: m for m in src.metadata() if hasattr(m, "ticker")}
    assert markets[A].result == "no" and markets[A].event_ticker == "KXNBAGAME-26MAR07AAABBB"
    events = [m for m in src.metadata() if type(m).__name__ == "EventRecord"]
    assert len(events) == 1 and events[0].mutually_exclusive is True


def test_bad_input_is_quarantined_with_reasons_and_the_load_goes_on(tmp_path: Path) -> None:
    w = CaptureWriter(shape="both")
    w.snapshot(A, A, [(40, 100)], [(55, 80)])
    w.raw(A, "{not json")
    w.message(A, {"type": "ticker", "sid": 9, "seq": 1, "msg": {"market_ticker": A}})
    w.delta(A, A, "yes", 40, -10)
    w.message(A, {"type": "orderbook_delta", "sid": 1, "seq": 900, "msg": {
        "market_ticker": A, "price_dollars": "1.2000", "delta_fp": "5.00", "side": "yes",
        "ts": "2026-03-08T00:31:00Z"}})
    w.message(A, {"type": "orderbook_snapshot", "sid": 1, "seq": 901, "msg": {
        "market_ticker": A, "yes_dollars_fp": [["0.6000", "5.00"]], "no_dollars_fp": [["0.5000", "5.00"]]}})
    tid = w.trade(A, A, 42, 1)
    w.trade(A, A, 43, 1, trade_id=tid)  # duplicate trade id
    w.trade(A, "KXNBAGAME-26MAR07ZZZYYY-ZZZ", 43, 1)  # a market this capture does not hold
    w.message(A, {"type": "orderbook_delta", "sid": 1, "seq": 902, "msg": {
        "market_ticker": A, "price_dollars": "0.4100", "delta_fp": "1.00", "side": "maybe",
        "ts": "2026-03-08T00:32:00Z"}})
    w.trade(A, A, 41, 2)
    paths = w.write(tmp_path)
    got = records(RecordedSource(paths.values()))
    reasons = Counter(r.reason for r in got if isinstance(r, Rejected))
    assert reasons == Counter({
        "malformed_json": 1, "unknown_message_type": 1, "price_out_of_range": 1, "crossed_book": 1,
        "duplicate_trade_id": 1, "unknown_ticker": 1, "bad_side": 1,
    })
    accepted = [r for r in got if isinstance(r, BookSnapshot | BookDelta | Trade)]
    assert len(accepted) + sum(reasons.values()) == count_messages(paths[A])
    bad = next(r for r in got if isinstance(r, Rejected) and r.reason == "price_out_of_range")
    assert json.loads(bad.payload)["msg"]["price_dollars"] == "1.2000" and bad.position > 0
    # a rejected book message means the book missed a change: unreliable from there on
    assert any(isinstance(r, BookInvalidated) and r.reason.startswith("rejected_") for r in got)


def test_delta_before_snapshot_no_snapshot_follows_is_quarantined(tmp_path: Path) -> None:
    """(A delta with a later snapshot is placed backward from it: tests/unit/test_orderbook_backward.py.)"""
    w = CaptureWriter()
    w.snapshot(B, B, [(55, 70)], [(41, 60)])
    w.delta(A, A, "yes", 40, 5)
    w.delta(B, B, "no", 41, 3)
    got = records(RecordedSource(w.write(tmp_path).values()))
    assert [r.reason for r in got if isinstance(r, Rejected)] == ["delta_before_snapshot"]


def test_lost_message_marks_books_unreliable_until_their_next_snapshot(tmp_path: Path) -> None:
    w = CaptureWriter()
    w.snapshot(A, A, [(40, 100)], [(55, 80)])
    w.snapshot(B, B, [(55, 70)], [(41, 60)])
    for _ in range(15):
        w.delta(A, A, "yes", 40, 1)
        w.delta(B, B, "no", 41, 1)
    w.delta(A, A, "yes", 40, 1, skip=1)  # one book message lost before this one
    w.delta(B, B, "no", 41, 1)
    w.snapshot(B, B, [(55, 70)], [(41, 60)])  # B recovers, A does not
    w.delta(A, A, "yes", 40, 1)
    w.delta(B, B, "no", 41, 1)
    src = RecordedSource(w.write(tmp_path).values())
    got = records(src)
    gaps = [r for r in got if isinstance(r, SequenceGap)]
    assert [(g.kind, g.sid, g.first_missing, g.last_missing) for g in gaps] == [("lost", 1, 33, 33)]
    assert {r.market_ticker for r in got if isinstance(r, BookInvalidated)} == {A, B}
    builder = BookBuilder(resolution_us=0)
    tops = [t for r in got if isinstance(r, BookSnapshot | BookDelta | BookInvalidated) for t in builder.feed(r) or ()]
    last_a = [t for t in tops if t.market_ticker == A][-1]
    last_b = [t for t in tops if t.market_ticker == B][-1]
    assert not last_a.reliable
    assert last_b.reliable
    assert sum(1 for t in tops if not t.reliable) == 3  # A: 2 deltas after the gap; B: 1 before its snapshot


def test_subscription_reply_before_a_new_market_is_not_a_loss(tmp_path: Path) -> None:
    w = CaptureWriter()
    w.snapshot(A, A, [(40, 100)], [(55, 80)])
    for _ in range(10):
        w.delta(A, A, "yes", 40, 1)
    w.snapshot(B, B, [(55, 70)], [(41, 60)], skip=1)  # update_subscription's reply took one number
    for _ in range(10):
        w.delta(A, A, "yes", 40, 1)
        w.delta(B, B, "no", 41, 1)
    got = records(RecordedSource(w.write(tmp_path).values()))
    gaps = [r for r in got if isinstance(r, SequenceGap)]
    assert [(g.kind, g.first_missing) for g in gaps] == [("subscription_ack", 12)]
    assert not [r for r in got if isinstance(r, BookInvalidated)]


def test_a_slice_of_a_larger_subscription_is_reported_once_not_as_thousands_of_gaps(tmp_path: Path) -> None:
    w = CaptureWriter()
    w.snapshot(A, A, [(40, 100)], [(55, 80)])
    for _ in range(30):
        w.delta(A, A, "yes", 40, 1, skip=3)  # other markets' messages went elsewhere
    got = records(RecordedSource(w.write(tmp_path).values()))
    gaps = [r for r in got if isinstance(r, SequenceGap)]
    assert [g.kind for g in gaps] == ["partial_session"]
    assert "slice of a larger subscription" in gaps[0].detail
    assert not [r for r in got if isinstance(r, BookInvalidated)]


def test_two_connections_are_two_sessions(tmp_path: Path) -> None:
    first = game("both").write(tmp_path / "one")
    second = CaptureWriter()  # a second connection: seq numbers start again at 1, same hours
    second.snapshot("KXNBAGAME-26MAR07CCCDDD-CCC", "KXNBAGAME-26MAR07CCCDDD-CCC", [(30, 10)], [(60, 10)])
    for _ in range(5):
        second.delta("KXNBAGAME-26MAR07CCCDDD-CCC", "KXNBAGAME-26MAR07CCCDDD-CCC", "yes", 30, 1)
    other = second.write(tmp_path / "two")
    src = RecordedSource([*first.values(), *other.values()])
    sessions = src.sessions()
    assert sorted(len(s.files) for s in sessions) == [1, 2]
    assert not [r for r in records(src) if isinstance(r, SequenceGap) and r.kind != "partial_session"]


def test_folders_are_expanded_and_missing_paths_fail_clearly(tmp_path: Path) -> None:
    game("both").write(tmp_path / "caps")
    assert len(RecordedSource([tmp_path / "caps"]).files) == 2
    with pytest.raises(FileNotFoundError, match="not found"):
        RecordedSource([tmp_path / "nope"])
