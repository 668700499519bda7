"""Delta hedging: the linear hedge of the book under the model's joint law, and the orders that hedge part of it.

A parlay A over legs pays 1_A. Let x_i = 1 when market i resolves YES. Its *delta* over the markets is the
minimum-variance linear hedge of 1_A by the x_i under the model's joint law,

    δ = Σ⁻¹ c,   Σ_ij = Cov(x_i, x_j),   c_i = Cov(x_i, 1_A),

computed from the model's own pairwise moments (any ``joint`` callable mapping ``{market: bool}`` to a
probability). In an Ising model with fields h this is also ∂P(A)/∂p holding the *other marginals fixed*:
∂P(A)/∂h = c and ∂p/∂h = Σ, so the chain rule gives Σ⁻¹c. For independent legs Σ is diagonal and δ
reduces to P(A)/p_i for a YES leg and −P(A)/(1 − p_i) for a NO leg. The per-leg P(A)/p_i used on its own
with correlated legs moves only h_i and lets the other legs' marginals drift along: added up over legs it
over-hedges.

A bet paying ``payout`` if A happens is a liability of ``payout·1_A`` for the house, so its exposure is
``payout·δ`` YES contracts per market. At book level the payout-weighted c are summed over bets and Σ is
solved once per cluster over every market the book touches, so hedges net across bets (markets of
different clusters are independent under the model: Σ is block diagonal). Hedging a fraction ``ratio``
means holding ``ratio·exposure`` YES contracts (NO contracts for a negative exposure). We never hedge the
full payout: that would pay the correlation premium back to the exchange.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import numpy as np

YES, NO = "yes", "no"

Joint = Callable[[Mapping[str, bool]], float]  # P(every market resolves as given)
RATIO_RANGE = (0.30, 0.40)  # the design's hedge ratio; outside it only with an explicit override


@dataclass(frozen=True)
class Leg:
    market_ticker: str
    side: str  # "yes" | "no"

    def __post_init__(self) -> None:
        if self.side not in (YES, NO):
            raise ValueError(f"leg side must be 'yes' or 'no', got {self.side!r}")


def _outcome(legs: Sequence[Leg]) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for leg in legs:
        want = leg.side == YES
        if out.setdefault(leg.market_ticker, want) != want:
            raise ValueError(f"both sides of {leg.market_ticker} in one parlay")
    return out


def independent_joint(marginals: Mapping[str, float]) -> Joint:
    """The joint law of independent markets with these YES probabilities."""

    def joint(outcomes: Mapping[str, bool]) -> float:
        p = 1.0
        for m, v in outcomes.items():
            q = float(marginals[m])
            p *= q if v else 1.0 - q
        return p

    return joint


class _Moments:
    """Pairwise moments of the YES indicators under ``joint``, computed once each."""

    def __init__(self, joint: Joint) -> None:
        self.joint = joint
        self._p: dict[str, float] = {}
        self._pp: dict[tuple[str, str], float] = {}

    def p(self, m: str) -> float:
        if m not in self._p:
            self._p[m] = float(self.joint({m: True}))
        return self._p[m]

    def cov(self, a: str, b: str) -> float:
        if a == b:
            p = self.p(a)
            return p * (1.0 - p)
        k = (a, b) if a < b else (b, a)
        if k not in self._pp:
            self._pp[k] = float(self.joint({a: True, b: True}))
        return self._pp[k] - self.p(a) * self.p(b)

    def sigma(self, markets: Sequence[str]) -> np.ndarray:
        n = len(markets)
        s = np.empty((n, n))
        for i in range(n):
            for j in range(i, n):
                s[i, j] = s[j, i] = self.cov(markets[i], markets[j])
        return s

    def c(self, outcome: Mapping[str, bool], p_a: float, market: str) -> float:
        """Cov(x_market, 1_A) for the event A = ``outcome``."""
        known = market in outcome
        both = (p_a if outcome[market] else 0.0) if known else float(self.joint({**outcome, market: True}))
        return both - self.p(market) * p_a


def _solve(sigma: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Σ⁻¹c; the minimum-norm least-squares solution when Σ is singular (markets that are one event, or a
    market the model holds certain)."""
    scale = float(np.max(np.abs(np.diag(sigma)))) if sigma.size else 0.0
    if scale <= 0.0:
        return np.zeros_like(c)
    sol, *_ = np.linalg.lstsq(sigma, c, rcond=1e-10)
    return sol


