"""``simulate_day``: one seeded trading day of a synthetic NBA-like slate, as normalized records."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from models.records import (
    NO,
    YES,
    BookDelta,
    BookSnapshot,
    ComboMarket,
    EventRecord,
    MarketRecord,
    SeriesRecord,
    Settlement,
    Trade,
)
from models.simulator.combos import list_combos, simulate_combo_trades
from models.simulator.config import SimulationConfig
from models.simulator.exchange import PRICES, count_decimal, simulate_game_markets
from models.simulator.games import SERIES, SERIES_BY_TICKER, build_games, child_seed, day_code, day_seed
from models.simulator.truth import DayTruth, GameTruth, MarketSpec, market_probability_path

SOURCE = "simulated"
FEE_TYPE = "quadratic_with_maker_fees"
_SETTLED = (PRICES[0], PRICES[100])

StreamRecord = BookSnapshot | BookDelta | Trade


@dataclass(frozen=True, eq=False)
class SimulatedDay:
    """Everything one simulated day produces, plus the truth behind it.

    Market and combo records are as the exchange lists them after the day (status ``finalized``, with
    ``result``); ``stream`` merges snapshots, deltas and base trades in time order.
    ``combo_trade_truth`` maps each combo trade id to the true joint probability at its time.
    """

    day: date
    config: SimulationConfig
    series: tuple[SeriesRecord, ...]
    events: tuple[EventRecord, ...]
    markets: tuple[MarketRecord, ...]
    combo_markets: tuple[ComboMarket, ...]
    book_snapshots: tuple[BookSnapshot, ...]
    book_deltas: tuple[BookDelta, ...]
    trades: tuple[Trade, ...]
    combo_trades: tuple[Trade, ...]
    settlements: tuple[Settlement, ...]
    stream: tuple[StreamRecord, ...]
    truth: DayTruth
    combo_trade_truth: Mapping[str, float]

    def metadata(self) -> Iterator[SeriesRecord | EventRecord | MarketRecord]:
        yield from self.series
        yield from self.events
        yield from self.markets


def _decimal(x: float | None) -> Decimal | None:
    return None if x is None else Decimal(repr(x))


def _streams(config: SimulationConfig, day: date) -> list[np.random.SeedSequence]:
    """Independent seed streams of one day: games, books and trades, combo listing, combo trades."""
    return day_seed(config, day).spawn(4)


def simulate_games(config: SimulationConfig, day: date) -> tuple[list[GameTruth], list[MarketSpec]]:
    """Only the games of ``day`` (latent laws, score paths, market definitions): exactly those of
    ``simulate_day(config, day)``, at a fraction of the cost (no books, trades or combos)."""
    return build_games(config, day, _streams(config, day)[0])


def simulate_day(config: SimulationConfig, day: date) -> SimulatedDay:
    """Simulate one trading day. Deterministic in ``(config, day)``; different days give different games."""
    games_ss, books_ss, list_ss, trades_ss = _streams(config, day)
    games, specs = build_games(config, day, games_ss)
    code = day_code(day)
    n_min = config.session_minutes

    by_game: list[list[MarketSpec]] = [[] for _ in games]
    for spec in specs:
        by_game[spec.game].append(spec)
    paths: dict[str, np.ndarray] = {}
    for spec in specs:
        path = market_probability_path(games[spec.game], spec)[:n_min]
        path.setflags(write=False)
        paths[spec.ticker] = path
    truth = DayTruth(day, tuple(games), {s.ticker: s for s in specs}, paths, {}, frozenset())

    # Books and base trades, game by game.
    snapshots: list[BookSnapshot] = []
    deltas: list[BookDelta] = []
    trades: list[Trade] = []
    volume: dict[str, int] = {}
    last_price: dict[str, Decimal] = {}
    for game, game_specs, ss in zip(games, by_game, books_ss.spawn(len(games)), strict=True):
        probs = np.array([paths[s.ticker] for s in game_specs])
        # pre-game books draw from a child stream, so in-game books and trades stay those of ``ss``
        pregame_rng = np.random.default_rng(child_seed(ss, 0))
        data = simulate_game_markets(config, game, game_specs, probs, np.random.default_rng(ss), pregame_rng)
        snapshots.extend(data.snapshots)
        deltas.extend(data.deltas)
        trades.extend(data.trades)
        volume.update(data.volume)
        last_price.update(data.last_price)

    # Combos.
    listed = list_combos(config, truth, code, np.random.default_rng(list_ss))
    truth = dataclasses.replace(
        truth,
        combo_legs={c.ticker: c.legs for c in listed},
        impossible_combos=frozenset(c.ticker for c in listed if c.impossible),
    )
    combo_trades, combo_truth = simulate_combo_trades(config, truth, listed, np.random.default_rng(trades_ss))

    # Metadata and settlements.
    series = tuple(
        SeriesRecord(s.ticker, s.title, "Sports", "custom", FEE_TYPE, Decimal(1), SOURCE) for s in SERIES
    )
    events: list[EventRecord] = []
    markets: list[MarketRecord] = []
    settlements: list[Settlement] = []
    lead = timedelta(hours=config.market_open_lead_hours)
    for game, game_specs in zip(games, by_game, strict=True):
        seen_events: set[str] = set()
        final = game.final
        for s in game_specs:
            if s.event_ticker not in seen_events:
                seen_events.add(s.event_ticker)
                info = SERIES_BY_TICKER[s.series_ticker]
                events.append(EventRecord(
                    s.event_ticker, s.series_ticker,
                    info.event_title.format(away=game.away_name, home=game.home_name),
                    f"{game.away} @ {game.home}", "Sports", info.mutually_exclusive, game.end, SOURCE,
                ))
            yes = s.resolves_yes(final)
            result = YES if yes else NO
            markets.append(MarketRecord(
                ticker=s.ticker, event_ticker=s.event_ticker, series_ticker=s.series_ticker,
                market_type="binary", title=s.title, yes_sub_title=s.yes_sub_title,
                no_sub_title=s.no_sub_title, status="finalized", open_time=game.tipoff - lead,
                close_time=game.end, result=result, strike_type=s.strike_type,
                floor_strike=_decimal(s.floor_strike), cap_strike=_decimal(s.cap_strike),
                tick_size=PRICES[1], last_price=last_price.get(s.ticker),
                volume=count_decimal(volume.get(s.ticker, 0)), source=SOURCE,
            ))
            settlements.append(Settlement(s.ticker, result, game.end, _SETTLED[yes], "simulated"))

    combo_markets: list[ComboMarket] = []
    for c in listed:
        close = max(truth.game_of(leg.market_ticker).end for leg in c.legs)
        yes = truth.outcome(c.legs)
        result = YES if yes else NO
        title = ",".join(f"{leg.side} {truth.markets[leg.market_ticker].yes_sub_title}" for leg in c.legs)
        combo_markets.append(ComboMarket(
            c.ticker, config.collection_ticker, f"{config.collection_ticker}-{code}", c.legs, title,
            "finalized", close, result, SOURCE,
        ))
        settlements.append(Settlement(c.ticker, result, close, _SETTLED[yes], "simulated"))
    settlements.sort(key=lambda s: (s.settled_ts, s.market_ticker))

    stream: list[StreamRecord] = [*snapshots, *deltas, *trades]
    stream.sort(key=lambda r: (r.ts, r.market_ticker, r.seq))
    return SimulatedDay(
        day, config, series, tuple(events), tuple(markets), tuple(combo_markets), tuple(snapshots),
        tuple(deltas), tuple(trades), tuple(combo_trades), tuple(settlements), tuple(stream), truth,
        combo_truth,
    )
