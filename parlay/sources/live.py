"""The ``live`` market source: Kalshi's REST API through :class:`~parlay.kalshi.client.KalshiClient`.

Which events belong to a trading day (America/New_York calendar, :func:`parlay.sources.base.trading_day`):

* an event with a ``strike_date`` (for an NBA game: tip-off) belongs to the day of its strike date;
* an event without one belongs to the day of the earliest ``close_time`` among its markets;
* an event with neither belongs to no day.

The candidates are the events of the configured series (``GET /events?series_ticker=…`` with
nested markets, pruned to events with a market closing on or after the day's start) plus the
explicitly configured event tickers; the rule above then picks the day's events. A day's base
markets are those events' markets.

Per method:

* :meth:`LiveSource.metadata` — the configured series, the day's events, their markets;
* :meth:`LiveSource.market_stream` — the day's public trades of those markets (REST, ``[start, end)``
  of the day, in time order) followed by one order-book snapshot per market that is open at call
  time (stamped with the call time, so after every trade). There are no deltas over REST;
* :meth:`LiveSource.candles` — 1-minute exchange candles of the day's markets, from
  ``/historical/markets/{t}/candlesticks`` for markets that closed before Kalshi's historical
  cutoff, from the live endpoint otherwise (each falls back to the other on 404);
* :meth:`LiveSource.combo_markets` — combo (MVE) markets of the configured collections (all when
  none is configured) with at least one leg in one of the day's events;
* :meth:`LiveSource.combo_trades` — the day's trades on those combo tickers;
* :meth:`LiveSource.settlements` — the result of every determined market of the day's events.

Inputs that fail normalization come out as :class:`~models.records.Rejected` with source ``live``
and the endpoint as locator; HTTP and transport failures raise (a run should fail loudly, not load
a partial day silently). The day's event set is cached per source instance; call
:meth:`LiveSource.refresh` to forget it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from models.records import (
    Candle,
    ComboMarket,
    EventRecord,
    MarketRecord,
    Rejected,
    Settlement,
    Trade,
)
from parlay.kalshi.client import KalshiClient
from parlay.kalshi.errors import KalshiBadResponse, KalshiNotFound
from parlay.kalshi.normalize import event_from_ticker, series_from_ticker
from parlay.kalshi.types import HistoricalCutoff
from parlay.sources.base import MetadataItem, StreamItem, day_bounds, trading_day

log = logging.getLogger(__name__)

SOURCE = "live"
OPEN_STATUSES = frozenset({"active", "open"})


@dataclass(frozen=True)
class LiveSourceConfig:
    """What the live source follows. ``collection_tickers`` empty = every MVE collection."""

    series_tickers: tuple[str, ...]
    event_tickers: tuple[str, ...] = ()
    collection_tickers: tuple[str, ...] = ()
    orderbook_depth: int | None = None
    candle_period_minutes: int = 1

    def __post_init__(self) -> None:
        if not self.series_tickers and not self.event_tickers:
            raise ValueError("configure at least one series or event ticker")


def event_trading_day(event: EventRecord, markets: Sequence[MarketRecord]) -> date | None:
    """The trading day an event belongs to (see the module docstring)."""
    if event.strike_date is not None:
        return trading_day(event.strike_date)
    closes = [m.close_time for m in markets if m.close_time is not None]
    return trading_day(min(closes)) if closes else None


@dataclass
class _DayPlan:
    events: dict[str, EventRecord] = field(default_factory=dict)
    markets: dict[str, MarketRecord] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    combos: list[ComboMarket] | None = None
    combo_rejected: list[Rejected] = field(default_factory=list)


class LiveSource:
    """:class:`parlay.sources.base.MarketSource` over the Kalshi REST API."""

    name = SOURCE

    def __init__(
        self,
        client: KalshiClient,
        series_tickers: Sequence[str] = (),
        event_tickers: Sequence[str] = (),
        *,
        collection_tickers: Sequence[str] = (),
        orderbook_depth: int | None = None,
        config: LiveSourceConfig | None = None,
    ) -> None:
        self.client = client
        self.config = config or LiveSourceConfig(
            tuple(series_tickers), tuple(event_tickers), tuple(collection_tickers), orderbook_depth
        )
        self._plans: dict[date, _DayPlan] = {}

    @classmethod
    def from_env(
        cls, series_tickers: Sequence[str], event_tickers: Sequence[str] = (), **kwargs: Any
    ) -> LiveSource:
        """A source over :meth:`KalshiClient.from_env` (environment read now, not at import)."""
        return cls(KalshiClient.from_env(), series_tickers, event_tickers, **kwargs)

    def refresh(self) -> None:
        """Forget cached day plans (events, markets, combos)."""
        self._plans.clear()

    def days(self) -> list[date]:
        return []  # open-ended

    # ------------------------------------------------------------------ the day's events

    def _plan(self, day: date) -> _DayPlan:
        cached = self._plans.get(day)
        if cached is not None:
            return cached
        start, _ = day_bounds(day)
        groups: dict[str, tuple[EventRecord, list[MarketRecord]]] = {}
        plan = _DayPlan()

        def take(items: Iterable[EventRecord | MarketRecord | Rejected]) -> None:
            for item in items:
                if isinstance(item, Rejected):
                    plan.rejected.append(item)
                elif isinstance(item, EventRecord):
                    groups.setdefault(item.event_ticker, (item, []))
                elif item.event_ticker in groups:
                    groups[item.event_ticker][1].append(item)
                else:
                    plan.rejected.append(self._orphan(item))

        for series in self.config.series_tickers:
            take(self.client.iter_events(
                series_ticker=series, with_nested_markets=True, min_close_ts=start, rejects=True
            ))
        for ticker in self.config.event_tickers:
            if ticker in groups:
                continue
            try:
                one_event, its_markets = self.client.get_event(ticker, with_nested_markets=True)
            except KalshiBadResponse as exc:
                plan.rejected.append(self._rejected_from(exc, f"/events/{ticker}", ticker))
                continue
            groups[one_event.event_ticker] = (one_event, list(its_markets))
        for ev, markets in groups.values():
            if event_trading_day(ev, markets) != day:
                continue
            plan.events[ev.event_ticker] = ev
            for m in markets:
                plan.markets[m.ticker] = m
        self._plans[day] = plan
        return plan

    @staticmethod
    def _orphan(m: MarketRecord) -> Rejected:
        detail = f"market {m.ticker} arrived without its event"
        return Rejected(SOURCE, "/events", 0, "orphan_market", detail, repr(m), m.ticker)

    @staticmethod
    def _rejected_from(exc: KalshiBadResponse, locator: str, ticker: str | None) -> Rejected:
        return Rejected(SOURCE, locator, 0, exc.reason, exc.detail, exc.payload, ticker)

    # ------------------------------------------------------------------ MarketSource

    def metadata(self, day: date) -> Iterator[MetadataItem]:
        for series in self.config.series_tickers:
            try:
                yield self.client.get_series(series)
            except KalshiBadResponse as exc:
                yield self._rejected_from(exc, f"/series/{series}", series)
        plan = self._plan(day)
        yield from plan.rejected
        for ticker in sorted(plan.events):
            yield plan.events[ticker]
        for ticker in sorted(plan.markets):
            yield plan.markets[ticker]

    def market_stream(self, day: date) -> Iterator[StreamItem]:
        plan = self._plan(day)
        yield from self._trades(sorted(plan.markets), day)
        for ticker in sorted(plan.markets):
            if plan.markets[ticker].status in OPEN_STATUSES:
                yield self.client.get_orderbook(ticker, depth=self.config.orderbook_depth, rejects=True)

    def _trades(self, tickers: Sequence[str], day: date) -> Iterator[Trade | Rejected]:
        """The day's trades on ``tickers`` in time order. Days that begin before Kalshi's trade
        cutoff are also read from ``/historical/trades`` (duplicates by ``trade_id`` dropped)."""
        start, end = day_bounds(day)
        seen: dict[str, Trade] = {}
        tiers = [False]
        if tickers:
            cutoff = self._cutoff()
            trades_cutoff = cutoff.trades_created_ts if cutoff is not None else None
            if trades_cutoff is not None and start < trades_cutoff:
                tiers.append(True)
        for historical in tiers:
            for ticker in tickers:
                try:
                    items = list(self.client.iter_trades(
                        ticker=ticker, min_ts=start, max_ts=end, historical=historical, rejects=True
                    ))
                except KalshiNotFound:
                    if not historical:
                        raise
                    log.warning("kalshi /historical/trades unavailable for %s", ticker)
                    continue
                for item in items:
                    if isinstance(item, Rejected):
                        yield item
                    elif start <= item.ts < end:
                        seen.setdefault(item.trade_id, item)
        yield from sorted(seen.values(), key=lambda t: (t.ts, t.trade_id))

    def candles(self, day: date) -> Iterator[Candle | Rejected]:
        plan = self._plan(day)
        start, end = day_bounds(day)
        period = self.config.candle_period_minutes
        cutoff = self._cutoff()
        for ticker in sorted(plan.markets):
            m = plan.markets[ticker]
            archived = (
                cutoff is not None
                and cutoff.market_settled_ts is not None
                and m.close_time is not None
                and m.close_time < cutoff.market_settled_ts
            )
            rows = self._market_candles(m, start, end, period, archived)
            for row in rows:
                if isinstance(row, Rejected) or start < row.end_ts <= end:
                    yield row

    def _cutoff(self) -> HistoricalCutoff | None:
        try:
            return self.client.get_historical_cutoff()
        except (KalshiNotFound, KalshiBadResponse) as exc:
            log.warning("kalshi historical cutoff unavailable (%s); reading the live tier only", exc)
            return None

    def _market_candles(
        self, m: MarketRecord, start: datetime, end: datetime, period: int, archived: bool
    ) -> list[Candle | Rejected]:
        def live() -> list[Candle | Rejected]:
            series = m.series_ticker or series_from_ticker(m.ticker)
            return self.client.get_candlesticks(series, m.ticker, start, end, period, rejects=True)

        def historical() -> list[Candle | Rejected]:
            return self.client.get_historical_candlesticks(m.ticker, start, end, period, rejects=True)

        first, second = (historical, live) if archived else (live, historical)
        try:
            return first()
        except KalshiNotFound:
            try:
                return second()
            except KalshiNotFound:
                log.warning("kalshi: no candles for %s on either endpoint", m.ticker)
                return []

    def _combos(self, day: date) -> _DayPlan:
        plan = self._plan(day)
        if plan.combos is not None:
            return plan
        combos: dict[str, ComboMarket] = {}
        for collection in self.config.collection_tickers or (None,):
            for item in self.client.iter_multivariate_events(collection_ticker=collection, rejects=True):
                if isinstance(item, Rejected):
                    plan.combo_rejected.append(item)
                elif self._touches(item, plan.events):
                    combos.setdefault(item.ticker, item)
        plan.combos = [combos[t] for t in sorted(combos)]
        return plan

    @staticmethod
    def _touches(combo: ComboMarket, events: Mapping[str, EventRecord]) -> bool:
        return any(
            (leg.event_ticker or event_from_ticker(leg.market_ticker)) in events for leg in combo.legs
        )

    def combo_markets(self, day: date) -> Iterator[ComboMarket | Rejected]:
        plan = self._combos(day)
        yield from plan.combo_rejected
        yield from plan.combos or []

    def combo_trades(self, day: date) -> Iterator[Trade | Rejected]:
        plan = self._combos(day)
        yield from self._trades([c.ticker for c in plan.combos or []], day)

    def settlements(self, day: date) -> Iterator[Settlement | Rejected]:
        plan = self._plan(day)
        for event_ticker in sorted(plan.events):
            yield from self.client.iter_settlements(event_ticker=event_ticker, rejects=True)