def parlay_deltas(joint: Joint, legs: Sequence[Leg]) -> dict[str, float]:
    """δ = Σ⁻¹c of the parlay of ``legs`` over its markets, per unit payout, in YES-contract units (negative:
    NO contracts). ``joint`` maps ``{market_ticker: bool}`` to the model's probability of that outcome."""
    outcome = _outcome(legs)
    markets = sorted(outcome)
    mom = _Moments(joint)
    for m in markets:
        p = mom.p(m)
        if not 0.0 < p < 1.0:
            raise ValueError(f"marginal of {m} must be inside (0, 1), got {p}")
    p_a = float(joint(outcome))
    c = np.array([mom.c(outcome, p_a, m) for m in markets])
    delta = _solve(mom.sigma(markets), c)
    return {m: float(d) for m, d in zip(markets, delta, strict=True)}


@dataclass(frozen=True)
class OpenBet:
    bet_id: str
    legs: tuple[Leg, ...]
    payout: Decimal
    probability: float  # current model P(all legs hold)


def book_exposure(
    bets: Iterable[OpenBet], joint: Joint, cluster_of: Mapping[str, str] | None = None
) -> dict[str, float]:
    """The house's exposure per market in YES contracts (= dollars per unit of probability): the payout-weighted
    c summed over open bets, solved once per cluster over every market the book touches (positive: the house
    loses when the market's YES probability rises). ``cluster_of`` maps a market to its cluster (markets of
    different clusters are independent); without it all markets are solved together."""
    bets = list(bets)
    group = (lambda m: cluster_of.get(m, f"market/{m}")) if cluster_of is not None else (lambda m: "")
    groups: dict[str, set[str]] = defaultdict(set)
    for bet in bets:
        for leg in bet.legs:
            groups[group(leg.market_ticker)].add(leg.market_ticker)
    mom = _Moments(joint)
    outcomes = [_outcome(b.legs) for b in bets]
    p_as = [float(joint(o)) for o in outcomes]
    out: dict[str, float] = {}
    for g in sorted(groups):
        markets = sorted(groups[g])
        c = np.zeros(len(markets))
        for bet, outcome, p_a in zip(bets, outcomes, p_as, strict=True):
            if not any(group(m) == g for m in outcome):
                continue  # independent of this cluster: no covariance
            c += float(bet.payout) * np.array([mom.c(outcome, p_a, m) for m in markets])
        delta = _solve(mom.sigma(markets), c)
        out.update({m: float(d) for m, d in zip(markets, delta, strict=True)})
    return out


@dataclass(frozen=True)
class HedgeConfig:
    ratio: float = 0.35  # fraction of the book's delta to hedge: the design's 30–40 %
    min_contracts: int = 1  # smaller adjustments are not worth an order
    max_slippage: Decimal = Decimal("0.02")  # limit price: best ask + this, capped below $1
    max_contracts_per_order: int = 10_000
    ratio_override: bool = False  # allow a ratio outside 30–40 % (still strictly between 0 and 1)

    def __post_init__(self) -> None:
        check_ratio(self.ratio, self.ratio_override)
        if self.min_contracts < 1:
            raise ValueError("min_contracts must be at least 1")


def check_ratio(ratio: float, override: bool = False) -> None:
    """The hedge ratio must be in [0.30, 0.40] unless overridden, and always strictly between 0 and 1."""
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"hedge ratio must be strictly between 0 and 1, got {ratio}")
    lo, hi = RATIO_RANGE
    if not override and not lo <= ratio <= hi:
        raise ValueError(f"hedge ratio {ratio} is outside the design's [{lo:.2f}, {hi:.2f}]; set the explicit "
                         "override to use it")


@dataclass(frozen=True)
class Position:
    """Contracts held on the exchange for one market: YES and NO counted separately."""

    yes: Decimal = Decimal(0)
    no: Decimal = Decimal(0)

    @property
    def net_yes(self) -> Decimal:
        return self.yes - self.no


