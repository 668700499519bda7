"""Order-book rebuild: snapshots + deltas → top of book and depth.

Kalshi books hold bids only: YES bids and NO bids. The best YES ask is ``1 − best NO bid``. A book is
*crossed* when ``best YES bid + best NO bid > 1`` (those orders would have matched; real captures show
this for a message or two while the matching engine catches up). A book is *unreliable* from a
:class:`~models.records.BookInvalidated` event, or from a delta that would drive a level below zero
(proof of a missed message), until the market's next snapshot.

The builder reports the book state of each market at a chosen resolution: ``resolution_us=0`` gives
the state after every event; the default (one second) gives the state at the end of every second in
which the book changed, plus the state right after every snapshot — what downstream features need,
at a tenth of the rows of a busy book.

Pure: no I/O. Internally prices are integer ticks of 1/10000 dollar and sizes integer hundredths of a
contract (exact, fast); reported values are Decimals.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from models.records import YES, BookDelta, BookInvalidated, BookSeed, BookSnapshot, SequenceGap

TICKS_PER_DOLLAR = 10_000
DEPTH_WINDOW_TICKS = 500  # 5 cents
SECOND_US = 1_000_000
_PRICE_CACHE: dict[int, Decimal] = {t: Decimal(t).scaleb(-4) for t in range(TICKS_PER_DOLLAR + 1)}


def to_ticks(price: Decimal) -> int:
    return int(price * TICKS_PER_DOLLAR)


def from_ticks(ticks: int) -> Decimal:
    return _PRICE_CACHE[ticks]


def to_centi(size: Decimal) -> int:
    return int(size * 100)


def from_centi(centi: int) -> Decimal:
    return Decimal(centi).scaleb(-2)


class TopOfBook(NamedTuple):
    """State of one market's book at ``ts`` (after the event ``sid``/``seq``)."""

    market_ticker: str
    ts: datetime
    sid: int
    seq: int
    event_kind: str  # "snapshot" | "delta"
    yes_bid: Decimal | None
    yes_bid_size: Decimal | None
    no_bid: Decimal | None
    no_bid_size: Decimal | None
    yes_depth_5c: Decimal  # resting YES bids within 5¢ of the best YES bid (inclusive)
    no_depth_5c: Decimal
    yes_depth: Decimal  # all resting YES bids
    no_depth: Decimal
    yes_levels: int
    no_levels: int
    reliable: bool
    crossed: bool
    rebuilt_from: str | None = None  # set when the state was rebuilt backward from a later snapshot

    @property
    def yes_ask(self) -> Decimal | None:
        return None if self.no_bid is None else Decimal(1) - self.no_bid


class _Side:
    """One side's bid ladder: ticks → centi-contracts, plus the sorted list of live prices."""

    __slots__ = ("prices", "sizes", "total")

    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}
        self.prices: list[int] = []
        self.total = 0

    def load(self, levels: Iterable[tuple[Decimal, Decimal]]) -> None:
        sizes: dict[int, int] = {}
        for price, size in levels:
            c = to_centi(size)
            if c > 0:
                t = to_ticks(price)
                sizes[t] = sizes.get(t, 0) + c
        self.sizes = sizes
        self.prices = sorted(sizes)
        self.total = sum(sizes.values())

    def apply(self, ticks: int, delta: int) -> bool:
        """Apply a signed size change; False when it would drive the level below zero."""
        sizes = self.sizes
        old = sizes.get(ticks)
        new = (old or 0) + delta
        if new > 0:
            if old is None:
                insort(self.prices, ticks)
            sizes[ticks] = new
            self.total += delta
            return True
        if old is not None:
            del sizes[ticks]
            self.prices.pop(bisect_left(self.prices, ticks))
            self.total -= old
        return new == 0

    def best(self) -> int | None:
        return self.prices[-1] if self.prices else None

    def depth_near_best(self) -> int:
        prices = self.prices
        if not prices:
            return 0
        lo = bisect_left(prices, prices[-1] - DEPTH_WINDOW_TICKS)
        sizes = self.sizes
        return sum([sizes[p] for p in prices[lo:]])


class MarketBook:
    """Mutable book of one market (bids only)."""

    __slots__ = ("has_snapshot", "no", "pending", "rebuilt_from", "reliable", "ticker", "yes")

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.yes = _Side()
        self.no = _Side()
        self.has_snapshot = False
        self.reliable = False
        self.rebuilt_from: str | None = None
        # (ts, second bucket, sid, seq, kind) of the last event not yet reported
        self.pending: tuple[datetime, int, int, int, str] | None = None

    def top(self, ts: datetime, sid: int, seq: int, kind: str) -> TopOfBook:
        by, bn = self.yes.best(), self.no.best()
        return TopOfBook(
            self.ticker, ts, sid, seq, kind,
            _PRICE_CACHE[by] if by is not None else None,
            from_centi(self.yes.sizes[by]) if by is not None else None,
            _PRICE_CACHE[bn] if bn is not None else None,
            from_centi(self.no.sizes[bn]) if bn is not None else None,
            from_centi(self.yes.depth_near_best()), from_centi(self.no.depth_near_best()),
            from_centi(self.yes.total), from_centi(self.no.total),
            len(self.yes.prices), len(self.no.prices),
            self.reliable,
            by is not None and bn is not None and by + bn > TICKS_PER_DOLLAR,
            self.rebuilt_from,
        )

    def levels(self, side: str) -> list[tuple[Decimal, Decimal]]:
        s = self.yes if side == YES else self.no
        return [(from_ticks(p), from_centi(s.sizes[p])) for p in s.prices]


