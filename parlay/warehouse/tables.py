"""Raw and quarantine tables: their bulk-load specs and how a record becomes a staging row."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from models.orderbook import TopOfBook
from models.records import (
    BookDelta,
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
from parlay.warehouse.bulk import Column, TableSpec, day_of, num


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _arr(values: list[Decimal]) -> str:
    return "{" + ",".join(str(v) for v in values) + "}"


_TS_DAY = Column("trading_day", None, day_of("ts"))

SERIES = TableSpec(
    "raw.series",
    (
        Column("series_ticker", "text"), Column("title", "text"), Column("category", "text"),
        Column("frequency", "text"), Column("fee_type", "text"), num("fee_multiplier"),
        Column("source", "text"),
    ),
    key=("series_ticker",),
    upsert=True,
)

EVENTS = TableSpec(
    "raw.events",
    (
        Column("event_ticker", "text"), Column("series_ticker", "text"), Column("title", "text"),
        Column("sub_title", "text"), Column("category", "text"), Column("mutually_exclusive", "bool"),
        Column("strike_date", "timestamptz"), Column("source", "text"),
    ),
    key=("event_ticker",),
    upsert=True,
)

MARKETS = TableSpec(
    "raw.markets",
    (
        Column("ticker", "text"), Column("event_ticker", "text"), Column("series_ticker", "text"),
        Column("market_type", "text"), Column("title", "text"), Column("yes_sub_title", "text"),
        Column("no_sub_title", "text"), Column("status", "text"), Column("open_time", "timestamptz"),
        Column("close_time", "timestamptz"), Column("result", "text"), Column("strike_type", "text"),
        num("floor_strike"), num("cap_strike"), num("tick_size"), num("yes_bid"), num("yes_ask"),
        num("last_price"), num("volume"), num("open_interest"), Column("mve_collection_ticker", "text"),
        Column("source", "text"),
    ),
    key=("ticker",),
    upsert=True,
)

SNAPSHOTS = TableSpec(
    "raw.orderbook_snapshots",
    (
        Column("market_ticker", "text"), Column("ts", "timestamptz"), Column("sid", "int4"),
        Column("seq", "int8"), _TS_DAY,
        num("yes_prices", "numeric[]"), num("yes_sizes", "numeric[]"),
        num("no_prices", "numeric[]"), num("no_sizes", "numeric[]"),
        Column("source", "text"), Column("file_id", "int4"),
    ),
    key=("market_ticker", "sid", "seq", "ts"),
    day_expr=day_of("ts"),
)

DELTAS = TableSpec(
    "raw.orderbook_deltas",
    (
        Column("market_ticker", "text"), Column("ts", "timestamptz"), Column("sid", "int4"),
        Column("seq", "int8"), _TS_DAY, Column("side", "text"), num("price"), num("delta"),
        Column("source", "text"), Column("file_id", "int4"),
    ),
    key=("market_ticker", "sid", "seq", "ts"),
    day_expr=day_of("ts"),
)

TOPS = TableSpec(
    "raw.orderbook_tops",
    (
        Column("market_ticker", "text"), Column("ts", "timestamptz"), Column("sid", "int4"),
        Column("seq", "int8"), _TS_DAY, Column("event_kind", "text"),
        num("yes_bid"), num("yes_bid_size"), num("no_bid"), num("no_bid_size"),
        num("yes_depth_5c"), num("no_depth_5c"), num("yes_depth"), num("no_depth"),
        Column("yes_levels", "int4"), Column("no_levels", "int4"), Column("reliable", "bool"),
        Column("crossed", "bool"), Column("source", "text"), Column("file_id", "int4"),
        Column("rebuilt_from", "text"),
    ),
    key=("market_ticker", "sid", "seq", "ts"),
    day_expr=day_of("ts"),
)

TRADES = TableSpec(
    "raw.trades",
    (
        Column("trade_id", "text"), Column("market_ticker", "text"), Column("ts", "timestamptz"), _TS_DAY,
        num("yes_price"), num("no_price"), num("count"), Column("taker_side", "text"),
        Column("sid", "int4"), Column("seq", "int8"), Column("source", "text"), Column("file_id", "int4"),
    ),
    key=("trade_id",),
    day_expr=day_of("ts"),
)

COMBO_TRADES = TableSpec(
    "raw.combo_trades",
    (
        Column("trade_id", "text"), Column("combo_ticker", "text"), Column("ts", "timestamptz"), _TS_DAY,
        num("yes_price"), num("no_price"), num("count"), Column("taker_side", "text"), Column("source", "text"),
    ),
    key=("trade_id",),
    day_expr=day_of("ts"),
)

CANDLES = TableSpec(
    "raw.candles",
    (
        Column("market_ticker", "text"), Column("period_minutes", "int4"), Column("end_ts", "timestamptz"),
        Column("trading_day", None, day_of("end_ts - interval '1 second'")),
        *(num(f"{g}_{p}") for g in ("yes_bid", "yes_ask", "price") for p in ("open", "high", "low", "close")),
        num("volume"), num("open_interest"), Column("origin", "text"), Column("source", "text"),
    ),
    key=("market_ticker", "period_minutes", "end_ts"),
    upsert=True,
)

COMBO_MARKETS = TableSpec(
    "raw.combo_markets",
    (
        Column("ticker", "text"), Column("collection_ticker", "text"), Column("event_ticker", "text"),
        Column("title", "text"), Column("status", "text"), Column("close_time", "timestamptz"),
        Column("result", "text"), Column("n_legs", "int4"), Column("source", "text"),
    ),
    key=("ticker",),
    upsert=True,
)

COMBO_LEGS = TableSpec(
    "raw.combo_legs",
    (
        Column("combo_ticker", "text"), Column("leg_index", "int4"), Column("event_ticker", "text"),
        Column("market_ticker", "text"), Column("side", "text"),
    ),
    key=("combo_ticker", "leg_index"),
    upsert=True,
)

SETTLEMENTS = TableSpec(
    "raw.settlements",
    (
        Column("market_ticker", "text"), Column("result", "text"), Column("settled_ts", "timestamptz"),
        Column("trading_day", None, day_of("settled_ts")), num("settlement_value"), Column("method", "text"),
        Column("source", "text"),
    ),
    key=("market_ticker",),
    upsert=True,
)

REJECTED = TableSpec(
    "quarantine.rejected_records",
    (
        Column("source", "text"), Column("locator", "text"), Column("position", "int8"),
        Column("reason", "text"), Column("detail", "text"), Column("payload", "text"),
        Column("market_ticker", "text"), Column("trading_day", "date"), Column("file_id", "int4"),
        Column("unit_key", "text"),
    ),
    key=("source", "unit_key", "locator", "position", "reason"),
    upsert=True,
)

GAPS = TableSpec(
    "quarantine.sequence_gaps",
    (
        Column("session", "text"), Column("sid", "int4"), Column("first_missing", "int8"),
        Column("last_missing", "int8"), Column("kind", "text"), Column("ts", "timestamptz"),
        Column("market_ticker", "text"), Column("detail", "text"),
    ),
    key=("session", "sid", "first_missing", "kind", "market_ticker"),
    upsert=True,
)


# ----------------------------------------------------------------------------- rows


def series_row(r: SeriesRecord) -> tuple:
    return (r.series_ticker, r.title, r.category, r.frequency, r.fee_type, _s(r.fee_multiplier), r.source)


def event_row(r: EventRecord) -> tuple:
    return (r.event_ticker, r.series_ticker, r.title, r.sub_title, r.category, r.mutually_exclusive,
            r.strike_date, r.source)


def market_row(r: MarketRecord) -> tuple:
    return (
        r.ticker, r.event_ticker, r.series_ticker, r.market_type, r.title, r.yes_sub_title, r.no_sub_title,
        r.status, r.open_time, r.close_time, r.result, r.strike_type, _s(r.floor_strike), _s(r.cap_strike),
        _s(r.tick_size), _s(r.yes_bid), _s(r.yes_ask), _s(r.last_price), _s(r.volume), _s(r.open_interest),
        r.mve_collection_ticker, r.source,
    )


def snapshot_row(r: BookSnapshot, source: str, file_id: int | None) -> tuple:
    return (
        r.market_ticker, r.ts, r.sid, r.seq,
        _arr([p for p, _ in r.yes]), _arr([s for _, s in r.yes]),
        _arr([p for p, _ in r.no]), _arr([s for _, s in r.no]),
        source, file_id,
    )


def delta_row(r: BookDelta, source: str, file_id: int | None) -> tuple:
    return (r.market_ticker, r.ts, r.sid, r.seq, r.side, str(r.price), str(r.delta), source, file_id)


def top_row(t: TopOfBook, source: str, file_id: int | None) -> tuple:
    return (
        t.market_ticker, t.ts, t.sid, t.seq, t.event_kind,
        _s(t.yes_bid), _s(t.yes_bid_size), _s(t.no_bid), _s(t.no_bid_size),
        str(t.yes_depth_5c), str(t.no_depth_5c), str(t.yes_depth), str(t.no_depth),
        t.yes_levels, t.no_levels, t.reliable, t.crossed, source, file_id, t.rebuilt_from,
    )


def trade_row(r: Trade, source: str, file_id: int | None) -> tuple:
    return (r.trade_id, r.market_ticker, r.ts, str(r.yes_price), str(r.no_price), str(r.count), r.taker_side,
            r.sid, r.seq, source, file_id)


def combo_trade_row(r: Trade, source: str) -> tuple:
    return (r.trade_id, r.market_ticker, r.ts, str(r.yes_price), str(r.no_price), str(r.count), r.taker_side,
            source)


def candle_row(c: Candle, origin: str, source: str) -> tuple:
    return (
        c.market_ticker, c.period_minutes, c.end_ts,
        *(_s(v) for v in (
            c.yes_bid_open, c.yes_bid_high, c.yes_bid_low, c.yes_bid_close,
            c.yes_ask_open, c.yes_ask_high, c.yes_ask_low, c.yes_ask_close,
            c.price_open, c.price_high, c.price_low, c.price_close,
        )),
        _s(c.volume), _s(c.open_interest), origin, source,
    )


def combo_market_row(c: ComboMarket) -> tuple:
    return (c.ticker, c.collection_ticker, c.event_ticker, c.title, c.status, c.close_time, c.result,
            len(c.legs), c.source)


def combo_leg_rows(c: ComboMarket) -> list[tuple]:
    return [(c.ticker, i, leg.event_ticker, leg.market_ticker, leg.side) for i, leg in enumerate(c.legs)]


def settlement_row(s: Settlement, source: str) -> tuple:
    return (s.market_ticker, s.result, s.settled_ts, str(s.settlement_value), s.method, source)


def _text(value: str | None) -> str | None:
    """Text Postgres can store: a NUL character is kept visible as the escape it came as."""
    return value.replace("\x00", "\\u0000") if value is not None and "\x00" in value else value


def rejected_row(r: Rejected, day: date | None, file_id: int | None, unit_key: str = "") -> tuple:
    """``unit_key``: the identity of the unit the record came from (a capture file's sha256), so that two
    files of the same name keep their own rows."""
    return (r.source, _text(r.locator), r.position, r.reason, _text(r.detail), _text(r.payload),
            _text(r.market_ticker), day, file_id, unit_key)


def gap_row(g: SequenceGap) -> tuple:
    return (g.session, g.sid, g.first_missing, g.last_missing, g.kind, g.ts, g.market_ticker or "", g.detail)