@dataclass(frozen=True)
class Ask:
    """Best asks of one market (YES ask = 1 − best NO bid, NO ask = 1 − best YES bid)."""

    yes: Decimal | None
    no: Decimal | None


@dataclass(frozen=True)
class HedgeOrder:
    client_order_id: str
    market_ticker: str
    side: str
    action: str  # "buy" | "sell"
    count: int
    limit_price: Decimal
    target_net_yes: Decimal
    reason: str
    delta: float = 0.0  # the market's book delta (YES contracts, Σ⁻¹c payout-weighted) the order came from


@dataclass
class HedgePlan:
    orders: list[HedgeOrder] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # market → why no order
    targets: dict[str, Decimal] = field(default_factory=dict)  # market → target net YES contracts


def client_order_id(plan_key: str, market: str, side: str, action: str, count: int) -> str:
    """Deterministic id: the same plan retried after a timeout produces the same id (no double order)."""
    digest = hashlib.sha256(f"{plan_key}|{market}|{side}|{action}|{count}".encode()).hexdigest()
    return f"pmm-{digest[:28]}"


def _limit(ask: Decimal | None, cfg: HedgeConfig) -> Decimal | None:
    if ask is None:
        return None
    return min(ask + cfg.max_slippage, Decimal("0.99")).quantize(Decimal("0.01"), rounding=ROUND_CEILING)


def plan_hedges(
    exposure: Mapping[str, float],
    positions: Mapping[str, Position],
    asks: Mapping[str, Ask],
    cfg: HedgeConfig,
    plan_key: str,
) -> HedgePlan:
    """Orders moving each market's hedge to ``ratio·exposure`` net YES contracts.

    A positive target is held as YES contracts, a negative one as NO contracts; reducing a position
    sells what is held before buying the other side. Targets round toward zero (never over-hedge), and
    differences below ``min_contracts`` are left alone.
    """
    plan = HedgePlan()
    for market in sorted(set(exposure) | set(positions)):
        raw = cfg.ratio * exposure.get(market, 0.0)
        target = Decimal(math.trunc(raw))
        plan.targets[market] = target
        pos = positions.get(market, Position())
        diff = target - pos.net_yes
        if abs(diff) < cfg.min_contracts:
            plan.skipped[market] = f"within {cfg.min_contracts} contract(s) of target"
            continue
        steps: list[tuple[str, str, Decimal]] = []
        if diff > 0:  # more YES exposure wanted: first sell NO held, then buy YES
            sell_no = min(pos.no, diff)
            if sell_no > 0:
                steps.append((NO, "sell", sell_no))
            if diff - sell_no > 0:
                steps.append((YES, "buy", diff - sell_no))
        else:
            need = -diff
            sell_yes = min(pos.yes, need)
            if sell_yes > 0:
                steps.append((YES, "sell", sell_yes))
            if need - sell_yes > 0:
                steps.append((NO, "buy", need - sell_yes))
        ask = asks.get(market, Ask(None, None))
        for side, action, qty in steps:
            count = int(qty.to_integral_value(rounding=ROUND_FLOOR))
            count = min(count, cfg.max_contracts_per_order)
            if count < cfg.min_contracts:
                continue
            if action == "buy":
                limit = _limit(ask.yes if side == YES else ask.no, cfg)
                if limit is None:
                    plan.skipped[market] = f"no {side.upper()} ask in the book: cannot set a price limit"
                    continue
            else:  # selling: accept down to the bid minus slippage (bid = 1 − other side's ask)
                other = ask.no if side == YES else ask.yes
                if other is None:
                    plan.skipped[market] = f"no bid for {side.upper()}: cannot sell"
                    continue
                limit = max(Decimal(1) - other - cfg.max_slippage, Decimal("0.01")).quantize(
                    Decimal("0.01"), rounding=ROUND_FLOOR)
            plan.orders.append(HedgeOrder(
                client_order_id(plan_key, market, side, action, count), market, side, action, count, limit,
                target, f"hedge {cfg.ratio:.0%} of exposure {exposure.get(market, 0.0):.2f}",
                float(exposure.get(market, 0.0)),
            ))
    return plan
