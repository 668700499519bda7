"""One interface for every market-data source: live Kalshi, recorded captures, the simulator.

A source answers per trading day (a date in the exchange's time zone, America/New_York) and yields
normalized records from :mod:`models.records`, interleaved with :class:`~models.records.Rejected`
for inputs it could not accept. Downstream code (loaders, book rebuild, features, pricing) cannot tell
sources apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from models.records import (
    BookDelta,
    BookInvalidated,
    BookSeed,
    BookSnapshot,
    Candle,
    ComboMarket,
    EventRecord,
    MarketRecord,
    Rejected,
    SequenceGap,
    SeriesRecord,
    Settlement,
    Trade,
)

EXCHANGE_TZ = ZoneInfo("America/New_York")

MetadataItem = SeriesRecord | EventRecord | MarketRecord | Rejected
StreamItem = BookSnapshot | BookDelta | Trade | SequenceGap | BookInvalidated | BookSeed | Rejected


def trading_day(ts: datetime) -> date:
    """The exchange-calendar day of a UTC timestamp (an NBA game at 00:30Z belongs to the day before)."""
    return ts.astimezone(EXCHANGE_TZ).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a trading day as aware datetimes."""
    start = datetime(day.year, day.month, day.day, tzinfo=EXCHANGE_TZ)
    return start, start + timedelta(days=1)


@runtime_checkable
class MarketSource(Protocol):
    """What every source provides. ``day`` is a trading day; each method may be called independently."""

    name: str

    def days(self) -> list[date]:
        """Trading days this source holds data for (empty when open-ended, e.g. live or simulated)."""
        ...

    def metadata(self, day: date) -> Iterator[MetadataItem]:
        """Series, events and base markets relevant to the day."""
        ...

    def market_stream(self, day: date) -> Iterator[StreamItem]:
        """Base-market book snapshots, deltas and trades in exchange order, with gaps and
        invalidations where the source detects them."""
        ...

    def candles(self, day: date) -> Iterator[Candle | Rejected] | None:
        """Exchange candles when the source has them (live); ``None`` means: build them from the
        stream (recorded, simulated)."""
        ...

    def combo_markets(self, day: date) -> Iterator[ComboMarket | Rejected]:
        ...

    def combo_trades(self, day: date) -> Iterator[Trade | Rejected]:
        ...

    def settlements(self, day: date) -> Iterator[Settlement | Rejected]:
        ...


@dataclass(frozen=True)
class StreamUnit:
    """An atomic slice of a market stream, loaded (or replaced) in one transaction.

    Recorded captures give one unit per file; units of one capture ``session`` share book state, in
    order. Sources without files give one unit per day.
    """

    key: str  # stable identity: a file's sha256, or "<source>:<day>"
    label: str  # what a person recognizes: the file name, or the day
    session: str
    records: Iterator[StreamItem]
    size_bytes: int | None = None
    is_file: bool = False
    path: str | None = None  # where a file was read from
    truncated_at: int | None = None  # a file that ended early: compressed byte offset where reading stopped
    read_error: str | None = None  # why reading stopped there


@dataclass(frozen=True)
class DuplicateFile:
    """A capture file whose content (same sha256) was already read under another name."""

    path: str
    name: str
    sha256: str
    duplicate_of: str  # the name whose content is loaded


def stream_units(source: MarketSource, day: date | None) -> Iterator[StreamUnit]:
    """The source's units when it has them (recorded), else the day's stream as one unit."""
    units = getattr(source, "market_units", None)
    if callable(units):
        yield from units(day)
        return
    if day is None:
        raise ValueError(f"the {source.name} source needs a trading day")
    key = f"{source.name}:{day.isoformat()}"
    yield StreamUnit(key, key, key, source.market_stream(day))
