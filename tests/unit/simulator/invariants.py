"""Invariants every simulated day must satisfy, whatever the configuration."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from decimal import Decimal

from models.records import NO, YES, BookDelta, BookSnapshot, Trade
from models.simulator import SimulatedDay
from models.simulator.exchange import pregame_times
from parlay.sources.base import trading_day

CENT = Decimal("0.01")
ONE = Decimal(1)
EVENT_RE = re.compile(r"^SIMNBA[A-Z0-9]+-\d{2}[A-Z]{3}\d{2}[A-Z]{6}$")


def on_grid(price: Decimal) -> bool:
    return Decimal(0) < price < ONE and price % CENT == 0 and price.as_tuple().exponent == -4


def check_metadata(day: SimulatedDay) -> None:
    cfg = day.config
    assert {s.fee_type for s in day.series} == {"quadratic_with_maker_fees"}
    series = {s.series_ticker for s in day.series}
    events = {e.event_ticker: e for e in day.events}
    tickers = [m.ticker for m in day.markets]
    assert len(set(tickers)) == len(tickers)
    per_game = Counter(m.event_ticker.split("-")[1] for m in day.markets)
    assert len(per_game) == cfg.n_games
    assert all(cfg.min_markets_per_game <= n <= cfg.max_markets_per_game for n in per_game.values())
    for m in day.markets:
        assert m.series_ticker in series
        assert m.event_ticker in events
        assert EVENT_RE.match(m.event_ticker), m.event_ticker
        assert m.ticker.startswith(m.event_ticker + "-")
        assert m.tick_size == CENT
        assert m.open_time < m.close_time
        assert m.result in (YES, NO)
        assert m.yes_sub_title
    me = {e.series_ticker: e.mutually_exclusive for e in day.events}
    assert me["SIMNBAGAME"] is True and me["SIMNBATOTALRANGE"] is True
    assert me["SIMNBASPREAD"] is False and me["SIMNBATOTAL"] is False


def check_books(day: SimulatedDay) -> None:
    cfg = day.config
    per_market = Counter(s.market_ticker for s in day.book_snapshots)
    assert set(per_market) == {m.ticker for m in day.markets}
    for ticker, n in per_market.items():
        game = day.truth.game_of(ticker)
        assert n == cfg.session_minutes + len(pregame_times(cfg, game)), ticker
    opens = {m.ticker: m.open_time for m in day.markets}
    for s in day.book_snapshots:
        game = day.truth.game_of(s.market_ticker)
        assert s.ts < game.end
        assert s.ts >= opens[s.market_ticker]  # a market quotes from its open, never before
        assert trading_day(s.ts) == trading_day(game.tipoff)
    for s in day.book_snapshots:
        assert s.yes and s.no
        assert len(s.yes) <= cfg.book_levels and len(s.no) <= cfg.book_levels
        for side in (s.yes, s.no):
            prices = [p for p, _ in side]
            assert prices == sorted(set(prices))  # ascending, distinct
            assert all(on_grid(p) for p in prices)
            assert all(q > 0 and q % 1 == 0 for _, q in side)
        assert s.yes[-1][0] + s.no[-1][0] < ONE  # never crossed, never locked


def check_stream(day: SimulatedDay) -> None:
    assert len(day.stream) == len(day.book_snapshots) + len(day.book_deltas) + len(day.trades)
    kinds = Counter(map(type, day.stream))
    assert kinds[BookSnapshot] == len(day.book_snapshots)
    assert kinds[BookDelta] == len(day.book_deltas)
    assert kinds[Trade] == len(day.trades)
    assert all(a.ts <= b.ts for a, b in zip(day.stream, day.stream[1:], strict=False))
    last_seq: dict[str, int] = defaultdict(int)
    for r in day.stream:
        assert r.sid == 0
        assert r.seq > last_seq[r.market_ticker]
        last_seq[r.market_ticker] = r.seq
    # Replaying snapshots and deltas never drives a level below zero nor crosses a book, and every
    # trade executes at the best price of the book it takes from.
    books: dict[str, dict[str, dict[Decimal, Decimal]]] = {}
    for r in day.stream:
        if isinstance(r, BookSnapshot):
            books[r.market_ticker] = {YES: dict(r.yes), NO: dict(r.no)}
        elif isinstance(r, BookDelta):
            side = books[r.market_ticker][r.side]
            assert r.delta < 0 and r.price in side
            side[r.price] += r.delta
            assert side[r.price] >= 0
            if side[r.price] == 0:
                del side[r.price]
        else:
            book = books[r.market_ticker]
            if r.taker_side == YES:  # buys YES at the ask = 1 − best NO bid
                assert r.yes_price == ONE - max(book[NO])
            else:  # buys NO at 1 − best YES bid
                assert r.yes_price == max(book[YES])
        book = books[r.market_ticker]
        if book[YES] and book[NO]:
            assert max(book[YES]) + max(book[NO]) < ONE


def check_trades(day: SimulatedDay) -> None:
    ids = [t.trade_id for t in (*day.trades, *day.combo_trades)]
    assert len(set(ids)) == len(ids)
    for t in (*day.trades, *day.combo_trades):
        assert t.yes_price + t.no_price == ONE
        assert on_grid(t.yes_price) and on_grid(t.no_price)
        assert t.taker_side in (YES, NO)
        assert t.count > 0 and t.count.as_tuple().exponent == -2
        assert t.ts.tzinfo is not None


def check_settlements(day: SimulatedDay) -> None:
    by_ticker = {s.market_ticker: s for s in day.settlements}
    assert len(by_ticker) == len(day.settlements)
    assert set(by_ticker) == {m.ticker for m in day.markets} | {c.ticker for c in day.combo_markets}
    for s in day.settlements:
        assert s.method == "simulated"
        assert s.settlement_value == (ONE if s.result == YES else Decimal(0))
    for m in day.markets:
        assert by_ticker[m.ticker].result == m.result
        assert by_ticker[m.ticker].settled_ts == m.close_time
    results = {m.ticker: m.result for m in day.markets}
    for c in day.combo_markets:
        assert by_ticker[c.ticker].result == c.result
        assert by_ticker[c.ticker].settled_ts == c.close_time
        assert (c.result == YES) == all(results[leg.market_ticker] == leg.side for leg in c.legs)


def check_outcome_logic(day: SimulatedDay) -> None:
    """Exactly one moneyline and one bracket per game; nested ladders settle monotonically."""
    truth = day.truth
    results = {m.ticker: m.result for m in day.markets}
    by_event: dict[str, list[str]] = defaultdict(list)
    for m in day.markets:
        by_event[m.event_ticker].append(m.ticker)
    for e in day.events:
        tickers = by_event[e.event_ticker]
        if e.mutually_exclusive:
            assert sum(results[t] == YES for t in tickers) == 1, e.event_ticker
    ladders: dict[tuple[str, tuple[float, ...]], list[tuple[float, str]]] = defaultdict(list)
    for t, spec in truth.markets.items():
        if spec.upper == float("inf") and spec.family != "moneyline":
            ladders[(spec.event_ticker, tuple(spec.weights))].append((spec.lower, results[t]))
    assert ladders
    for rungs in ladders.values():
        ordered = [r for _, r in sorted(rungs)]
        # Over a higher threshold implies over every lower one: YES…YES NO…NO.
        assert ordered == sorted(ordered, key=lambda r: r == NO), ordered


def check_combos(day: SimulatedDay) -> None:
    cfg = day.config
    truth = day.truth
    markets = {m.ticker: m for m in day.markets}
    listed = {c.ticker: c for c in day.combo_markets}
    assert len(listed) == len(day.combo_markets)
    tradable = [c for c in day.combo_markets if c.ticker not in truth.impossible_combos]
    assert len(tradable) <= cfg.n_combo_markets
    assert len(truth.impossible_combos) <= cfg.n_impossible_combos
    for c in day.combo_markets:
        assert c.collection_ticker == cfg.collection_ticker
        assert c.ticker.startswith(cfg.collection_ticker + "-")
        assert len({leg.market_ticker for leg in c.legs}) == len(c.legs)
        for leg in c.legs:
            assert leg.side in (YES, NO)
            assert markets[leg.market_ticker].event_ticker == leg.event_ticker
        if c.ticker in truth.impossible_combos:
            assert c.result == NO
            assert truth.combo_probability(c.close_time, c.ticker) == 0.0
            first = min(truth.game_of(leg.market_ticker).tipoff for leg in c.legs)
            assert truth.combo_probability(first, c.ticker) == 0.0
        else:
            assert cfg.min_combo_legs <= len(c.legs) <= cfg.max_combo_legs
            assert len({leg.event_ticker for leg in c.legs}) == len(c.legs)  # one leg per event
    assert len(day.combo_trades) <= cfg.combo_trades_per_day
    for t in day.combo_trades:
        assert t.market_ticker in listed
        assert t.market_ticker not in truth.impossible_combos
        assert t.taker_side == YES
        legs = listed[t.market_ticker].legs
        games = {truth.game_of(leg.market_ticker) for leg in legs}
        assert all(g.tipoff <= t.ts < g.end for g in games)
        p = truth.probability(t.ts, legs)
        assert abs(p - day.combo_trade_truth[t.trade_id]) < 1e-12
        assert float(t.yes_price) >= p + cfg.combo_spread - 1e-9  # the ask carries the markup
        assert float(t.yes_price) <= p + cfg.combo_fee_rate * p * (1 - p) + cfg.combo_spread + (
            cfg.combo_spread_jitter + 0.01 + 1e-9
        )


def check_day(day: SimulatedDay) -> None:
    check_metadata(day)
    check_books(day)
    check_stream(day)
    check_trades(day)
    check_settlements(day)
    check_outcome_logic(day)
    check_combos(day)
