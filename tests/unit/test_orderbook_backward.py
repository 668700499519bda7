"""Backward book rebuild on synthetic books: exact from a later snapshot, inferred from the empty closing
snapshot, never a negative size, and agreement with the forward rebuild wherever both exist."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from models.orderbook import BookBuilder, to_centi, to_ticks
from models.orderbook_backward import (
    CLOSING_SNAPSHOT,
    LATER_SNAPSHOT,
    backward_states,
    best_bids,
    forward_states,
    inferred_close,
    ladders_of,
    negative_levels,
    opening_ladders,
    rebuild_backward,
)
from models.records import NO, YES, BookDelta, BookSeed, BookSnapshot, Rejected
from parlay.sources.recorded import RecordedSource
from tests.fakes.captures import CaptureWriter, count_messages

T0 = datetime(2026, 3, 8, 0, 30, tzinfo=UTC)
M = "KXNBAGAME-26MAR07AAABBB-AAA"


def _snap(yes: list[tuple[str, str]], no: list[tuple[str, str]], seq: int = 0) -> BookSnapshot:
    return BookSnapshot(
        M, T0, tuple((Decimal(p), Decimal(s)) for p, s in yes), tuple((Decimal(p), Decimal(s)) for p, s in no), 1, seq
    )


def _random_book(seed: int, n: int = 400) -> tuple[BookSnapshot, list[BookDelta]]:
    """A consistent random stream: an opening book and deltas that never drive a level below zero."""
    rng = random.Random(seed)
    state: dict[tuple[str, int], int] = {}
    for side in (YES, NO):
        for c in rng.sample(range(1, 50), 8):
            state[(side, c)] = rng.randint(1, 500)
    opening = BookSnapshot(
        M,
        T0,
        tuple((Decimal(c) / 100, Decimal(v)) for (s, c), v in sorted(state.items()) if s == YES),
        tuple((Decimal(c) / 100, Decimal(v)) for (s, c), v in sorted(state.items()) if s == NO),
        1,
        1,
    )
    deltas = []
    for i in range(n):
        side = rng.choice((YES, NO))
        c = rng.randint(1, 50)
        have = state.get((side, c), 0)
        change = rng.randint(1, 300) if have == 0 or rng.random() < 0.5 else -rng.randint(1, have)
        state[(side, c)] = have + change
        deltas.append(BookDelta(M, T0 + timedelta(seconds=i), side, Decimal(c) / 100, Decimal(change), 1, 2 + i))
    return opening, deltas


def test_backward_from_a_later_snapshot_is_exact_and_agrees_with_forward() -> None:
    for seed in range(5):
        opening, deltas = _random_book(seed)
        fwd = list(forward_states(ladders_of(opening), deltas))
        later = BookSnapshot(
            M,
            T0 + timedelta(hours=1),
            tuple((Decimal(p) / 10_000, Decimal(v) / 100) for (s, p), v in sorted(fwd[-1].items()) if s == YES),
            tuple((Decimal(p) / 10_000, Decimal(v) / 100) for (s, p), v in sorted(fwd[-1].items()) if s == NO),
            1,
            10_000,
        )
        result = rebuild_backward(deltas, later)
        assert result.rebuilt_from == LATER_SNAPSHOT and result.placed_from == 0 and result.failure is None
        assert opening_ladders(result) == ladders_of(opening)
        back = backward_states(deltas, ladders_of(later))
        assert back == fwd
        assert not any(negative_levels(s) for s in back)
        # the rebuilt opening, run forward, reproduces every state
        assert list(forward_states(opening_ladders(result), deltas)) == fwd


def test_a_level_driven_below_zero_backward_stops_the_rebuild_there_with_a_reason() -> None:
    deltas = [
        BookDelta(M, T0, YES, Decimal("0.40"), Decimal("5"), 1, 2),
        BookDelta(M, T0, YES, Decimal("0.40"), Decimal("30"), 1, 3),  # needs 30 before: later holds 20
        BookDelta(M, T0, NO, Decimal("0.55"), Decimal("-5"), 1, 4),
    ]
    later = _snap([("0.40", "20")], [("0.55", "10")], seq=5)
    result = rebuild_backward(deltas, later)
    assert result.placed_from == 2 and result.placed_count(deltas) == 1
    assert result.failure is not None and "seq 3" in result.failure and "10.00 more contracts" in result.failure
    # the state before the one placed delta: no negative level anywhere
    assert opening_ladders(result) == {(YES, to_ticks(Decimal("0.40"))): 2000, (NO, to_ticks(Decimal("0.55"))): 1500}


def test_backward_from_the_empty_closing_snapshot_infers_what_the_close_cleared() -> None:
    """The close clears resting orders without deltas: the state after the last delta is not the empty
    closing book. The rebuild keeps every state non-negative, best bids agree with the forward rebuild,
    and each level falls short by one constant (the size that never left it)."""
    for seed in range(5):
        opening, deltas = _random_book(seed)
        fwd = list(forward_states(ladders_of(opening), deltas))
        assert fwd[-1], "the synthetic book still holds orders at the close"
        result = rebuild_backward(deltas, _snap([], [], seq=10_000))
        assert result.rebuilt_from == CLOSING_SNAPSHOT and result.placed_from == 0 and result.failure is None
        back = backward_states(deltas, inferred_close(deltas))
        assert list(forward_states(opening_ladders(result), deltas)) == back
        assert not any(negative_levels(s) for s in back)
        keys = set().union(*fwd, *back)
        for k in keys:
            offsets = {f.get(k, 0) - b.get(k, 0) for f, b in zip(fwd, back, strict=True)}
            assert len(offsets) == 1 and min(offsets) >= 0, k  # short by one constant, never over
        # a level touched by the deltas that was empty at some moment is exact
        for k in {(d.side, to_ticks(d.price)) for d in deltas}:
            if any(f.get(k, 0) == 0 for f in fwd):
                assert all(f.get(k, 0) == b.get(k, 0) for f, b in zip(fwd, back, strict=True)), k


def test_closing_snapshot_rebuild_is_exact_when_the_deltas_empty_the_book() -> None:
    deltas = [
        BookDelta(M, T0, YES, Decimal("0.40"), Decimal("-60"), 1, 2),
        BookDelta(M, T0, NO, Decimal("0.55"), Decimal("10"), 1, 3),
        BookDelta(M, T0, NO, Decimal("0.55"), Decimal("-90"), 1, 4),
        BookDelta(M, T0, YES, Decimal("0.40"), Decimal("-40"), 1, 5),
    ]
    result = rebuild_backward(deltas, _snap([], [], seq=6))
    assert result.failure is None
    assert opening_ladders(result) == {(YES, to_ticks(Decimal("0.40"))): 10_000, (NO, to_ticks(Decimal("0.55"))): 8000}
    assert best_bids(opening_ladders(result)) == (4000, 5500)


def test_builder_marks_states_started_by_a_backward_seed_until_the_next_snapshot() -> None:
    b = BookBuilder(resolution_us=0)
    seed = BookSeed(
        M, T0, ((Decimal("0.40"), Decimal("100")),), ((Decimal("0.55"), Decimal("80")),), 1, 2, CLOSING_SNAPSHOT, 1
    )
    assert b.feed(seed) == []
    (top,) = b.feed(BookDelta(M, T0, YES, Decimal("0.40"), Decimal("-10"), 1, 2)) or []
    assert top.rebuilt_from == CLOSING_SNAPSHOT and top.reliable and top.yes_bid_size == Decimal("90.00")
    (top,) = b.feed(_snap([("0.41", "5")], [("0.55", "80")], seq=3)) or []
    assert top.rebuilt_from is None
    (top,) = b.feed(BookDelta(M, T0, YES, Decimal("0.41"), Decimal("1"), 1, 4)) or []
    assert top.rebuilt_from is None and to_centi(top.yes_bid_size) == 600


def _capture_without_opening_snapshot() -> CaptureWriter:
    w = CaptureWriter()
    for i in range(6):
        w.delta(M, M, "yes", 40, 5 if i % 2 else -5)
        w.trade(M, M, 42, 1)
    w.delta(M, M, "no", 55, -80)
    w.snapshot(M, M, [], [])  # the closing snapshot: the book after the close
    return w


def test_deltas_before_the_first_snapshot_are_placed_backward_from_it(tmp_path: Path) -> None:
    w = CaptureWriter()
    w.delta(M, M, "yes", 40, 5)
    w.snapshot(M, M, [(40, 100)], [(55, 80)])
    w.delta(M, M, "yes", 40, 5)
    got = list(RecordedSource(w.write(tmp_path).values()).market_stream())
    assert not [r for r in got if isinstance(r, Rejected)]
    seed = next(r for r in got if isinstance(r, BookSeed))
    assert seed.rebuilt_from == LATER_SNAPSHOT and seed.deltas == 1
    assert seed.yes == ((Decimal("0.4000"), Decimal("95.00")),)


def test_a_capture_starting_mid_stream_is_rebuilt_from_its_closing_snapshot(tmp_path: Path) -> None:
    paths = _capture_without_opening_snapshot().write(tmp_path)
    got = list(RecordedSource(paths.values()).market_stream())
    assert not [r for r in got if isinstance(r, Rejected)]
    seeds = [r for r in got if isinstance(r, BookSeed)]
    assert [(s.rebuilt_from, s.deltas) for s in seeds] == [(CLOSING_SNAPSHOT, 7)]
    # what the close cleared: 5 YES at 40¢ (the net of the +/-5 run needs 5 resting), and 80 NO at 55¢
    assert seeds[0].yes == ((Decimal("0.4000"), Decimal("5.00")),)
    assert seeds[0].no == ((Decimal("0.5500"), Decimal("80.00")),)
    n = sum(1 for r in got if isinstance(r, BookDelta | BookSnapshot) or type(r).__name__ == "Trade")
    assert n == count_messages(paths[M])


def test_deltas_no_snapshot_follows_stay_quarantined(tmp_path: Path) -> None:
    w = CaptureWriter()
    w.delta(M, M, "yes", 40, 5)
    w.delta(M, M, "yes", 40, -5)
    w.trade(M, M, 42, 1)
    got = list(RecordedSource(w.write(tmp_path).values()).market_stream())
    assert [r.reason for r in got if isinstance(r, Rejected)] == ["delta_before_snapshot"] * 2
    assert not [r for r in got if isinstance(r, BookSeed)]


def test_deltas_the_backward_rebuild_cannot_place_are_quarantined_with_the_reason(tmp_path: Path) -> None:
    w = CaptureWriter()
    w.delta(M, M, "yes", 40, 5)
    w.delta(M, M, "yes", 40, 50)  # backward: 20 - 5 + 10 = 25 before the -10, so 25 - 50 < 0 before this
    w.delta(M, M, "yes", 40, -10)
    w.delta(M, M, "yes", 40, 5)
    w.snapshot(M, M, [(40, 20)], [(55, 80)])
    got = list(RecordedSource(w.write(tmp_path).values()).market_stream())
    assert [r.reason for r in got if isinstance(r, Rejected)] == ["backward_rebuild_negative_size"] * 2
    (seed,) = [r for r in got if isinstance(r, BookSeed)]
    assert seed.deltas == 2 and seed.yes == ((Decimal("0.4000"), Decimal("25.00")),)
