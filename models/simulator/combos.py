"""Combo (multivariate-event) markets and their trades.

Listed combos join 2–4 legs (by default) from one game or from two games whose sessions overlap, at
most one leg per event; their pre-game true probability lies in
``[min_combo_probability, max_combo_probability]``. A handful of logically impossible combos (both
moneylines YES, or two brackets of one total YES) are listed too, and are never traded.

Trades pick a combo by Zipf popularity and a time inside the session of all its games, and execute at
the ask: the true joint probability plus the fee markup, rounded up to the cent.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from models.records import NO, YES, ComboLeg, Trade
from models.simulator.config import SimulationConfig
from models.simulator.exchange import PRICES, TICKS, count_decimal, lognormal_counts, trade_id
from models.simulator.truth import DayTruth, GameTruth, MarketSpec

MIN_TRADE_PROBABILITY = 0.002  # combos that are all but dead do not trade


@dataclass(frozen=True)
class ListedCombo:
    ticker: str
    legs: tuple[ComboLeg, ...]
    impossible: bool


def combo_ticker(collection: str, code: str, legs: tuple[ComboLeg, ...]) -> str:
    """Opaque, deterministic ticker of a combo: a hash of its legs."""
    key = "|".join(sorted(f"{leg.market_ticker}:{leg.side}" for leg in legs))
    return f"{collection}-{code}-{hashlib.sha1(key.encode()).hexdigest()[:10].upper()}"


def _overlap(a: GameTruth, b: GameTruth) -> bool:
    return max(a.tipoff, b.tipoff) + timedelta(minutes=1) < min(a.end, b.end)


def _impossible_legs(specs: list[MarketSpec], kind: int) -> list[MarketSpec]:
    """Legs (all YES) that cannot hold together: 0 both moneylines; 1 two brackets of the total;
    2 home wins and away wins by over its smallest spread; 3 both moneylines and a total."""
    fam: dict[str, list[MarketSpec]] = {}
    for s in specs:
        fam.setdefault(s.family, []).append(s)
    home_ml = fam["moneyline"][1]
    away_spread = next(s for s in fam["spread"] if s.weights[0] < 0)
    return [
        fam["moneyline"],
        fam["total_bracket"][:2],
        [home_ml, away_spread],
        [*fam["moneyline"], fam["total"][0]],
    ][kind]


def _impossible_combos(config: SimulationConfig, games: list[GameTruth],
                       by_game: list[list[MarketSpec]], code: str) -> list[ListedCombo]:
    out: dict[str, ListedCombo] = {}
    kinds = 4
    for i in range(len(games) * kinds):
        if len(out) >= config.n_impossible_combos:
            break
        g, rnd = i % len(games), i // len(games)
        chosen = _impossible_legs(by_game[g], (g + rnd) % kinds)
        legs = tuple(ComboLeg(s.event_ticker, s.ticker, YES) for s in chosen)
        ticker = combo_ticker(config.collection_ticker, code, legs)
        out.setdefault(ticker, ListedCombo(ticker, legs, True))
    return list(out.values())


def list_combos(
    config: SimulationConfig,
    truth: DayTruth,
    code: str,
    rng: np.random.Generator,
) -> list[ListedCombo]:
    """The day's listed combos: ``n_combo_markets`` tradable ones, then the impossible ones."""
    games = list(truth.games)
    by_game: list[list[MarketSpec]] = [[] for _ in games]
    for spec in truth.markets.values():
        by_game[spec.game].append(spec)
    events: list[dict[str, list[MarketSpec]]] = []
    for specs in by_game:
        ev: dict[str, list[MarketSpec]] = {}
        for s in specs:
            ev.setdefault(s.event_ticker, []).append(s)
        events.append(ev)
    partners = [[h for h in range(len(games)) if h != g and _overlap(games[g], games[h])]
                for g in range(len(games))]
    start = dict.fromkeys(range(len(games)), 0)

    listed: list[ListedCombo] = []
    seen: set[frozenset[tuple[str, str]]] = set()
    attempts = 0
    while len(listed) < config.n_combo_markets and attempts < 50 * config.n_combo_markets + 100:
        attempts += 1
        k = int(rng.integers(config.min_combo_legs, config.max_combo_legs + 1))
        g1 = int(rng.integers(len(games)))
        if partners[g1] and rng.random() < config.cross_game_fraction:
            g2 = partners[g1][int(rng.integers(len(partners[g1])))]
            n1 = int(rng.integers(1, k))
            plan = [(g1, n1), (g2, k - n1)]
        else:
            plan = [(g1, k)]
        legs: list[ComboLeg] = []
        for g, n in plan:
            names = list(events[g])
            picks = rng.permutation(len(names))[: min(n, len(names))]
            for e in picks:
                options = events[g][names[int(e)]]
                spec = options[int(rng.integers(len(options)))]
                side = NO if rng.random() < config.no_leg_fraction else YES
                legs.append(ComboLeg(spec.event_ticker, spec.ticker, side))
        if len(legs) < 2:
            continue
        key = frozenset((leg.market_ticker, leg.side) for leg in legs)
        if key in seen:
            continue
        singles = [truth.probability_paths[leg.market_ticker][0] if leg.side == YES
                   else 1.0 - truth.probability_paths[leg.market_ticker][0] for leg in legs]
        if min(singles) < config.min_combo_probability:  # Fréchet: P(all legs) ≤ min of the legs
            continue
        p = truth.probability_at(start, legs)
        if not config.min_combo_probability <= p <= config.max_combo_probability:
            continue
        seen.add(key)
        leg_tuple = tuple(legs)
        listed.append(ListedCombo(combo_ticker(config.collection_ticker, code, leg_tuple), leg_tuple, False))
    listed.extend(_impossible_combos(config, games, by_game, code))
    return listed


