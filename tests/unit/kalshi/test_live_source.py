"""LiveSource against the fake exchange: day rule, stream order, candles, combos, settlements."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from models.records import (
    BookSnapshot,
    Candle,
    ComboMarket,
    EventRecord,
    MarketRecord,
    Rejected,
    SeriesRecord,
    Settlement,
    Trade,
)
from parlay.kalshi.client import KalshiClient
from parlay.sources.base import MarketSource, day_bounds
from parlay.sources.live import LiveSource, LiveSourceConfig, event_trading_day
from tests.fakes.kalshi_server import (
    COLLECTION,
    COMBO_1,
    COMBO_2,
    COMBO_3,
    COMBO_4,
    DEN,
    E_DECI,
    E_FIXED,
    E_LEGACY,
    E_NEXT,
    E_PREV,
    GSW,
    LAL,
    MIA,
    NYK,
    SERIES,
    TRADING_DAY,
    FakeKalshi,
)

D = Decimal
PREV_DAY, NEXT_DAY = date(2026, 3, 6), date(2026, 3, 8)


@pytest.fixture
def source(kalshi_client: KalshiClient) -> LiveSource:
    return LiveSource(kalshi_client, [SERIES])


def test_is_a_market_source(source: LiveSource) -> None:
    assert isinstance(source, MarketSource)
    assert source.name == "live" and source.days() == []
    with pytest.raises(ValueError):
        LiveSourceConfig(series_tickers=())


def test_event_day_rule() -> None:
    tip_off = EventRecord("E", "S", strike_date=datetime(2026, 3, 8, 0, 30, tzinfo=UTC))  # 19:30 in New York
    assert event_trading_day(tip_off, []) == TRADING_DAY
    no_strike = EventRecord("E", "S")
    closes = [MarketRecord("E-A", "E", "S", close_time=datetime(2026, 3, 8, 4, 30, tzinfo=UTC)),
              MarketRecord("E-B", "E", "S", close_time=datetime(2026, 3, 9, 4, 30, tzinfo=UTC))]
    assert event_trading_day(no_strike, closes) == TRADING_DAY
    assert event_trading_day(no_strike, [MarketRecord("E-A", "E", "S")]) is None


def test_metadata_for_the_day(source: LiveSource) -> None:
    items = list(source.metadata(TRADING_DAY))
    assert [i.series_ticker for i in items if isinstance(i, SeriesRecord)] == [SERIES]
    assert {i.event_ticker for i in items if isinstance(i, EventRecord)} == {E_LEGACY, E_FIXED, E_DECI}
    markets = [i for i in items if isinstance(i, MarketRecord)]
    assert len(markets) == 6 and {m.event_ticker for m in markets} == {E_LEGACY, E_FIXED, E_DECI}
    assert not [i for i in items if isinstance(i, Rejected)]
    assert {i.event_ticker for i in source.metadata(PREV_DAY) if isinstance(i, EventRecord)} == {E_PREV}
    assert {i.event_ticker for i in source.metadata(NEXT_DAY) if isinstance(i, EventRecord)} == {E_NEXT}


def test_explicit_event_tickers(kalshi_client: KalshiClient) -> None:
    src = LiveSource(kalshi_client, [], [E_NEXT])
    assert [i.event_ticker for i in src.metadata(NEXT_DAY) if isinstance(i, EventRecord)] == [E_NEXT]
    assert [i for i in src.metadata(TRADING_DAY) if isinstance(i, EventRecord)] == []


def test_metadata_rejects_a_bad_event_and_its_markets(fake_kalshi: FakeKalshi, source: LiveSource) -> None:
    fake_kalshi.data.events[E_FIXED]["strike_date"] = "tomorrow-ish"
    items = list(source.metadata(TRADING_DAY))
    rejected = [i for i in items if isinstance(i, Rejected)]
    reasons = sorted(r.reason for r in rejected)
    assert reasons == ["bad_timestamp", "parent_event_rejected", "parent_event_rejected"]
    assert all(r.source == "live" and r.locator == "/events" for r in rejected)
    assert {i.event_ticker for i in items if isinstance(i, EventRecord)} == {E_LEGACY, E_DECI}


def test_market_stream_trades_then_snapshots(fake_kalshi: FakeKalshi, source: LiveSource) -> None:
    fake_kalshi.page_size = 2
    items = list(source.market_stream(TRADING_DAY))
    trades = [i for i in items if isinstance(i, Trade)]
    snaps = [i for i in items if isinstance(i, BookSnapshot)]
    assert items == trades + snaps  # every trade precedes the call-time snapshots
    start, end = day_bounds(TRADING_DAY)
    assert all(start <= t.ts < end for t in trades)
    assert [t.ts for t in trades] == sorted(t.ts for t in trades)
    ids = {t.trade_id for t in trades}
    assert "t-gsw-early" in ids and "t-gsw-late" not in ids and "t-den-0" in ids
    assert len(ids) == len(trades) == 16
    assert {s.market_ticker for s in snaps} == {
        GSW, LAL, DEN, f"{E_LEGACY}-OKC", f"{E_FIXED}-BOS", f"{E_DECI}-PHX"
    }
    by = {s.market_ticker: s for s in snaps}
    assert by[GSW].yes == by[LAL].yes and by[GSW].no == by[LAL].no


def test_market_stream_yields_rejected_trades(fake_kalshi: FakeKalshi, source: LiveSource) -> None:
    bad = next(t for t in fake_kalshi.data.trades if t["trade_id"] == "t-lal-2")
    bad["yes_price_dollars"] = "1.2000"
    items = list(source.market_stream(TRADING_DAY))
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert len(rejected) == 1
    r = rejected[0]
    assert (r.source, r.locator, r.market_ticker) == ("live", "/markets/trades", LAL)
    assert r.reason == "price_out_of_range"
    assert "t-lal-2" in r.payload
    assert len([i for i in items if isinstance(i, Trade)]) == 15


def test_archived_day_reads_historical_trades_and_has_no_open_books(
    fake_kalshi: FakeKalshi, source: LiveSource
) -> None:
    items = list(source.market_stream(PREV_DAY))
    assert [i.trade_id for i in items if isinstance(i, Trade)] == ["t-nyk-0"]
    assert not [i for i in items if isinstance(i, BookSnapshot)]
    assert fake_kalshi.calls("/historical/trades")


def test_candles(fake_kalshi: FakeKalshi, source: LiveSource) -> None:
    candles = [c for c in source.candles(TRADING_DAY) if isinstance(c, Candle)]
    by: dict[str, list[Candle]] = {}
    for c in candles:
        by.setdefault(c.market_ticker, []).append(c)
    assert set(by) == {GSW, LAL}
    strip = lambda cs: [c._replace(market_ticker="") for c in cs]  # noqa: E731
    assert strip(by[GSW]) == strip(by[LAL]) and len(by[GSW]) == 5
    assert all(c.period_minutes == 1 for c in candles)
    assert not fake_kalshi.calls("/historical/markets/*/candlesticks")

    old = list(source.candles(PREV_DAY))
    assert [c.market_ticker for c in old] == [NYK] * 3
    assert old[0].yes_bid_open == D("0.6000") and old[0].volume == D("10.00")
    assert fake_kalshi.calls(f"/historical/markets/{NYK}/candlesticks")
    assert not fake_kalshi.calls(f"/series/{SERIES}/markets/{NYK}/candlesticks")


def test_combo_markets_and_trades(
    fake_kalshi: FakeKalshi, kalshi_client: KalshiClient, source: LiveSource
) -> None:
    combos = list(source.combo_markets(TRADING_DAY))
    assert [c.ticker for c in combos if isinstance(c, ComboMarket)] == sorted([COMBO_1, COMBO_2, COMBO_4])
    assert [c.ticker for c in source.combo_markets(PREV_DAY)] == [COMBO_3]
    trades = list(source.combo_trades(TRADING_DAY))
    assert [t.trade_id for t in trades] == ["t-combo1-0", "t-combo1-1"]
    assert all(isinstance(t, Trade) and t.market_ticker == COMBO_1 for t in trades)
    filtered = LiveSource(kalshi_client, [SERIES], collection_tickers=["KXMVE-OTHER"])
    assert list(filtered.combo_markets(TRADING_DAY)) == []
    assert fake_kalshi.calls("/events/multivariate")[-1].query["collection_ticker"] == ["KXMVE-OTHER"]
    named = LiveSource(kalshi_client, [SERIES], collection_tickers=[COLLECTION])
    assert len(list(named.combo_markets(TRADING_DAY))) == 3


def test_combo_with_one_leg_is_rejected(fake_kalshi: FakeKalshi, source: LiveSource) -> None:
    fake_kalshi.data.combo_markets[COMBO_2]["mve_selected_legs"] = [
        {"event_ticker": E_DECI, "market_ticker": DEN, "side": "yes"}
    ]
    items = list(source.combo_markets(TRADING_DAY))
    assert [(r.reason, r.market_ticker) for r in items if isinstance(r, Rejected)] == [("bad_combo", COMBO_2)]
    assert {c.ticker for c in items if isinstance(c, ComboMarket)} == {COMBO_1, COMBO_4}


def test_settlements(source: LiveSource) -> None:
    got = {s.market_ticker: s for s in source.settlements(PREV_DAY) if isinstance(s, Settlement)}
    assert set(got) == {NYK, MIA}
    assert (got[NYK].result, got[NYK].settlement_value) == ("yes", D(1))
    assert (got[MIA].result, got[MIA].settlement_value, got[MIA].method) == ("no", D(0), "exchange")
    assert got[NYK].settled_ts == datetime(2026, 3, 7, 3, 5, tzinfo=UTC)
    assert list(source.settlements(TRADING_DAY)) == []


def test_day_plan_is_cached_until_refresh(fake_kalshi: FakeKalshi, source: LiveSource) -> None:
    list(source.metadata(TRADING_DAY))
    list(source.market_stream(TRADING_DAY))
    assert len(fake_kalshi.calls("/events")) == 1
    source.refresh()
    list(source.metadata(TRADING_DAY))
    assert len(fake_kalshi.calls("/events")) == 2
