"""Turn Kalshi payloads (REST and WebSocket, both unit shapes) into normalized records.

Kalshi has shipped two shapes of the same data:

* legacy integer cents: ``"yes_price": 42``, ``"yes": [[42, 100]]``, ``"count": 5``;
* fixed point: ``"yes_price_dollars": "0.4200"``, ``"yes_dollars_fp": [["0.4200", "100.00"]]``,
  ``"count_fp": "5.00"``.

Every function here accepts both and returns exact decimals (prices with 4 places, counts with 2).
When both shapes are present the fixed-point field wins (it can express sub-cent ticks).
Invalid input raises :class:`PayloadError` carrying a machine-readable reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from models.records import (
    COUNT_PLACES,
    NO,
    PRICE_PLACES,
    SIDES,
    YES,
    BookDelta,
    BookSnapshot,
    Candle,
    ComboLeg,
    ComboMarket,
    EventRecord,
    Level,
    MarketRecord,
    SeriesRecord,
    Settlement,
    Trade,
)
from parlay.kalshi.types import Balance, Fill, HistoricalCutoff, Order, Position

_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)
MAX_CONTRACTS = Decimal(10) ** 18  # counts and sizes are stored as numeric(20, 2)


class PayloadError(ValueError):
    """A payload that cannot be normalized. ``reason`` is a short rule name used in quarantine."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# --------------------------------------------------------------------------- scalars


