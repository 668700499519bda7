"""Backward book rebuild: the states of a book before its first usable snapshot.

A capture that begins mid-stream holds deltas of a market before any snapshot of it. A forward rebuild
has nothing to start from, but a *later* snapshot fixes the state after the last of those deltas, and
every earlier state follows backward: ``state_before = state_after − delta``.

Two kinds of later snapshot:

* ``later_snapshot`` — a snapshot with ladders. It is the state right after the last delta before it,
  so the backward states are exact. A level that would go below zero proves a message was missed; the
  deltas at and before that point cannot be placed, the ones after it can.
* ``closing_snapshot`` — the snapshot with no ladders that ends a capture. Kalshi sends it after the
  market closes and clears its resting orders, and the clearing itself sends no deltas: forward
  rebuilds of complete captures hold dozens of levels right before that empty snapshot. The state
  after the last delta is therefore unknown, and the rebuild infers it per level as the least resting
  size that keeps every earlier state non-negative. Where the level was empty at some moment of the
  capture that is its true size; otherwise the rebuilt sizes fall short of the true ones by the same
  constant at every moment (the size that never left the level during the capture). On complete
  captures with their opening snapshot removed, best bids agree with the forward rebuild at every
  state; depth away from the top can fall short.

Pure: no I/O. Prices and sizes use the integer ticks / hundredths of :mod:`models.orderbook`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from models.orderbook import from_centi, from_ticks, to_centi, to_ticks
from models.records import NO, YES, BookDelta, BookSnapshot, Level

CLOSING_SNAPSHOT = "closing_snapshot"
LATER_SNAPSHOT = "later_snapshot"

Key = tuple[str, int]  # (side, price ticks)
Ladders = dict[Key, int]  # (side, price ticks) -> size in hundredths of a contract


class BackwardRebuild(NamedTuple):
    """Outcome of rebuilding one market's book backward from a later snapshot.

    ``deltas[placed_from:]`` are placed: ``opening_yes`` / ``opening_no`` is the state right before
    ``deltas[placed_from]``, and applying the placed deltas forward from it reproduces every rebuilt
    state. ``deltas[:placed_from]`` cannot be placed; ``failure`` says why (None when all are placed).
    """

    market_ticker: str
    rebuilt_from: str  # CLOSING_SNAPSHOT | LATER_SNAPSHOT
    placed_from: int
    opening_yes: tuple[Level, ...]
    opening_no: tuple[Level, ...]
    failure: str | None

    def placed_count(self, deltas: Sequence[BookDelta]) -> int:
        """How many of ``deltas`` are placed."""
        return len(deltas) - self.placed_from


def ladders_of(snapshot: BookSnapshot) -> Ladders:
    """A snapshot's ladders as (side, ticks) -> hundredths (levels of size 0 dropped)."""
    out: Ladders = {}
    for side, levels in ((YES, snapshot.yes), (NO, snapshot.no)):
        for price, size in levels:
            c = to_centi(size)
            if c:
                k = (side, to_ticks(price))
                out[k] = out.get(k, 0) + c
    return out


def _levels(state: Ladders, side: str) -> tuple[Level, ...]:
    return tuple((from_ticks(p), from_centi(c)) for (s, p), c in sorted(state.items()) if s == side and c > 0)


def _keys(deltas: Sequence[BookDelta]) -> list[tuple[Key, int]]:
    return [((d.side, to_ticks(d.price)), to_centi(d.delta)) for d in deltas]


def is_closing(snapshot: BookSnapshot) -> bool:
    """A snapshot with no ladders: the book after the market's close."""
    return not snapshot.yes and not snapshot.no


def inferred_close(deltas: Sequence[BookDelta]) -> Ladders:
    """Least resting size per level after the last delta that keeps every earlier state ≥ 0."""
    suffix: dict[Key, int] = {}
    need: Ladders = {}
    for k, c in reversed(_keys(deltas)):
        s = suffix.get(k, 0) + c
        suffix[k] = s
        if s > need.get(k, 0):
            need[k] = s
    return need


def rebuild_backward(deltas: Sequence[BookDelta], later: BookSnapshot) -> BackwardRebuild:
    """Rebuild one market's book backward over ``deltas`` (in stream order) from ``later``, the
    first snapshot after them."""
    ticker = later.market_ticker
    items = _keys(deltas)
    if is_closing(later):
        state = inferred_close(deltas)
        kind = CLOSING_SNAPSHOT
    else:
        state = ladders_of(later)
        kind = LATER_SNAPSHOT
    placed_from = 0
    failure: str | None = None
    for i in range(len(items) - 1, -1, -1):
        k, c = items[i]
        before = state.get(k, 0) - c
        if before < 0:
            d = deltas[i]
            placed_from = i + 1
            failure = (
                f"backward from the {kind.replace('_', ' ')} (seq {later.seq}), the delta {d.delta} at "
                f"{d.side} {d.price} (seq {d.seq}) needs {from_centi(-before)} more contracts than the level "
                "can hold: a message of this market was missed; this delta and the earlier ones cannot be placed"
            )
            break
        if before:
            state[k] = before
        else:
            state.pop(k, None)
    return BackwardRebuild(ticker, kind, placed_from, _levels(state, YES), _levels(state, NO), failure)


# --------------------------------------------------------------------------- checks


def forward_states(opening: Ladders, deltas: Iterable[BookDelta]) -> Iterator[Ladders]:
    """The state after each delta, applied forward from ``opening`` (sizes may go negative: the
    caller checks)."""
    state = dict(opening)
    for d in deltas:
        k = (d.side, to_ticks(d.price))
        v = state.get(k, 0) + to_centi(d.delta)
        if v:
            state[k] = v
        else:
            state.pop(k, None)
        yield dict(state)


def backward_states(deltas: Sequence[BookDelta], after_last: Ladders) -> list[Ladders]:
    """The state after each delta, computed backward from the state after the last one."""
    out: list[Ladders] = []
    state = dict(after_last)
    for d in reversed(deltas):
        out.append(dict(state))
        k = (d.side, to_ticks(d.price))
        v = state.get(k, 0) - to_centi(d.delta)
        if v:
            state[k] = v
        else:
            state.pop(k, None)
    out.reverse()
    return out


def negative_levels(state: Ladders) -> list[Key]:
    return [k for k, v in state.items() if v < 0]


def best_bids(state: Ladders) -> tuple[int | None, int | None]:
    """Best YES and NO bid (ticks) of a state."""
    yes = [p for (s, p), v in state.items() if s == YES and v > 0]
    no = [p for (s, p), v in state.items() if s == NO and v > 0]
    return (max(yes) if yes else None, max(no) if no else None)


def opening_ladders(result: BackwardRebuild) -> Ladders:
    out: Ladders = {}
    for side, levels in ((YES, result.opening_yes), (NO, result.opening_no)):
        for price, size in levels:
            out[(side, to_ticks(price))] = to_centi(size)
    return out