def _bucket(ts: datetime, resolution_us: int) -> int:
    if resolution_us <= 0:
        return -1
    return int(ts.timestamp() * 1_000_000) // resolution_us


class BookBuilder:
    """Rebuilds every market's book from a stream of snapshots, deltas and invalidations.

    ``feed`` returns the :class:`TopOfBook` rows that became final with this event (zero, one or
    two); call ``flush`` at the end for the last state of every market. Deltas of a market without
    a snapshot are not applied (``feed`` returns ``None``; the caller quarantines them); a
    :class:`~models.records.BookSeed` (a state rebuilt backward from a later snapshot) stands in for a
    snapshot, and the states it starts carry its ``rebuilt_from`` until the next real snapshot. Every
    inconsistency the builder proves (a level driven below zero) is appended to ``inconsistencies``.
    """

    def __init__(self, session: str = "", resolution_us: int = SECOND_US) -> None:
        self.session = session
        self.resolution_us = resolution_us
        self.books: dict[str, MarketBook] = {}
        self.inconsistencies: list[SequenceGap] = []

    def book(self, ticker: str) -> MarketBook:
        b = self.books.get(ticker)
        if b is None:
            b = self.books[ticker] = MarketBook(ticker)
        return b

    def has_snapshot(self, ticker: str) -> bool:
        b = self.books.get(ticker)
        return b is not None and b.has_snapshot

    def _emit_pending(self, b: MarketBook, out: list[TopOfBook]) -> None:
        p = b.pending
        if p is not None:
            out.append(b.top(p[0], p[2], p[3], p[4]))
            b.pending = None

    def feed(self, event: BookSnapshot | BookDelta | BookInvalidated | BookSeed) -> list[TopOfBook] | None:
        """Apply one event; the rows that became final. ``None`` for a delta that cannot be applied
        because its market has no snapshot yet (the caller quarantines it)."""
        out: list[TopOfBook] = []
        kind = type(event)
        if kind is BookDelta:
            b = self.books.get(event.market_ticker)
            if b is None or not b.has_snapshot:
                return None
            bucket = _bucket(event.ts, self.resolution_us)
            if b.pending is not None and (bucket < 0 or b.pending[1] != bucket):
                self._emit_pending(b, out)
            side = b.yes if event.side == YES else b.no
            if not side.apply(to_ticks(event.price), to_centi(event.delta)) and b.reliable:
                b.reliable = False
                self.inconsistencies.append(
                    SequenceGap(
                        self.session, event.sid, event.seq, event.seq, "book_inconsistent", event.ts,
                        event.market_ticker,
                        f"delta {event.delta} at {event.side} {event.price} drives the level below zero: "
                        "a message for this market was missed; book unreliable until the next snapshot",
                    )
                )
            b.pending = (event.ts, bucket, event.sid, event.seq, "delta")
            if bucket < 0:
                self._emit_pending(b, out)
            return out
        if kind is BookSnapshot:
            b = self.book(event.market_ticker)
            self._emit_pending(b, out)
            b.yes.load(event.yes)
            b.no.load(event.no)
            b.has_snapshot = True
            b.reliable = True
            b.rebuilt_from = None
            out.append(b.top(event.ts, event.sid, event.seq, "snapshot"))
            return out
        if kind is BookSeed:  # a state rebuilt backward: no row of its own, the deltas that follow report
            b = self.book(event.market_ticker)
            self._emit_pending(b, out)
            b.yes.load(event.yes)
            b.no.load(event.no)
            b.has_snapshot = True
            b.reliable = True
            b.rebuilt_from = event.rebuilt_from
            return out
        if kind is BookInvalidated:
            b = self.books.get(event.market_ticker)
            if b is not None:
                self._emit_pending(b, out)
                b.reliable = False
            return out
        raise TypeError(f"not a book event: {kind.__name__}")

    def flush(self) -> list[TopOfBook]:
        out: list[TopOfBook] = []
        for b in self.books.values():
            self._emit_pending(b, out)
        return out


def rebuild(
    events: Iterable[BookSnapshot | BookDelta | BookInvalidated | BookSeed], resolution_us: int = 0
) -> Iterator[TopOfBook]:
    """Convenience: the tops of a whole stream (every event by default)."""
    builder = BookBuilder(resolution_us=resolution_us)
    for e in events:
        if type(e) in (BookSnapshot, BookDelta, BookInvalidated, BookSeed):
            yield from builder.feed(e) or ()
    yield from builder.flush()