def to_decimal(value: Any, field: str) -> Decimal:
    """Exact decimal from a string, int or Decimal. A float (a JSON number with a fraction, when the
    payload was not parsed with ``parse_float=Decimal``) is taken through its shortest repr."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise PayloadError("bad_number", f"{field} is {value!r}, expected a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            d = Decimal(value)
        except InvalidOperation:
            raise PayloadError("bad_number", f"{field}={value!r} is not a decimal number") from None
        if not d.is_finite():
            raise PayloadError("bad_number", f"{field}={value!r} is not finite")
        return d
    if isinstance(value, float):
        # JSON numbers with a fraction arrive as floats; repr() is the shortest exact round trip.
        return Decimal(repr(value))
    raise PayloadError("bad_number", f"{field} has type {type(value).__name__}, expected a number")


def _quantize(value: Decimal, places: Decimal, field: str) -> Decimal:
    try:
        return value.quantize(places)
    except InvalidOperation:  # more digits than a decimal holds: "1e30" to 4 places
        raise PayloadError("number_out_of_range", f"{field}={value} is far beyond any valid value") from None


def dollars(value: Any, field: str = "price") -> Decimal:
    """A dollar amount ("0.4200", 0.42) quantized to 4 places."""
    return _quantize(to_decimal(value, field), PRICE_PLACES, field)


def cents(value: Any, field: str = "price") -> Decimal:
    """A legacy integer-cents price as dollars."""
    return _quantize(to_decimal(value, field) / _HUNDRED, PRICE_PLACES, field)


def check_contracts(value: Decimal, field: str) -> Decimal:
    if not -MAX_CONTRACTS < value < MAX_CONTRACTS:
        raise PayloadError("number_out_of_range", f"{field}={value} outside ±{MAX_CONTRACTS:.0e} contracts")
    return value


def contracts(value: Any, field: str = "count") -> Decimal:
    """A contract count quantized to 2 places, within what the warehouse stores."""
    return check_contracts(_quantize(to_decimal(value, field), COUNT_PLACES, field), field)


def price_field(msg: Mapping[str, Any], name: str, *, required: bool = True) -> Decimal | None:
    """``name_dollars`` if present, else legacy cents ``name``."""
    v = msg.get(f"{name}_dollars")
    if v is not None:
        return dollars(v, f"{name}_dollars")
    v = msg.get(name)
    if v is not None:
        return cents(v, name)
    if required:
        raise PayloadError("missing_field", f"neither {name}_dollars nor {name} present")
    return None


def count_field(msg: Mapping[str, Any], name: str, *, required: bool = True) -> Decimal | None:
    """``name_fp`` if present, else legacy integer ``name``."""
    v = msg.get(f"{name}_fp")
    if v is not None:
        return contracts(v, f"{name}_fp")
    v = msg.get(name)
    if v is not None:
        return contracts(v, name)
    if required:
        raise PayloadError("missing_field", f"neither {name}_fp nor {name} present")
    return None


def check_probability(price: Decimal, field: str, *, inclusive: bool = False) -> Decimal:
    """Kalshi prices live strictly inside (0, 1) dollars (inclusive for settlement values)."""
    ok = (_ZERO <= price <= _ONE) if inclusive else (_ZERO < price < _ONE)
    if not ok:
        bounds = "[0, 1]" if inclusive else "(0, 1)"
        raise PayloadError("price_out_of_range", f"{field}={price} outside {bounds}")
    return price


def timestamp(value: Any, field: str = "ts") -> datetime:
    """UTC datetime from unix seconds, unix milliseconds (int, float or Decimal), or an ISO-8601 string."""
    if isinstance(value, bool) or value is None:
        raise PayloadError("bad_timestamp", f"{field} is {value!r}")
    if isinstance(value, int | float | Decimal):
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise PayloadError("bad_timestamp", f"{field}={value!r} is not finite")
            value = float(value)
        seconds = value / 1000 if value > 10**11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise PayloadError("bad_timestamp", f"{field}={value!r} is not a unix time") from None
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise PayloadError("bad_timestamp", f"{field}={value!r} is not ISO-8601") from None
        return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
    raise PayloadError("bad_timestamp", f"{field} has type {type(value).__name__}")


def optional_timestamp(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    return timestamp(value, field)


def _side(value: Any, field: str = "side") -> str:
    if value not in SIDES:
        raise PayloadError("bad_side", f"{field}={value!r}, expected 'yes' or 'no'")
    return str(value)


def _ticker(msg: Mapping[str, Any], *names: str) -> str:
    for name in names:
        v = msg.get(name)
        if isinstance(v, str) and v:
            return v
    raise PayloadError("missing_field", f"no ticker ({' / '.join(names)})")


# --------------------------------------------------------------------------- order books


def ladder(levels: Any, *, fixed_point: bool, side: str) -> tuple[Level, ...]:
    """Normalize one side's bid ladder, sorted by price ascending; zero-size levels dropped.

    ``fixed_point`` levels are ``[["0.4200", "100.00"], ...]`` (size may also be a number);
    legacy levels are ``[[42, 100], ...]`` in cents.
    """
    if not isinstance(levels, list):
        raise PayloadError("bad_book", f"{side} ladder is {type(levels).__name__}, expected a list")
    out: dict[Decimal, Decimal] = {}
    for level in levels:
        if not isinstance(level, list | tuple) or len(level) != 2:
            raise PayloadError("bad_book", f"{side} level {level!r} is not [price, size]")
        price = dollars(level[0], f"{side} price") if fixed_point else cents(level[0], f"{side} price")
        check_probability(price, f"{side} level price")
        size = contracts(level[1], f"{side} size")
        if size < 0:
            raise PayloadError("bad_book", f"{side} level {price} has negative size {size}")
        if size > 0:
            out[price] = out.get(price, _ZERO) + size
    return tuple(sorted(out.items()))


def book_sides(book: Mapping[str, Any]) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
    """YES and NO ladders from any of the shapes Kalshi uses (WS snapshot or REST orderbook)."""
    result = []
    for side in SIDES:
        for key, fixed in ((f"{side}_dollars_fp", True), (f"{side}_dollars", True), (side, False)):
            if key in book and book[key] is not None:
                result.append(ladder(book[key], fixed_point=fixed, side=side))
                break
        else:
            result.append(())
    return result[0], result[1]


def best_bid(levels: Sequence[Level]) -> Decimal | None:
    return max((p for p, _ in levels), default=None)


def check_not_crossed(yes: Sequence[Level], no: Sequence[Level]) -> None:
    """A bids-only book is crossed when best YES bid + best NO bid > 1 (they would have matched)."""
    by, bn = best_bid(yes), best_bid(no)
    if by is not None and bn is not None and by + bn > _ONE:
        raise PayloadError("crossed_book", f"best YES bid {by} + best NO bid {bn} > 1")


def ws_snapshot(msg: Mapping[str, Any], ts: datetime, sid: int, seq: int) -> BookSnapshot:
    ticker = _ticker(msg, "market_ticker")
    yes, no = book_sides(msg)
    check_not_crossed(yes, no)
    return BookSnapshot(ticker, ts, yes, no, sid, seq)


def _fast_dollars(value: Any) -> Decimal | None:
    """Hot path for the common fixed-point price string "0.4200" (exactly 4 places)."""
    if type(value) is str and len(value) == 6 and value[1] == ".":
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def ws_delta(msg: Mapping[str, Any], sid: int, seq: int) -> BookDelta:
    ticker = msg.get("market_ticker")
    if not isinstance(ticker, str) or not ticker:
        raise PayloadError("missing_field", "no ticker (market_ticker)")
    price = _fast_dollars(msg.get("price_dollars")) or price_field(msg, "price")
    assert price is not None
    if not (_ZERO < price < _ONE):
        raise PayloadError("price_out_of_range", f"price={price} outside (0, 1)")
    raw_delta = msg.get("delta_fp")
    if type(raw_delta) is str and len(raw_delta) > 3 and raw_delta[-3] == ".":
        try:
            delta = Decimal(raw_delta)
        except InvalidOperation:
            raise PayloadError("bad_number", f"delta_fp={raw_delta!r} is not a decimal number") from None
    else:
        delta = count_field(msg, "delta")
    assert delta is not None
    if not delta.is_finite():
        raise PayloadError("bad_number", f"delta={delta} is not finite")
    check_contracts(delta, "delta")
    side = msg.get("side")
    if side != YES and side != NO:
        side = _side(side)
    raw_ts = msg.get("ts")
    if type(raw_ts) is str:
        try:
            ts = datetime.fromisoformat(raw_ts)
        except ValueError:
            raise PayloadError("bad_timestamp", f"ts={raw_ts!r} is not ISO-8601") from None
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
    else:
        ts = timestamp(raw_ts, "ts")
    return BookDelta(ticker, ts, side, price, delta, sid, seq)


def rest_orderbook(ticker: str, payload: Mapping[str, Any], ts: datetime) -> BookSnapshot:
    """``GET /markets/{ticker}/orderbook`` → snapshot (``orderbook_fp`` or legacy ``orderbook``)."""
    book = payload.get("orderbook_fp") or payload.get("orderbook") or {}
    if not isinstance(book, Mapping):
        raise PayloadError("bad_book", "orderbook is not an object")
    yes, no = book_sides(book)
    check_not_crossed(yes, no)
    return BookSnapshot(ticker, ts, yes, no, 0, 0)


# --------------------------------------------------------------------------- trades


def trade(msg: Mapping[str, Any], sid: int = 0, seq: int = 0) -> Trade:
    """WS ``trade`` message or REST ``/markets/trades`` item (``ts`` or ``created_time``)."""
    trade_id = msg.get("trade_id")
    if not isinstance(trade_id, str) or not trade_id:
        raise PayloadError("missing_field", "trade_id missing")
    ticker = _ticker(msg, "market_ticker", "ticker")
    yes_price = price_field(msg, "yes_price")
    assert yes_price is not None
    no_price = price_field(msg, "no_price", required=False)
    if no_price is None:
        no_price = _ONE - yes_price
    check_probability(yes_price, "yes_price")
    check_probability(no_price, "no_price")
    if yes_price + no_price != _ONE:
        raise PayloadError("inconsistent_prices", f"yes_price {yes_price} + no_price {no_price} != 1")
    count = count_field(msg, "count")
    assert count is not None
    if count <= 0:
        raise PayloadError("bad_count", f"count {count} must be positive")
    raw_ts = msg.get("ts", msg.get("created_time"))
    taker = msg.get("taker_side")
    return Trade(
        trade_id, ticker, timestamp(raw_ts, "ts"), yes_price, no_price, count,
        _side(taker, "taker_side") if taker is not None else None, sid, seq,
    )


# --------------------------------------------------------------------------- metadata


def _str(msg: Mapping[str, Any], name: str) -> str | None:
    v = msg.get(name)
    return str(v) if v not in (None, "") else None


def _dec(msg: Mapping[str, Any], name: str) -> Decimal | None:
    v = msg.get(name)
    return to_decimal(v, name) if v not in (None, "") else None


def series(msg: Mapping[str, Any], source: str) -> SeriesRecord:
    return SeriesRecord(
        series_ticker=_ticker(msg, "ticker", "series_ticker"),
        title=_str(msg, "title"),
        category=_str(msg, "category"),
        frequency=_str(msg, "frequency"),
        fee_type=_str(msg, "fee_type"),
        fee_multiplier=_dec(msg, "fee_multiplier"),
        source=source,
    )


def event(msg: Mapping[str, Any], source: str) -> EventRecord:
    me = msg.get("mutually_exclusive")
    return EventRecord(
        event_ticker=_ticker(msg, "event_ticker", "ticker"),
        series_ticker=_str(msg, "series_ticker"),
        title=_str(msg, "title"),
        sub_title=_str(msg, "sub_title"),
        category=_str(msg, "category"),
        mutually_exclusive=bool(me) if me is not None else None,
        strike_date=optional_timestamp(msg.get("strike_date"), "strike_date"),
        source=source,
    )


def _result(value: Any) -> str | None:
    if value in (None, "", "void", "all_no", "all_yes"):
        return None
    return _side(value, "result")


def market(msg: Mapping[str, Any], source: str, series_ticker: str | None = None) -> MarketRecord:
    ticker = _ticker(msg, "ticker", "market_ticker")
    event_ticker = _str(msg, "event_ticker")
    tick = msg.get("tick_size")
    return MarketRecord(
        ticker=ticker,
        event_ticker=event_ticker,
        series_ticker=(
            series_ticker or _str(msg, "series_ticker") or series_from_ticker(event_ticker or ticker)
        ),
        market_type=_str(msg, "market_type") or "binary",
        title=_str(msg, "title"),
        yes_sub_title=_str(msg, "yes_sub_title"),
        no_sub_title=_str(msg, "no_sub_title"),
        status=_str(msg, "status"),
        open_time=optional_timestamp(msg.get("open_time"), "open_time"),
        close_time=optional_timestamp(msg.get("close_time"), "close_time"),
        result=_result(msg.get("result")),
        strike_type=_str(msg, "strike_type"),
        floor_strike=_dec(msg, "floor_strike"),
        cap_strike=_dec(msg, "cap_strike"),
        tick_size=cents(tick, "tick_size") if isinstance(tick, int) else (dollars(tick) if tick else None),
        yes_bid=price_field(msg, "yes_bid", required=False),
        yes_ask=price_field(msg, "yes_ask", required=False),
        last_price=price_field(msg, "last_price", required=False),
        volume=count_field(msg, "volume", required=False),
        open_interest=count_field(msg, "open_interest", required=False),
        mve_collection_ticker=_str(msg, "mve_collection_ticker"),
        source=source,
    )


def combo_market(msg: Mapping[str, Any], source: str) -> ComboMarket:
    """A multivariate (combo) market with its ``mve_selected_legs``."""
    raw_legs = msg.get("mve_selected_legs")
    if not isinstance(raw_legs, list) or len(raw_legs) < 2:
        raise PayloadError("bad_combo", "mve_selected_legs must list at least two legs")
    legs = []
    for leg in raw_legs:
        if not isinstance(leg, Mapping):
            raise PayloadError("bad_combo", f"leg {leg!r} is not an object")
        legs.append(
            ComboLeg(_str(leg, "event_ticker"), _ticker(leg, "market_ticker"), _side(leg.get("side")))
        )
    return ComboMarket(
        ticker=_ticker(msg, "ticker", "market_ticker"),
        collection_ticker=_str(msg, "mve_collection_ticker") or _str(msg, "collection_ticker"),
        event_ticker=_str(msg, "event_ticker"),
        legs=tuple(legs),
        title=_str(msg, "title"),
        status=_str(msg, "status"),
        close_time=optional_timestamp(msg.get("close_time"), "close_time"),
        result=_result(msg.get("result")),
        source=source,
    )


def settlement_from_market(m: MarketRecord, settled_ts: datetime) -> Settlement | None:
    if m.result not in SIDES:
        return None
    return Settlement(m.ticker, m.result, settled_ts, _ONE if m.result == YES else _ZERO, "exchange")


def _candle_price(group: Mapping[str, Any], part: str, historical: bool | None) -> Decimal | None:
    """One OHLC value of a candle group in any of the three namings:

    * current: ``open_dollars: "0.4200"``;
    * ``/historical``: ``open: "0.4200"`` (fixed-point dollars without the suffix);
    * legacy: ``open: 42`` (integer cents).

    An unsuffixed value is dollars when ``historical`` is True, cents when False, and when None it
    is told by its JSON type: integers are legacy cents, strings and fractions are dollars.
    """
    v = group.get(f"{part}_dollars")
    if v is not None:
        return dollars(v, f"{part}_dollars")
    v = group.get(part)
    if v is None:
        return None
    legacy_int = isinstance(v, int) and not isinstance(v, bool)
    as_cents = legacy_int if historical is None else not historical
    return cents(v, part) if as_cents else dollars(v, part)


def candle(
    ticker: str, period_minutes: int, msg: Mapping[str, Any], *, historical: bool | None = None
) -> Candle:
    """One candlestick: current naming (``yes_bid.open_dollars``, ``volume_fp``), ``/historical``
    naming (``yes_bid.open`` as dollar strings, ``volume`` as a fixed-point string) or legacy cents.
    See :func:`_candle_price` for how ``historical`` decides unsuffixed prices."""

    def ohlc(group: str) -> tuple[Decimal | None, ...]:
        g = msg.get(group) or {}
        if not isinstance(g, Mapping):
            raise PayloadError("bad_candle", f"{group} is not an object")
        vals = []
        for part in ("open", "high", "low", "close"):
            v = _candle_price(g, part, historical)
            if v is not None:
                check_probability(v, f"{group}.{part}", inclusive=True)
            vals.append(v)
        return tuple(vals)

    yb, ya = ohlc("yes_bid"), ohlc("yes_ask")
    pr = ohlc("price")
    end = msg.get("end_period_ts", msg.get("end_ts"))
    return Candle(
        ticker, period_minutes, timestamp(end, "end_period_ts"), *yb, *ya, *pr,
        count_field(msg, "volume", required=False), count_field(msg, "open_interest", required=False),
    )


# --------------------------------------------------------------------------- portfolio (REST)


def _money(msg: Mapping[str, Any], name: str) -> Decimal | None:
    """A dollar amount (4 places): ``name_dollars`` / ``name_fixed``, else ``name`` — an integer
    there is legacy cents (``"balance": 100000``), a string is fixed-point dollars
    (``"fee_cost": "0.0400"``)."""
    for key in (f"{name}_dollars", f"{name}_fixed"):
        v = msg.get(key)
        if v not in (None, ""):
            return to_decimal(v, key).quantize(PRICE_PLACES)
    v = msg.get(name)
    if v in (None, ""):
        return None
    if isinstance(v, int) and not isinstance(v, bool):
        return cents(v, name)
    return to_decimal(v, name).quantize(PRICE_PLACES)


def _portfolio_price(msg: Mapping[str, Any], name: str) -> Decimal | None:
    for key in (f"{name}_dollars", f"{name}_fixed"):
        v = msg.get(key)
        if v not in (None, ""):
            return check_probability(dollars(v, key), key, inclusive=True)
    v = msg.get(name)
    if v in (None, ""):
        return None
    return check_probability(cents(v, name), name, inclusive=True)


def _action(value: Any) -> str:
    if value not in ("buy", "sell"):
        raise PayloadError("bad_action", f"action={value!r}, expected 'buy' or 'sell'")
    return str(value)


def order(msg: Mapping[str, Any]) -> Order:
    """``GET/POST /portfolio/orders`` item (fixed-point ``*_dollars`` / ``*_fp`` or legacy cents)."""
    order_id = msg.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        raise PayloadError("missing_field", "order_id missing")
    return Order(
        order_id=order_id,
        client_order_id=_str(msg, "client_order_id"),
        ticker=_ticker(msg, "ticker", "market_ticker"),
        side=_side(msg.get("side")),
        action=_action(msg.get("action")),
        status=_str(msg, "status"),
        order_type=_str(msg, "type"),
        yes_price=_portfolio_price(msg, "yes_price"),
        no_price=_portfolio_price(msg, "no_price"),
        initial_count=count_field(msg, "initial_count", required=False),
        fill_count=count_field(msg, "fill_count", required=False),
        remaining_count=count_field(msg, "remaining_count", required=False),
        created_time=optional_timestamp(msg.get("created_time"), "created_time"),
        last_update_time=optional_timestamp(msg.get("last_update_time"), "last_update_time"),
    )


def fill(msg: Mapping[str, Any]) -> Fill:
    """``GET /portfolio/fills`` item. Prices: ``*_dollars``, ``*_fixed`` or legacy cents."""
    fill_id = msg.get("fill_id") or msg.get("trade_id")
    if not isinstance(fill_id, str) or not fill_id:
        raise PayloadError("missing_field", "fill_id missing")
    yes_price = _portfolio_price(msg, "yes_price")
    no_price = _portfolio_price(msg, "no_price")
    if yes_price is None and no_price is None:
        raise PayloadError("missing_field", "neither yes_price nor no_price present")
    if yes_price is None:
        assert no_price is not None
        yes_price = _ONE - no_price
    if no_price is None:
        no_price = _ONE - yes_price
    if yes_price + no_price != _ONE:
        raise PayloadError("inconsistent_prices", f"yes_price {yes_price} + no_price {no_price} != 1")
    count = count_field(msg, "count")
    assert count is not None
    if count <= 0:
        raise PayloadError("bad_count", f"count {count} must be positive")
    taker = msg.get("is_taker")
    raw_ts = msg.get("created_time") or msg.get("ts")
    return Fill(
        fill_id=fill_id,
        order_id=_str(msg, "order_id"),
        ticker=_ticker(msg, "ticker", "market_ticker"),
        side=_side(msg.get("side")),
        action=_action(msg.get("action")),
        count=count,
        yes_price=yes_price,
        no_price=no_price,
        is_taker=bool(taker) if taker is not None else None,
        fee=_money(msg, "fee_cost"),
        ts=optional_timestamp(raw_ts, "created_time"),
        trade_id=_str(msg, "trade_id"),
    )


def position(msg: Mapping[str, Any]) -> Position:
    """``GET /portfolio/positions`` ``market_positions`` item (``position_fp`` or legacy ``position``)."""
    pos = count_field(msg, "position")
    assert pos is not None
    resting = msg.get("resting_orders_count")
    return Position(
        ticker=_ticker(msg, "ticker", "market_ticker"),
        position=pos,
        market_exposure=_money(msg, "market_exposure"),
        realized_pnl=_money(msg, "realized_pnl"),
        fees_paid=_money(msg, "fees_paid"),
        total_traded=_money(msg, "total_traded"),
        resting_orders_count=(
            int(resting) if isinstance(resting, int) and not isinstance(resting, bool) else None
        ),
    )


def balance(msg: Mapping[str, Any]) -> Balance:
    """``GET /portfolio/balance``: ``balance`` / ``portfolio_value`` in cents, or ``*_dollars``."""
    cash = _money(msg, "balance")
    if cash is None:
        raise PayloadError("missing_field", "balance missing")
    return Balance(
        balance=cash,
        portfolio_value=_money(msg, "portfolio_value"),
        updated_ts=optional_timestamp(msg.get("updated_ts"), "updated_ts"),
    )


def historical_cutoff(msg: Mapping[str, Any]) -> HistoricalCutoff:
    """``GET /historical/cutoff``."""
    return HistoricalCutoff(
        market_settled_ts=optional_timestamp(msg.get("market_settled_ts"), "market_settled_ts"),
        trades_created_ts=optional_timestamp(msg.get("trades_created_ts"), "trades_created_ts"),
        orders_updated_ts=optional_timestamp(msg.get("orders_updated_ts"), "orders_updated_ts"),
    )


def market_settled_ts(msg: Mapping[str, Any]) -> datetime | None:
    """When a market settled: ``settlement_ts`` if Kalshi sent it, else its ``close_time``."""
    for key in ("settlement_ts", "close_time"):
        ts = optional_timestamp(msg.get(key), key)
        if ts is not None:
            return ts
    return None


# --------------------------------------------------------------------------- tickers


def series_from_ticker(ticker: str) -> str:
    """``KXNBAGAME-26MAR07GSWOKC-GSW`` → ``KXNBAGAME``."""
    return ticker.split("-", 1)[0]


def event_from_ticker(ticker: str) -> str:
    """``KXNBAGAME-26MAR07GSWOKC-GSW`` → ``KXNBAGAME-26MAR07GSWOKC`` (a market's event)."""
    parts = ticker.split("-")
    return "-".join(parts[:-1]) if len(parts) >= 3 else ticker


def outcome_side(yes: bool) -> str:
    return YES if yes else NO
