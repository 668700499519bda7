"""Normalized market-data records shared by every source (live, recorded, simulated).

Prices are exact :class:`~decimal.Decimal` dollars in [0, 1] with four decimal places ("0.4200");
contract counts are exact decimals with two places ("118.00"). Timestamps are timezone-aware UTC
:class:`~datetime.datetime`. Records are immutable ``NamedTuple`` s: cheap to build on the hot path of a
1.6 M-message capture, and safe to share.

A source yields these records, plus :class:`Rejected` for every input it could not accept, so that
``read = loaded + quarantined`` can be checked per input.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

YES = "yes"
NO = "no"
SIDES = (YES, NO)

PRICE_PLACES = Decimal("0.0001")
COUNT_PLACES = Decimal("0.01")


class SeriesRecord(NamedTuple):
    series_ticker: str
    title: str | None = None
    category: str | None = None
    frequency: str | None = None
    fee_type: str | None = None
    fee_multiplier: Decimal | None = None
    source: str = ""


class EventRecord(NamedTuple):
    event_ticker: str
    series_ticker: str | None
    title: str | None = None
    sub_title: str | None = None
    category: str | None = None
    mutually_exclusive: bool | None = None
    strike_date: datetime | None = None
    source: str = ""


class MarketRecord(NamedTuple):
    ticker: str
    event_ticker: str | None
    series_ticker: str | None
    market_type: str = "binary"
    title: str | None = None
    yes_sub_title: str | None = None
    no_sub_title: str | None = None
    status: str | None = None
    open_time: datetime | None = None
    close_time: datetime | None = None
    result: str | None = None  # "yes" | "no" | None (unresolved)
    strike_type: str | None = None
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None
    tick_size: Decimal | None = None
    yes_bid: Decimal | None = None
    yes_ask: Decimal | None = None
    last_price: Decimal | None = None
    volume: Decimal | None = None
    open_interest: Decimal | None = None
    mve_collection_ticker: str | None = None
    source: str = ""


class ComboLeg(NamedTuple):
    event_ticker: str | None
    market_ticker: str
    side: str  # "yes" | "no"


class ComboMarket(NamedTuple):
    """A multivariate-event (MVE) market: pays 1 when every leg resolves on its side."""

    ticker: str
    collection_ticker: str | None
    event_ticker: str | None
    legs: tuple[ComboLeg, ...]
    title: str | None = None
    status: str | None = None
    close_time: datetime | None = None
    result: str | None = None
    source: str = ""


Level = tuple[Decimal, Decimal]  # (price in dollars, resting contracts)


class BookSnapshot(NamedTuple):
    """Full bid ladders of one market. Kalshi books hold bids only: YES bids and NO bids."""

    market_ticker: str
    ts: datetime
    yes: tuple[Level, ...]
    no: tuple[Level, ...]
    sid: int = 0
    seq: int = 0


class BookDelta(NamedTuple):
    """Signed change of resting size at one price level of one side."""

    market_ticker: str
    ts: datetime
    side: str
    price: Decimal
    delta: Decimal
    sid: int = 0
    seq: int = 0


class Trade(NamedTuple):
    """A public trade on a base market or on a combo (MVE) market."""

    trade_id: str
    market_ticker: str
    ts: datetime
    yes_price: Decimal
    no_price: Decimal
    count: Decimal
    taker_side: str | None
    sid: int = 0
    seq: int = 0


class Candle(NamedTuple):
    market_ticker: str
    period_minutes: int
    end_ts: datetime
    yes_bid_open: Decimal | None = None
    yes_bid_high: Decimal | None = None
    yes_bid_low: Decimal | None = None
    yes_bid_close: Decimal | None = None
    yes_ask_open: Decimal | None = None
    yes_ask_high: Decimal | None = None
    yes_ask_low: Decimal | None = None
    yes_ask_close: Decimal | None = None
    price_open: Decimal | None = None
    price_high: Decimal | None = None
    price_low: Decimal | None = None
    price_close: Decimal | None = None
    volume: Decimal | None = None
    open_interest: Decimal | None = None


class Settlement(NamedTuple):
    market_ticker: str
    result: str  # "yes" | "no"
    settled_ts: datetime
    settlement_value: Decimal  # value of one YES contract at settlement: 1 or 0
    method: str  # "exchange" | "closing_price" | "simulated"


class SequenceGap(NamedTuple):
    """Missing sequence numbers in one WebSocket subscription of one capture session.

    ``kind``: ``lost`` (messages missing: books of the subscription are unreliable until their next
    snapshot), ``subscription_ack`` (a single number consumed by an ``update_subscription`` reply,
    which carries a seq but no market data), ``partial_session`` (the files hold only part of the
    subscription's numbers, so gaps cannot be told from other markets' messages; one summary row),
    ``book_inconsistent`` (no seq evidence, but a delta would drive a level below zero).
    """

    session: str
    sid: int
    first_missing: int
    last_missing: int
    kind: str
    ts: datetime | None
    market_ticker: str | None = None
    detail: str = ""


class BookInvalidated(NamedTuple):
    """From here on the market's rebuilt book cannot be trusted until its next snapshot."""

    market_ticker: str
    ts: datetime
    sid: int
    seq: int
    reason: str


class BookSeed(NamedTuple):
    """A market's book rebuilt backward from a later snapshot: the state right before the first of
    its ``deltas`` placed deltas, which follow this record in the stream. Not a message of the input."""

    market_ticker: str
    ts: datetime
    yes: tuple[Level, ...]
    no: tuple[Level, ...]
    sid: int
    seq: int
    rebuilt_from: str  # "closing_snapshot" | "later_snapshot"
    deltas: int


class Rejected(NamedTuple):
    """An input record that could not be accepted; goes to quarantine with its reason."""

    source: str
    locator: str  # file name, endpoint, or simulator stream
    position: int  # line number in a file, index in a response
    reason: str  # short machine-readable rule name, e.g. "malformed_json"
    detail: str  # a sentence a person can act on
    payload: str  # the raw input, verbatim
    market_ticker: str | None = None


Record = (
    SeriesRecord
    | EventRecord
    | MarketRecord
    | ComboMarket
    | BookSnapshot
    | BookDelta
    | Trade
    | Candle
    | Settlement
    | SequenceGap
    | BookInvalidated
    | BookSeed
    | Rejected
)


def as_dict(record: NamedTuple) -> dict[str, Any]:
    """Plain dict of a record (for JSON / DataFrames)."""
    return record._asdict()
