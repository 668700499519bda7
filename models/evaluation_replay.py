"""The replay evaluation in the paper's Table 4 form (MISSION.md §3): strategies against observed combo trades.

A day is replayed in time order. For every observed combo trade (legs, execution price, contracts, and
whether every leg won) each strategy has quoted a price just before it, or refused it. A strategy takes the
trade when its quote is at or below the observed execution price (the trader would have bought from it);
``kalshi_execution`` takes every trade at the execution price. An accepted trade sells ``contracts`` at the
strategy's quote: premium = quote · contracts, payout = contracts when the parlay won.

Per strategy:

* ``trades``, ``accepted``; ``win_rate``: the share of accepted trades the house won (the parlay lost);
* ``premium``, ``payout``, ``net_pnl`` = premium − payout (exact, Decimal);
* ``capital``: the pool the strategy needs, the maximum drawdown of cumulative premium − payout in trade
  order (from 0); for the full AMM the caller passes the sum of its per-book losses instead;
* ``roi`` = net_pnl / capital (None when the capital is 0);
* ``sharpe``: mean / standard deviation (n − 1) of the hourly P&L over every clock hour from the first
  accepted trade's to the last's (hours without trades count as 0; event time: a trade's P&L falls in its
  own hour), i.e. of the 1-hour returns P&L / capital, which have the same ratio; None with fewer than two
  hours or no variation;
* ``brier``: mean (quote − outcome)² over accepted trades, outcome 1 when the parlay won.

Pure: no database, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

STRATEGIES = ("kalshi_execution", "independence", "standalone_mm", "full_amm")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ReplayTrade:
    """One observed combo trade: the parlay's YES bought at ``price`` (dollars per contract)."""

    trade_id: str
    ts: datetime
    legs: tuple[tuple[str, str], ...]
    price: Decimal
    contracts: Decimal
    won: bool  # every leg resolved on its side: the bettor is paid


@dataclass(frozen=True)
class Fill:
    """A trade a strategy took: at its quote."""

    trade: ReplayTrade
    quote: Decimal

    @property
    def premium(self) -> Decimal:
        return self.quote * self.trade.contracts

    @property
    def payout(self) -> Decimal:
        return self.trade.contracts if self.trade.won else Decimal(0)


@dataclass(frozen=True)
class StrategyResult:
    strategy: str
    trades: int
    accepted: int
    win_rate: float | None
    premium: Decimal
    payout: Decimal
    net_pnl: Decimal
    capital: Decimal
    roi: float | None
    sharpe: float | None
    brier: float | None

    def as_json(self) -> dict[str, object]:
        return {"strategy": self.strategy, "trades": self.trades, "accepted": self.accepted,
                "win_rate": self.win_rate, "premium": float(self.premium), "payout": float(self.payout),
                "net_pnl": float(self.net_pnl), "capital": float(self.capital), "roi": self.roi,
                "sharpe": self.sharpe, "brier": self.brier}


def accepts(quote: Decimal | None, execution_price: Decimal) -> bool:
    """The paper's rule: a strategy takes a trade when its quote is at or below the observed execution price."""
    return quote is not None and quote <= execution_price


def fills_of(trades: Sequence[ReplayTrade], quotes: Mapping[str, Decimal | None]) -> list[Fill]:
    """The trades a strategy with ``quotes`` (by trade id; missing = refused) takes, in time order."""
    ordered = sorted(trades, key=lambda t: (t.ts, t.trade_id))
    return [Fill(t, q) for t in ordered if accepts(q := quotes.get(t.trade_id), t.price) and q is not None]


def max_drawdown(fills: Sequence[Fill]) -> Decimal:
    """The largest fall of cumulative premium − payout below its running peak (the peak starts at 0)."""
    cum = peak = worst = Decimal(0)
    for f in fills:
        cum += f.premium - f.payout
        peak = max(peak, cum)
        worst = max(worst, peak - cum)
    return worst


def hourly_pnl(fills: Sequence[Fill]) -> list[Decimal]:
    """P&L per clock hour from the first fill's hour to the last's (empty hours are 0)."""
    if not fills:
        return []
    hours: dict[datetime, Decimal] = {}
    for f in fills:
        h = f.trade.ts.replace(minute=0, second=0, microsecond=0)
        hours[h] = hours.get(h, Decimal(0)) + f.premium - f.payout
    first, last = min(hours), max(hours)
    out = []
    h = first
    while h <= last:
        out.append(hours.get(h, Decimal(0)))
        h += timedelta(hours=1)
    return out


def sharpe(values: Sequence[Decimal]) -> float | None:
    if len(values) < 2:
        return None
    xs = [float(v) for v in values]
    mean = sum(xs) / len(xs)
    var = sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)
    return mean / math.sqrt(var) if var > 0 else None


def evaluate_strategy(strategy: str, trades: Sequence[ReplayTrade], quotes: Mapping[str, Decimal | None],
                      capital: Decimal | None = None) -> StrategyResult:
    """The Table 4 row of one strategy (see the module docstring). ``capital``: given (the full AMM's per-book
    losses), else the maximum drawdown."""
    fills = fills_of(trades, quotes)
    premium = sum((f.premium for f in fills), Decimal(0))
    payout = sum((f.payout for f in fills), Decimal(0))
    net = premium - payout
    cap = max_drawdown(fills) if capital is None else capital
    wins = sum(1 for f in fills if not f.trade.won)
    brier = (sum((float(f.quote) - (1.0 if f.trade.won else 0.0)) ** 2 for f in fills) / len(fills)) if fills else None
    return StrategyResult(strategy, len(trades), len(fills), wins / len(fills) if fills else None,
                          premium.quantize(CENT), payout.quantize(CENT), net.quantize(CENT), cap.quantize(CENT),
                          float(net / cap) if cap > 0 else None, sharpe(hourly_pnl(fills)), brier)


def book_losses(fills: Sequence[Fill], book_of: Mapping[str, str]) -> Decimal:
    """The sum over books (``book_of``: trade id → contract) of each book's loss, payout − premium when
    positive: what a pool of per-contract books must hold."""
    by_book: dict[str, Decimal] = {}
    for f in fills:
        key = book_of.get(f.trade.trade_id, f.trade.trade_id)
        by_book[key] = by_book.get(key, Decimal(0)) + f.payout - f.premium
    return sum((max(v, Decimal(0)) for v in by_book.values()), Decimal(0))


def mean_and_2se(values: Sequence[float | None]) -> tuple[float | None, float | None, int]:
    """Mean, 2 standard errors (sd (n − 1) / √n) and count of the values that exist."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not xs:
        return None, None, 0
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return mean, None, len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    return mean, 2 * sd / math.sqrt(len(xs)), len(xs)