def combo_window(truth: DayTruth, legs: tuple[ComboLeg, ...]) -> tuple[datetime, datetime]:
    """[first, last] second at which every game of the combo is in progress and unresolved."""
    games = {truth.markets[leg.market_ticker].game for leg in legs}
    first = max(truth.games[g].tipoff for g in games)
    last = min(truth.games[g].end for g in games) - timedelta(seconds=1)
    return first, last


def combo_ask_ticks(config: SimulationConfig, p: float, jitter_u: float) -> int:
    """The executed ask in cents for true joint probability ``p``: ``⌈p + markup⌉`` on the tick grid."""
    markup = (config.combo_fee_rate * p * (1.0 - p) + config.combo_spread
              + config.combo_spread_jitter * jitter_u)
    return max(1, math.ceil((p + markup) * TICKS - 1e-9))


def simulate_combo_trades(
    config: SimulationConfig,
    truth: DayTruth,
    listed: list[ListedCombo],
    rng: np.random.Generator,
) -> tuple[list[Trade], dict[str, float]]:
    """``combo_trades_per_day`` trades on the tradable listed combos (fewer only if no draw qualifies).

    Also returns the true joint probability at each trade's time, by trade id.
    """
    tradable = [c for c in listed if not c.impossible]
    if not tradable or config.combo_trades_per_day == 0:
        return [], {}
    ranks = rng.permutation(len(tradable))
    weights = (ranks + 1.0) ** -config.combo_popularity_exponent
    weights /= weights.sum()
    windows = [combo_window(truth, c.legs) for c in tradable]

    drafts: list[tuple[datetime, int, int, float]] = []  # (ts, combo index, ask ticks, p)
    for _round in range(20):
        need = config.combo_trades_per_day - len(drafts)
        if need <= 0:
            break
        picks = rng.choice(len(tradable), size=need, p=weights)
        offsets = rng.random(need)
        jitter = rng.random(need)
        times: dict[int, list[tuple[int, datetime]]] = {}
        for n, c in enumerate(picks):
            first, last = windows[c]
            span = int((last - first).total_seconds())
            if span >= 0:
                ts = first + timedelta(seconds=int(offsets[n] * (span + 1)))
                times.setdefault(int(c), []).append((n, ts))
        for c, items in times.items():
            ps = truth.probability_batch([ts for _, ts in items], tradable[c].legs)
            for (n, ts), p in zip(items, ps, strict=True):
                ask = combo_ask_ticks(config, float(p), float(jitter[n]))
                if p >= MIN_TRADE_PROBABILITY and ask <= TICKS - 1:
                    drafts.append((ts, c, ask, float(p)))
    drafts = drafts[: config.combo_trades_per_day]
    drafts.sort(key=lambda d: (d[0], d[1]))

    sizes = lognormal_counts(rng, config.combo_size_median, 1.0, len(drafts))
    seqs: dict[int, int] = {}
    trades: list[Trade] = []
    truth_at_trade: dict[str, float] = {}
    for (ts, c, ask, p), n in zip(drafts, sizes, strict=True):
        seq = seqs[c] = seqs.get(c, 0) + 1
        tid = trade_id(rng)
        trades.append(Trade(tid, tradable[c].ticker, ts, PRICES[ask], PRICES[TICKS - ask],
                            count_decimal(int(n)), YES, 0, seq))
        truth_at_trade[tid] = p
    return trades, truth_at_trade
