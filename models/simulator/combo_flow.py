"""Combo (parlay) flow simulated over real legs: the setting of a replay on real captures.

Real captures hold the base markets only; Kalshi's own combo trades are not in them. To replay a real day
the way the paper does, combo trades are simulated over the legs' real price paths:

* a combo joins one leg from each of 2–``max_legs`` different games (a game's own markets are one
  binary quantity in a moneyline capture, so legs of one game add nothing) and trades at a minute when every
  leg's market has a price;
* an informed trader (share ``informed_fraction``) knows each leg's real price ``horizon_minutes`` later
  (the market's outcome once that is past its last price) and targets the product of those; a noise
  trader targets ``(1 − noise_phi)·target + noise_phi·u``, ``u ~ U(0, 1)``;
* every trade buys the combo's YES at the ask: ``⌈q + fee_rate·q·(1 − q) + spread + spread_jitter·u⌉``
  on the one-cent grid (Kalshi's fee markup on top of the trader's own price);
* combos settle on the legs' real outcomes.

Same inputs and seed → the same trades. Pure: paths in, records out.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from models.records import YES, ComboLeg, ComboMarket, Trade
from models.simulator.combos import combo_ticker
from models.simulator.exchange import PRICES, TICKS, count_decimal, lognormal_counts, trade_id

FLOW_COLLECTION = "KXMVEFLOW"  # the collection of combos simulated over real legs
FLOW_TITLE = "simulated combo flow over real leg prices"


@dataclass(frozen=True)
class ComboFlowConfig:
    """How the combo flow over real legs is drawn (see the module docstring)."""

    seed: int = 0
    trades: int = 600
    min_legs: int = 2
    max_legs: int = 3
    informed_fraction: float = 0.6
    noise_phi: float = 0.3
    horizon_minutes: int = 30
    fee_rate: float = 0.07
    spread: float = 0.03
    spread_jitter: float = 0.02
    size_median: float = 10.0
    min_probability: float = 0.02  # legs priced below this at the trade are not drawn

    def __post_init__(self) -> None:
        if self.trades < 0 or not 2 <= self.min_legs <= self.max_legs:
            raise ValueError("ComboFlowConfig: need trades ≥ 0 and 2 ≤ min_legs ≤ max_legs")
        for name in ("informed_fraction", "noise_phi"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"ComboFlowConfig: {name} must be in [0, 1]")
        if self.horizon_minutes < 0 or self.fee_rate < 0 or self.spread < 0 or self.spread_jitter < 0:
            raise ValueError("ComboFlowConfig: horizon and markups must be ≥ 0")


@dataclass(frozen=True)
class LegPath:
    """One market's real YES price over the day: instants (sorted) and prices, its game, and its outcome."""

    market_ticker: str
    event_ticker: str
    times: tuple[datetime, ...]
    prices: tuple[float, ...]
    outcome: str | None  # "yes" / "no" once known

    def price_at(self, when: datetime) -> float | None:
        """The last price at or before ``when`` (None before the first)."""
        i = bisect.bisect_right(self.times, when) - 1
        return self.prices[i] if i >= 0 else None

    def later_price(self, when: datetime) -> float | None:
        """What an informed trader knows at a horizon ending at ``when``: the price then, or the outcome once
        ``when`` is past the last price."""
        if self.times and when > self.times[-1] and self.outcome in ("yes", "no"):
            return 1.0 if self.outcome == YES else 0.0
        return self.price_at(when)


@dataclass(frozen=True)
class ComboFlow:
    markets: tuple[ComboMarket, ...]
    trades: tuple[Trade, ...]
    target_at_trade: Mapping[str, float]  # by trade id: the trader's own price before the markup
    informed: Mapping[str, bool]  # by trade id


def ask_cents(q: float, cfg: ComboFlowConfig, jitter_u: float) -> int:
    """The executed ask in cents for a trader price ``q``: ``⌈q + markup⌉`` on the one-cent grid."""
    return max(1, math.ceil((q + cfg.fee_rate * q * (1.0 - q) + cfg.spread + cfg.spread_jitter * jitter_u) * TICKS
                            - 1e-9))


