"""Kalshi payload normalization: both unit shapes give identical exact decimals."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parlay.kalshi import normalize as nz
from parlay.kalshi.normalize import PayloadError

D = Decimal
TS = datetime(2026, 3, 8, 0, 31, tzinfo=UTC)


def reason(fn, *args, **kwargs) -> str:
    with pytest.raises(PayloadError) as info:
        fn(*args, **kwargs)
    return info.value.reason


# --------------------------------------------------------------------------- scalars


def test_scalars_are_exact_and_quantized() -> None:
    assert nz.dollars("0.42") == D("0.4200")
    assert str(nz.dollars("0.42")) == "0.4200"
    assert nz.cents(42) == D("0.4200")
    assert nz.contracts("118") == D("118.00")
    assert str(nz.contracts(5)) == "5.00"
    assert nz.to_decimal(0.1, "x") == D("0.1")  # shortest repr, not the binary expansion
    assert nz.to_decimal(D("0.045"), "x") == D("0.045")


def test_sub_cent_ticks_survive() -> None:
    assert nz.dollars("0.0450") == D("0.0450")
    assert nz.price_field({"yes_price_dollars": "0.0450"}, "yes_price") == D("0.0450")
    assert nz.price_field({"yes_price_dollars": "0.9530", "yes_price": 95}, "yes_price") == D("0.9530")


@pytest.mark.parametrize("bad", [None, True, "abc", "NaN", "Infinity", [1], {"a": 1}])
def test_bad_numbers_are_refused(bad: object) -> None:
    assert reason(nz.to_decimal, bad, "x") == "bad_number"


@pytest.mark.parametrize("price", ["0", "1", "1.5", "-0.01", "0.0000", "1.0000"])
def test_prices_outside_the_open_interval_are_refused(price: str) -> None:
    assert reason(nz.check_probability, D(price), "p") == "price_out_of_range"


def test_settlement_values_may_touch_the_bounds() -> None:
    assert nz.check_probability(D("1"), "p", inclusive=True) == D(1)
    assert nz.check_probability(D("0"), "p", inclusive=True) == D(0)
    assert reason(nz.check_probability, D("1.01"), "p", inclusive=True) == "price_out_of_range"


def test_price_field_prefers_fixed_point_and_reports_missing() -> None:
    assert nz.price_field({"yes_bid": 42}, "yes_bid") == D("0.4200")
    assert nz.price_field({}, "yes_bid", required=False) is None
    assert reason(nz.price_field, {}, "yes_bid") == "missing_field"
    assert nz.count_field({"count": 5}, "count") == D("5.00")
    assert nz.count_field({"count_fp": "5.50", "count": 5}, "count") == D("5.50")


def test_timestamps_in_every_form() -> None:
    secs = int(TS.timestamp())
    assert nz.timestamp(secs) == TS
    assert nz.timestamp(secs * 1000) == TS
    assert nz.timestamp(D(secs) + D("0.5")) == TS.replace(microsecond=500000)
    assert nz.timestamp("2026-03-08T00:31:00Z") == TS
    assert nz.timestamp("2026-03-08T00:31:00") == TS  # naive ISO is taken as UTC
    assert reason(nz.timestamp, "yesterday") == "bad_timestamp"
    assert reason(nz.timestamp, None) == "bad_timestamp"
    assert reason(nz.timestamp, D("NaN")) == "bad_timestamp"


@given(st.integers(min_value=1, max_value=99))
def test_cents_and_dollars_agree_for_every_cent(c: int) -> None:
    assert nz.cents(c) == nz.dollars(f"0.{c:02d}") == nz.dollars(f"0.{c:02d}00")


@given(st.integers(min_value=1, max_value=9999))
def test_four_place_dollar_strings_round_trip(n: int) -> None:
    text = f"{D(n) / 10000:.4f}"
    assert str(nz.dollars(text)) == text


# --------------------------------------------------------------------------- books


LEGACY_BOOK = {"orderbook": {"yes": [[42, 100], [40, 500], [41, 250]], "no": [[55, 300], [56, 80]]}}
FIXED_BOOK = {
    "orderbook_fp": {
        "yes_dollars": [["0.4200", "100.00"], ["0.4000", "500.00"], ["0.4100", "250.00"]],
        "no_dollars": [["0.5500", "300.00"], ["0.5600", "80.00"]],
    }
}


def test_rest_orderbook_both_shapes_identical_and_sorted() -> None:
    a = nz.rest_orderbook("T", LEGACY_BOOK, TS)
    b = nz.rest_orderbook("T", FIXED_BOOK, TS)
    assert a == b
    assert a.yes == ((D("0.4000"), D("500.00")), (D("0.4100"), D("250.00")), (D("0.4200"), D("100.00")))
    assert nz.best_bid(a.no) == D("0.5600")


def test_orderbook_sub_cent_levels_and_zero_sizes() -> None:
    book = {"orderbook_fp": {"yes_dollars": [["0.0450", "10"], ["0.0440", 0]], "no_dollars": None}}
    snap = nz.rest_orderbook("T", book, TS)
    assert snap.yes == ((D("0.0450"), D("10.00")),)
    assert snap.no == ()


def test_crossed_and_out_of_range_books_are_refused() -> None:
    crossed = {"orderbook_fp": {"yes_dollars": [["0.6000", "1"]], "no_dollars": [["0.5000", "1"]]}}
    assert reason(nz.rest_orderbook, "T", crossed, TS) == "crossed_book"
    at_one = {"orderbook": {"yes": [[100, 5]], "no": []}}
    assert reason(nz.rest_orderbook, "T", at_one, TS) == "price_out_of_range"
    assert reason(nz.rest_orderbook, "T", {"orderbook": {"yes": [[40, -5]]}}, TS) == "bad_book"
    assert reason(nz.rest_orderbook, "T", {"orderbook": {"yes": [[40]]}}, TS) == "bad_book"


def test_ws_snapshot_and_delta_both_shapes() -> None:
    legacy = nz.ws_snapshot({"market_ticker": "T", "yes": [[42, 100]], "no": [[55, 3]]}, TS, 1, 2)
    fixed_msg = {
        "market_ticker": "T", "yes_dollars_fp": [["0.4200", "100.00"]], "no_dollars_fp": [["0.5500", "3"]]
    }
    fixed = nz.ws_snapshot(fixed_msg, TS, 1, 2)
    assert legacy == fixed
    d1 = nz.ws_delta(
        {"market_ticker": "T", "price": 42, "delta": -5, "side": "yes", "ts": "2026-03-08T00:31:00Z"}, 1, 3
    )
    d2 = nz.ws_delta(
        {"market_ticker": "T", "price_dollars": "0.4200", "delta_fp": "-5.00", "side": "yes",
         "ts": TS.isoformat()},
        1,
        3,
    )
    assert d1 == d2 and d1.delta == D("-5.00")
    bad_side = {"market_ticker": "T", "price": 42, "delta": 1, "side": "maybe", "ts": 1}
    assert reason(nz.ws_delta, bad_side, 1, 1) == "bad_side"


# --------------------------------------------------------------------------- trades


def test_trade_both_shapes_identical() -> None:
    legacy = {"trade_id": "x", "ticker": "T", "count": 5, "yes_price": 42, "no_price": 58,
              "taker_side": "yes", "created_time": "2026-03-08T00:31:00Z"}
    fixed = {"trade_id": "x", "ticker": "T", "count_fp": "5.00", "yes_price_dollars": "0.4200",
             "no_price_dollars": "0.5800", "taker_side": "yes", "created_time": "2026-03-08T00:31:00Z"}
    assert nz.trade(legacy) == nz.trade(fixed)
    t = nz.trade(fixed)
    assert (t.yes_price, t.no_price, t.count, t.ts) == (D("0.4200"), D("0.5800"), D("5.00"), TS)


def test_trade_sub_cent_and_missing_no_price() -> None:
    t = nz.trade(
        {"trade_id": "y", "market_ticker": "T", "count_fp": "1", "yes_price_dollars": "0.0450", "ts": 1}
    )
    assert t.yes_price == D("0.0450") and t.no_price == D("0.9550")
    assert t.taker_side is None


@pytest.mark.parametrize(
    ("patch", "why"),
    [
        ({"yes_price": 0, "no_price": 100}, "price_out_of_range"),
        ({"yes_price": 100, "no_price": 0}, "price_out_of_range"),
        ({"yes_price": 42, "no_price": 57}, "inconsistent_prices"),
        ({"count": 0}, "bad_count"),
        ({"trade_id": ""}, "missing_field"),
        ({"taker_side": "up"}, "bad_side"),
        ({"created_time": "soon"}, "bad_timestamp"),
    ],
)
def test_trade_rejections(patch: dict[str, object], why: str) -> None:
    base = {"trade_id": "x", "ticker": "T", "count": 5, "yes_price": 42, "no_price": 58,
            "taker_side": "yes", "created_time": "2026-03-08T00:31:00Z"}
    assert reason(nz.trade, {**base, **patch}) == why


# --------------------------------------------------------------------------- metadata


def test_market_both_shapes_same_prices() -> None:
    legacy = {"ticker": "KXNBAGAME-26MAR07GSWOKC-GSW", "event_ticker": "KXNBAGAME-26MAR07GSWOKC",
              "yes_bid": 42, "yes_ask": 44, "last_price": 43, "volume": 1500, "open_interest": 900,
              "close_time": "2026-03-08T04:00:00Z", "status": "active", "result": "", "tick_size": 1}
    fixed = {"ticker": "KXNBAGAME-26MAR07GSWOKC-GSW", "event_ticker": "KXNBAGAME-26MAR07GSWOKC",
             "yes_bid_dollars": "0.4200", "yes_ask_dollars": "0.4400", "last_price_dollars": "0.4300",
             "volume_fp": "1500.00", "open_interest_fp": "900.00", "close_time": "2026-03-08T04:00:00Z",
             "status": "active", "result": ""}
    a, b = nz.market(legacy, "live"), nz.market(fixed, "live")
    fields = ("yes_bid", "yes_ask", "last_price", "volume", "open_interest", "close_time", "series_ticker")
    assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
    assert a.series_ticker == "KXNBAGAME" and a.tick_size == D("0.0100") and a.result is None


def test_market_results_and_event_series() -> None:
    assert nz.market({"ticker": "A-B-C", "result": "yes"}, "s").result == "yes"
    assert nz.market({"ticker": "A-B-C", "result": "void"}, "s").result is None
    assert reason(nz.market, {"ticker": "A-B-C", "result": "maybe"}, "s") == "bad_side"
    ev = nz.event({"event_ticker": "E", "series_ticker": "S", "mutually_exclusive": True,
                   "strike_date": "2026-03-08T00:30:00Z"}, "live")
    assert ev.mutually_exclusive is True and ev.strike_date == datetime(2026, 3, 8, 0, 30, tzinfo=UTC)
    s = nz.series(
        {"ticker": "KXNBAGAME", "fee_type": "quadratic_with_maker_fees", "fee_multiplier": 1}, "live"
    )
    assert s.fee_multiplier == D(1)


def test_combo_market_legs() -> None:
    msg = {"ticker": "KXMVE-X-1", "event_ticker": "KXMVE-X", "mve_collection_ticker": "KXMVE",
           "mve_selected_legs": [{"event_ticker": "E1", "market_ticker": "E1-A", "side": "yes"},
                                 {"event_ticker": "E2", "market_ticker": "E2-B", "side": "no"}]}
    c = nz.combo_market(msg, "live")
    assert [(leg.market_ticker, leg.side) for leg in c.legs] == [("E1-A", "yes"), ("E2-B", "no")]
    assert c.collection_ticker == "KXMVE"
    one_leg = {**msg, "mve_selected_legs": msg["mve_selected_legs"][:1]}
    assert reason(nz.combo_market, one_leg, "live") == "bad_combo"


def test_settlement_and_ticker_helpers() -> None:
    m = nz.market({"ticker": "E-T", "result": "no"}, "live")
    s = nz.settlement_from_market(m, TS)
    assert s is not None and s.settlement_value == D(0) and s.result == "no"
    assert nz.settlement_from_market(nz.market({"ticker": "E-T"}, "live"), TS) is None
    assert nz.series_from_ticker("KXNBAGAME-26MAR07GSWOKC-GSW") == "KXNBAGAME"
    assert nz.event_from_ticker("KXNBAGAME-26MAR07GSWOKC-GSW") == "KXNBAGAME-26MAR07GSWOKC"
    assert nz.market_settled_ts({"close_time": "2026-03-08T00:31:00Z"}) == TS
    both = {"settlement_ts": "2026-03-08T00:31:00Z", "close_time": "2026-01-01T00:00:00Z"}
    assert nz.market_settled_ts(both) == TS


# --------------------------------------------------------------------------- candles


def test_candle_three_namings_identical() -> None:
    legacy = {"end_period_ts": int(TS.timestamp()),
              "yes_bid": {"open": 42, "low": 41, "high": 42, "close": 42},
              "yes_ask": {"open": 44, "low": 43, "high": 44, "close": 44},
              "price": {"open": 43, "low": 42, "high": 43, "close": 42}, "volume": 6, "open_interest": 900}
    current = {"end_period_ts": int(TS.timestamp()),
               "yes_bid": {"open_dollars": "0.4200", "low_dollars": "0.4100", "high_dollars": "0.4200",
                           "close_dollars": "0.4200"},
               "yes_ask": {"open_dollars": "0.4400", "low_dollars": "0.4300", "high_dollars": "0.4400",
                           "close_dollars": "0.4400"},
               "price": {"open_dollars": "0.4300", "low_dollars": "0.4200", "high_dollars": "0.4300",
                         "close_dollars": "0.4200"},
               "volume_fp": "6.00", "open_interest_fp": "900.00"}
    historical = {"end_period_ts": int(TS.timestamp()),
                  "yes_bid": {"open": "0.4200", "low": "0.4100", "high": "0.4200", "close": "0.4200"},
                  "yes_ask": {"open": "0.4400", "low": "0.4300", "high": "0.4400", "close": "0.4400"},
                  "price": {"open": "0.4300", "low": "0.4200", "high": "0.4300", "close": "0.4200",
                            "mean": "0.4250", "previous": "0.4200"},
                  "volume": "6.00", "open_interest": "900.00"}
    a = nz.candle("T", 1, legacy)
    b = nz.candle("T", 1, current)
    c = nz.candle("T", 1, historical, historical=True)
    d = nz.candle("T", 1, historical)  # told apart by JSON type without the flag
    assert a == b == c == d
    assert (a.yes_bid_low, a.price_close, a.volume, a.end_ts) == (D("0.4100"), D("0.4200"), D("6.00"), TS)


def test_candle_null_prices_and_bad_groups() -> None:
    msg = {"end_period_ts": 1772929860, "yes_bid": {"open_dollars": "0.0450"},
           "price": {"open_dollars": None, "close_dollars": None}}
    c = nz.candle("T", 1, msg)
    assert c.yes_bid_open == D("0.0450") and c.price_open is None and c.volume is None
    assert reason(nz.candle, "T", 1, {**msg, "yes_ask": [1, 2]}) == "bad_candle"
    assert reason(nz.candle, "T", 1, {**msg, "yes_bid": {"open_dollars": "1.5"}}) == "price_out_of_range"
    assert reason(nz.candle, "T", 1, {"yes_bid": {}}) == "bad_timestamp"
    # an integer without the historical flag is legacy cents; with it, dollars (and out of range)
    assert nz.candle("T", 1, {"end_period_ts": 1, "yes_bid": {"open": 5}}).yes_bid_open == D("0.0500")
    assert reason(nz.candle, "T", 1, {"end_period_ts": 1, "yes_bid": {"open": 5}}, historical=True) == (
        "price_out_of_range"
    )


# --------------------------------------------------------------------------- portfolio


def test_order_both_shapes() -> None:
    legacy = {"order_id": "o1", "client_order_id": "c1", "ticker": "T", "side": "yes", "action": "buy",
              "type": "limit", "status": "resting", "yes_price": 40, "no_price": 60, "initial_count": 5,
              "fill_count": 0, "remaining_count": 5, "created_time": "2026-03-08T00:31:00Z"}
    fixed = {"order_id": "o1", "client_order_id": "c1", "ticker": "T", "side": "yes", "action": "buy",
             "type": "limit", "status": "resting",
             "yes_price_dollars": "0.4000", "no_price_dollars": "0.6000",
             "initial_count_fp": "5.00", "fill_count_fp": "0.00", "remaining_count_fp": "5.00",
             "created_time": "2026-03-08T00:31:00Z"}
    assert nz.order(legacy) == nz.order(fixed)
    assert reason(nz.order, {**fixed, "action": "hold"}) == "bad_action"
    assert reason(nz.order, {**fixed, "order_id": None}) == "missing_field"


def test_fill_position_balance() -> None:
    f = nz.fill({"fill_id": "f", "ticker": "T", "side": "no", "action": "buy", "count_fp": "2.00",
                 "yes_price_fixed": "0.0450", "no_price_fixed": "0.9550", "fee_cost": "0.0100",
                 "created_time": "2026-03-08T00:31:00Z", "is_taker": False})
    assert (f.yes_price, f.no_price, f.fee, f.is_taker) == (D("0.0450"), D("0.9550"), D("0.0100"), False)
    assert nz.fill({"trade_id": "f", "ticker": "T", "side": "yes", "action": "sell", "count": 1,
                    "yes_price": 42}).no_price == D("0.5800")
    assert reason(nz.fill, {"fill_id": "f", "ticker": "T", "side": "yes", "action": "buy", "count": 1}) == (
        "missing_field"
    )
    p1 = nz.position({"ticker": "T", "position": -5, "market_exposure": 290, "resting_orders_count": 2})
    p2 = nz.position({"ticker": "T", "position_fp": "-5.00", "market_exposure_dollars": "2.9000",
                      "resting_orders_count": 2})
    assert p1 == p2 and p1.position == D("-5.00") and p1.market_exposure == D("2.9000")
    b = nz.balance({"balance": 100000, "portfolio_value": 2500, "updated_ts": 1772929860})
    assert (b.balance, b.portfolio_value) == (D("1000.0000"), D("25.0000"))
    assert nz.balance({"balance_dollars": "1000.00"}).balance == D("1000.0000")
    assert reason(nz.balance, {}) == "missing_field"
    cut = nz.historical_cutoff({"market_settled_ts": "2026-03-08T00:31:00Z"})
    assert cut.market_settled_ts == TS and cut.trades_created_ts is None
