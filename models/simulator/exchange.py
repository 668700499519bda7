"""Base-market books and trades of one simulated game.

Books are bids only, on a one-cent grid: each in-game minute (and every ``pregame_snapshot_minutes``
from the market open until tip-off, at the pre-game probability) a market maker quotes around the true
probability (plus a little quoting noise) with a spread of a few ticks and ``book_levels`` levels per
side. Between snapshots, arriving traders take liquidity at the best level; each trade is followed by
the :class:`~models.records.BookDelta` that removes the taken size, so a book rebuilt from snapshots and
deltas stays consistent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import numpy as np

from models.records import COUNT_PLACES, NO, PRICE_PLACES, YES, BookDelta, BookSnapshot, Level, Trade
from models.simulator.config import SimulationConfig
from models.simulator.games import EXCHANGE_TZ
from models.simulator.truth import GameTruth, MarketSpec

TICKS = 100  # one-cent tick grid
PRICES: tuple[Decimal, ...] = tuple((Decimal(t) / TICKS).quantize(PRICE_PLACES) for t in range(TICKS + 1))
_COUNTS: dict[int, Decimal] = {}


def count_decimal(n: int) -> Decimal:
    """An integer contract count as a two-place Decimal (shared instances)."""
    d = _COUNTS.get(n)
    if d is None:
        d = _COUNTS[n] = Decimal(n).quantize(COUNT_PLACES)
    return d


def trade_id(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def lognormal_counts(rng: np.random.Generator, median: float, sigma: float, size: int | tuple[int, ...]
                     ) -> np.ndarray:
    return np.maximum(np.rint(median * np.exp(sigma * rng.standard_normal(size))), 1).astype(np.int64)


def quote_ticks(center: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best YES bid and ask in ticks: bid ≤ centre ≤ ask when the spread is ≥ 2 ticks and the centre is
    inside [0.01, 0.99]; always 1 ≤ bid < ask ≤ 99."""
    raw_bid = np.floor(center * TICKS - spread / 2.0 + 1e-9).astype(np.int64)
    ask = np.clip(raw_bid + spread, 2, TICKS - 1)
    bid = np.clip(raw_bid, 1, ask - 1)
    return bid, ask


@dataclass
class GameMarketData:
    snapshots: list[BookSnapshot] = field(default_factory=list)
    deltas: list[BookDelta] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    volume: dict[str, int] = field(default_factory=dict)
    last_price: dict[str, Decimal] = field(default_factory=dict)


def pregame_times(config: SimulationConfig, game: GameTruth) -> list[datetime]:
    """When a game's markets get pre-game book snapshots: every ``pregame_snapshot_minutes`` from the
    market open (``market_open_lead_hours`` before tip-off, but not before the start of the game's trading
    day) up to, not including, tip-off. Empty when ``pregame_snapshot_minutes`` is 0."""
    if config.pregame_snapshot_minutes <= 0:
        return []
    day = game.tipoff.astimezone(EXCHANGE_TZ).date()
    day_start = datetime.combine(day, time(0), tzinfo=EXCHANGE_TZ).astimezone(UTC)
    t = max(game.tipoff - timedelta(hours=config.market_open_lead_hours), day_start)
    step = timedelta(minutes=config.pregame_snapshot_minutes)
    out = []
    while t < game.tipoff:
        out.append(t)
        t += step
    return out


@dataclass(frozen=True)
class _Quotes:
    """Books of every market over a run of snapshot slots: (markets, slots) arrays."""

    bid: np.ndarray
    ask: np.ndarray
    sizes: np.ndarray  # (markets, slots, 2, levels)
    arrivals: np.ndarray


def _draw_quotes(config: SimulationConfig, probs: np.ndarray, base_spread: np.ndarray,
                 rng: np.random.Generator) -> _Quotes:
    center = np.clip(probs + config.book_center_noise * rng.standard_normal(probs.shape), 0.0, 1.0)
    spread = base_spread + (rng.random(probs.shape) < 0.2)
    bid, ask = quote_ticks(center, spread)
    sizes = lognormal_counts(rng, config.depth_median, config.depth_sigma,
                             (*probs.shape, 2, config.book_levels))
    arrivals = rng.poisson(config.base_trade_rate, size=probs.shape)
    return _Quotes(bid, ask, sizes, arrivals)


