"""Book rebuild against a naive reference model, and its flags (crossed, unreliable)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from models.orderbook import BookBuilder, rebuild
from models.records import BookDelta, BookInvalidated, BookSnapshot

T0 = datetime(2026, 3, 8, tzinfo=UTC)
D = Decimal


def snap(ticker: str, yes, no, t: datetime = T0, seq: int = 1) -> BookSnapshot:
    return BookSnapshot(ticker, t, tuple((D(p), D(s)) for p, s in yes), tuple((D(p), D(s)) for p, s in no), 1, seq)


def delta(ticker: str, side: str, price: str, change: str, t: datetime, seq: int) -> BookDelta:
    return BookDelta(ticker, t, side, D(price), D(change), 1, seq)


prices = st.integers(min_value=1, max_value=99).map(lambda c: D(c).scaleb(-2))
sizes = st.integers(min_value=1, max_value=5000).map(D)
ladder = st.dictionaries(prices, sizes, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    yes=ladder,
    no=ladder,
    changes=st.lists(
        st.tuples(st.sampled_from(["yes", "no"]), prices, st.integers(min_value=-3000, max_value=3000).map(D)),
        max_size=60,
    ),
)
def test_rebuild_matches_reference_dict_model(yes, no, changes) -> None:
    """After every event the top of book equals a brute-force recomputation from a plain dict book."""
    ref = {"yes": dict(yes), "no": dict(no)}
    events: list = [snap("M", sorted(yes.items()), sorted(no.items()))]
    applied = []
    for i, (side, price, change) in enumerate(changes):
        current = ref[side].get(price, D(0))
        if current + change < 0:  # keep the stream consistent: a valid exchange never goes negative
            change = -current
        new = current + change
        if new > 0:
            ref[side][price] = new
        else:
            ref[side].pop(price, None)
        events.append(delta("M", side, str(price), str(change), T0 + timedelta(seconds=i + 1), i + 2))
        applied.append({s: dict(v) for s, v in ref.items()})
    tops = list(rebuild(events))  # resolution 0: one top per event
    assert len(tops) == len(events)
    for top, book in zip(tops[1:], applied, strict=True):
        by = max(book["yes"], default=None)
        bn = max(book["no"], default=None)
        assert top.yes_bid == by and top.no_bid == bn
        assert top.yes_bid_size == (book["yes"][by] if by is not None else None)
        assert top.yes_depth == sum(book["yes"].values(), D(0))
        assert top.no_depth == sum(book["no"].values(), D(0))
        assert top.yes_depth_5c == sum((s for p, s in book["yes"].items() if p >= by - D("0.05")), D(0)) if by else True
        assert top.crossed == (by is not None and bn is not None and by + bn > 1)
        assert top.reliable


def test_yes_ask_is_one_minus_best_no_bid() -> None:
    (top,) = list(rebuild([snap("M", [("0.40", 10)], [("0.55", 5), ("0.50", 7)])]))
    assert top.yes_ask == D("0.45")
    assert top.no_depth_5c == D(12)


def test_negative_level_marks_book_unreliable_until_next_snapshot() -> None:
    b = BookBuilder("s", resolution_us=0)
    b.feed(snap("M", [("0.40", 10)], [("0.55", 5)]))
    (t1,) = b.feed(delta("M", "yes", "0.40", "-15", T0 + timedelta(seconds=1), 2))
    assert not t1.reliable and t1.yes_bid is None
    assert [g.kind for g in b.inconsistencies] == ["book_inconsistent"]
    (t2,) = b.feed(delta("M", "yes", "0.41", "3", T0 + timedelta(seconds=2), 3))
    assert not t2.reliable
    (t3,) = b.feed(snap("M", [("0.42", 1)], [("0.50", 1)], T0 + timedelta(seconds=3), 4))
    assert t3.reliable


def test_invalidation_flags_following_states() -> None:
    b = BookBuilder("s", resolution_us=0)
    b.feed(snap("M", [("0.40", 10)], [("0.55", 5)]))
    b.feed(BookInvalidated("M", T0, 1, 2, "sequence_gap"))
    (t,) = b.feed(delta("M", "no", "0.55", "-5", T0 + timedelta(seconds=1), 3))
    assert not t.reliable


def test_deltas_before_any_snapshot_are_not_applied() -> None:
    b = BookBuilder("s", resolution_us=0)
    d = delta("M", "yes", "0.40", "5", T0, 1)
    assert b.feed(d) is None
    assert not b.has_snapshot("M")


def test_second_resolution_reports_last_state_of_each_second() -> None:
    events = [snap("M", [("0.40", 10)], [("0.55", 5)])]
    # three changes within second 1, two within second 2
    for i, (ms, change) in enumerate([(100, "1"), (500, "1"), (900, "1"), (1200, "5"), (1800, "5")]):
        events.append(delta("M", "yes", "0.40", change, T0 + timedelta(milliseconds=ms), i + 2))
    tops = list(rebuild(events, resolution_us=1_000_000))
    assert [t.event_kind for t in tops] == ["snapshot", "delta", "delta"]
    assert [t.yes_bid_size for t in tops] == [D(10), D(13), D(23)]
    assert [t.seq for t in tops] == [1, 4, 6]


def test_crossed_book_is_flagged() -> None:
    (t,) = list(rebuild([snap("M", [("0.60", 1)], [("0.45", 1)])]))
    assert t.crossed
