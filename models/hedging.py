"""Delta hedging: how much each leg's probability moves the book, and the orders that hedge part of it.

The delta of a parlay A with respect to leg i is ∂P(A)/∂p_i. Moving p_i through its field h_i in the
Ising model (everything else fixed): ∂P(A)/∂h_i = P(A)·(E[x_i | A] − p_i) and ∂p_i/∂h_i = p_i(1 − p_i),
so for a leg of A

    YES leg:  ∂P(A)/∂p_i =  P(A) / p_i
    NO leg:   ∂P(A)/∂p_i = −P(A) / (1 − p_i)

(for independent legs P(A)/p_i is the product of the other legs' probabilities, as it should be). A
bet paying ``payout`` if A happens has value ``payout·P(A)`` to the bettor: the house is short that,
so its exposure to leg i is ``payout·∂P(A)/∂p_i`` dollars per unit of probability. One YES contract
gains $1 per unit of p_i, so hedging a fraction ``ratio`` of the exposure means holding
``ratio·exposure`` YES contracts (NO contracts for a negative exposure). We never hedge the full
payout: that would pay the correlation premium back to the exchange.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

YES, NO = "yes", "no"


@dataclass(frozen=True)
class Leg:
    market_ticker: str
    side: str  # "yes" | "no"

    def __post_init__(self) -> None:
        if self.side not in (YES, NO):
            raise ValueError(f"leg side must be 'yes' or 'no', got {self.side!r}")


def leg_deltas(probability: float, legs: Sequence[Leg], marginals: Mapping[str, float]) -> dict[str, float]:
    """∂P(A)/∂p_m for every market m of the parlay (p_m = P(market m resolves YES)).

    ``probability`` is the model's P(all legs hold); ``marginals`` the model's YES probabilities.
    """
    out: dict[str, float] = {}
    for leg in legs:
        p = float(marginals[leg.market_ticker])
        if not 0.0 < p < 1.0:
            raise ValueError(f"marginal of {leg.market_ticker} must be inside (0, 1), got {p}")
        d = probability / p if leg.side == YES else -probability / (1.0 - p)
        out[leg.market_ticker] = out.get(leg.market_ticker, 0.0) + d
    return out


@dataclass(frozen=True)
class OpenBet:
    bet_id: str
    legs: tuple[Leg, ...]
    payout: Decimal
    probability: float  # current model P(all legs hold)


def book_exposure(bets: Iterable[OpenBet], marginals: Mapping[str, float]) -> dict[str, float]:
    """The house's dollar exposure per market: Σ over open bets of payout·∂P/∂p_m (positive: the house
    loses when p_m rises)."""
    total: dict[str, float] = defaultdict(float)
    for bet in bets:
        for market, d in leg_deltas(bet.probability, bet.legs, marginals).items():
            total[market] += float(bet.payout) * d
    return dict(total)


@dataclass(frozen=True)
class HedgeConfig:
    ratio: float = 0.35  # fraction of each leg's delta to hedge (the design asks for 30–40 %)
    min_contracts: int = 1  # smaller adjustments are not worth an order
    max_slippage: Decimal = Decimal("0.02")  # limit price: best ask + this, capped below $1
    max_contracts_per_order: int = 10_000

    def __post_init__(self) -> None:
        if not 0.0 < self.ratio < 1.0:
            raise ValueError(f"hedge ratio must be strictly between 0 and 1, got {self.ratio}")
        if self.min_contracts < 1:
            raise ValueError("min_contracts must be at least 1")


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
            ))
    return plan