def simulate_game_markets(
    config: SimulationConfig,
    game: GameTruth,
    specs: list[MarketSpec],
    probs: np.ndarray,
    rng: np.random.Generator,
    pregame_rng: np.random.Generator | None = None,
) -> GameMarketData:
    """Books, trades and deltas of every market of one game. ``probs``: (markets, minutes) true YES
    probability at each in-game snapshot minute; pre-game snapshots (:func:`pregame_times`) quote
    around ``probs[:, 0]``, the pre-game probability.

    In-game books and trades draw from ``rng`` exactly as without pre-game books; pre-game ones draw
    from ``pregame_rng`` (required when the game has pre-game snapshots)."""
    n_mkt, n_min = probs.shape
    levels = config.book_levels
    # In-game draws, in the order they have always been taken from ``rng``.
    center = np.clip(probs + config.book_center_noise * rng.standard_normal(probs.shape), 0.0, 1.0)
    base_spread = rng.integers(config.spread_ticks_min, config.spread_ticks_max + 1, size=(n_mkt, 1))
    spread = base_spread + (rng.random(probs.shape) < 0.2)
    bid, ask = quote_ticks(center, spread)
    sizes = lognormal_counts(rng, config.depth_median, config.depth_sigma, (n_mkt, n_min, 2, levels))
    arrivals = rng.poisson(config.base_trade_rate, size=probs.shape)
    in_game = _Quotes(bid, ask, sizes, arrivals)
    minute_ts = [game.tipoff + timedelta(minutes=i) for i in range(n_min)]

    pre_ts = pregame_times(config, game)
    runs: list[tuple[_Quotes, list[datetime], np.ndarray, np.random.Generator]] = []
    if pre_ts:
        if pregame_rng is None:
            raise ValueError("pre-game books need pregame_rng")
        pre_probs = np.repeat(probs[:, :1], len(pre_ts), axis=1)
        runs.append((_draw_quotes(config, pre_probs, base_spread, pregame_rng), pre_ts, pre_probs,
                     pregame_rng))
    runs.append((in_game, minute_ts, probs, rng))
    second = [timedelta(seconds=s) for s in range(60)]

    out = GameMarketData()
    snaps, deltas, trades = out.snapshots, out.deltas, out.trades
    for m, spec in enumerate(specs):
        ticker = spec.ticker
        seq = 0
        volume = 0
        last: Decimal | None = None
        for quotes, slot_ts, slot_probs, slot_rng in runs:
            for i, ts0 in enumerate(slot_ts):
                b, a = int(quotes.bid[m, i]), int(quotes.ask[m, i])
                nb = TICKS - a  # best NO bid
                sz = quotes.sizes[m, i]
                yes_levels: tuple[Level, ...] = tuple(
                    (PRICES[b - j], count_decimal(int(sz[0, j]))) for j in range(min(levels, b) - 1, -1, -1)
                )
                no_levels: tuple[Level, ...] = tuple(
                    (PRICES[nb - j], count_decimal(int(sz[1, j]))) for j in range(min(levels, nb) - 1, -1, -1)
                )
                seq += 1
                snaps.append(BookSnapshot(ticker, ts0, yes_levels, no_levels, 0, seq))
                k = int(quotes.arrivals[m, i])
                if k == 0:
                    continue
                left_yes, left_no = int(sz[0, 0]), int(sz[1, 0])
                offsets = np.sort(slot_rng.integers(1, 60, size=k))
                informed = slot_rng.random(k) < config.informed_fraction
                noise_u = slot_rng.random(k)
                want = lognormal_counts(slot_rng, config.trade_size_median, config.trade_size_sigma, k)
                p = float(slot_probs[m, i])
                for j in range(k):
                    target = p if informed[j] else (1.0 - config.noise_phi) * p + config.noise_phi * noise_u[j]
                    ts = ts0 + second[int(offsets[j])]
                    if target * TICKS > a and left_no > 0:  # buy YES at the ask: takes NO bids at 1 − ask
                        n = min(int(want[j]), left_no)
                        left_no -= n
                        price, taker, book_side, book_price = a, YES, NO, nb
                    elif target * TICKS < b and left_yes > 0:  # buy NO at 1 − bid: takes YES bids at bid
                        n = min(int(want[j]), left_yes)
                        left_yes -= n
                        price, taker, book_side, book_price = b, NO, YES, b
                    else:
                        continue
                    count = count_decimal(n)
                    seq += 1
                    trades.append(Trade(trade_id(slot_rng), ticker, ts, PRICES[price], PRICES[TICKS - price],
                                        count, taker, 0, seq))
                    seq += 1
                    deltas.append(BookDelta(ticker, ts, book_side, PRICES[book_price], -count, 0, seq))
                    volume += n
                    last = PRICES[price]
        out.volume[ticker] = volume
        if last is not None:
            out.last_price[ticker] = last
    return out