def simulate_combo_flow(paths: Sequence[LegPath], cfg: ComboFlowConfig, day_code: str,
                        close_time: Mapping[str, datetime] | None = None) -> ComboFlow:
    """``cfg.trades`` combo trades over ``paths`` (fewer when too few draws qualify; none with fewer than two
    games). ``day_code`` goes into the combo tickers (e.g. ``26MAR07``)."""
    by_game: dict[str, list[LegPath]] = {}
    for p in sorted(paths, key=lambda p: p.market_ticker):
        if p.times:
            by_game.setdefault(p.event_ticker, []).append(p)
    games = sorted(by_game)
    if len(games) < 2 or cfg.trades == 0:
        return ComboFlow((), (), {}, {})
    rng = np.random.default_rng(cfg.seed)
    horizon = timedelta(minutes=cfg.horizon_minutes)
    listed: dict[str, ComboMarket] = {}
    drafts: list[tuple[datetime, str, int, float, bool]] = []
    attempts = 0
    while len(drafts) < cfg.trades and attempts < 40 * cfg.trades:
        attempts += 1
        k = int(rng.integers(cfg.min_legs, min(cfg.max_legs, len(games)) + 1))
        chosen = [games[int(i)] for i in rng.permutation(len(games))[:k]]
        legs = [by_game[g][int(rng.integers(len(by_game[g])))] for g in chosen]
        start = max(p.times[0] for p in legs)
        end = min(p.times[-1] for p in legs)
        if end <= start:
            continue
        ts = start + timedelta(seconds=int(rng.random() * (end - start).total_seconds()))
        now = [p.price_at(ts) for p in legs]
        if any(x is None or not cfg.min_probability <= x <= 1 - cfg.min_probability for x in now):
            continue
        later = [p.later_price(ts + horizon) for p in legs]
        if any(x is None for x in later):
            continue
        target = float(np.prod([float(x) for x in later if x is not None]))
        informed = bool(rng.random() < cfg.informed_fraction)
        u, jitter = float(rng.random()), float(rng.random())
        q = target if informed else (1 - cfg.noise_phi) * target + cfg.noise_phi * u
        ask = ask_cents(q, cfg, jitter)
        if q < 0.002 or ask > TICKS - 1:
            continue
        combo_legs = tuple(ComboLeg(p.event_ticker, p.market_ticker, YES) for p in legs)
        ticker = combo_ticker(FLOW_COLLECTION, day_code, combo_legs)
        if ticker not in listed:
            outcomes = [p.outcome for p in legs]
            result = None
            if all(o in ("yes", "no") for o in outcomes):
                result = "yes" if all(o == YES for o in outcomes) else "no"
            closes = [close_time[p.market_ticker] for p in legs if close_time and p.market_ticker in close_time]
            listed[ticker] = ComboMarket(ticker, FLOW_COLLECTION, f"{FLOW_COLLECTION}-{day_code}", combo_legs,
                                         FLOW_TITLE, "settled" if result else "closed",
                                         max(closes) if closes else end, result)
        drafts.append((ts, ticker, ask, q, informed))
    drafts.sort(key=lambda d: (d[0], d[1]))
    sizes = lognormal_counts(rng, cfg.size_median, 1.0, len(drafts))
    trades, targets, informed_by = [], {}, {}
    seqs: dict[str, int] = {}
    for (ts, ticker, ask, q, informed), n in zip(drafts, sizes, strict=True):
        seqs[ticker] = seqs.get(ticker, 0) + 1
        tid = trade_id(rng)
        trades.append(Trade(tid, ticker, ts, PRICES[ask], PRICES[TICKS - ask], count_decimal(int(n)), YES, 0,
                            seqs[ticker]))
        targets[tid] = q
        informed_by[tid] = informed
    used = {t.market_ticker for t in trades}
    return ComboFlow(tuple(m for k, m in sorted(listed.items()) if k in used), tuple(trades), targets, informed_by)
