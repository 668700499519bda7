"""Two-outcome LMSR books (one per contract) and their trade accounting.

Cost function C(q_y, q_n) = b·ln(e^{q_y/b} + e^{q_n/b}) (evaluated as a log-sum-exp), price of YES
σ((q_y − q_n)/b). Moving the price p0 → p1 > p0 takes Δ = b·(logit p1 − logit p0) YES shares and costs
C(q_y + Δ, q_n) − C(q_y, q_n) = b·ln((1 − p0)/(1 − p1)); moving it down takes NO shares and costs
b·ln(p0/p1).

Market-maker loss of a book = payout to every outstanding share − everything the cost function collected.
From an opening price p_open it is at most b·ln(1/min(p_open, 1 − p_open)) whatever happens — b·ln 2 for a
book opened at 0.5.

Trades are tagged ``"real"`` (a counterparty) or ``"shadow"`` (the market maker's own bookkeeping trades
that move a book to the model's new price); both are tracked separately so that loss accounting can tell
what the counterparties paid from what re-synchronizing the books cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Side = Literal["yes", "no"]
TradeKind = Literal["real", "shadow"]
_PRICE_EPS = 1e-12


def lmsr_cost(q_yes: float, q_no: float, b: float) -> float:
    """C(q_y, q_n) = b·ln(e^{q_y/b} + e^{q_n/b}), computed stably."""
    return b * float(np.logaddexp(q_yes / b, q_no / b))


def lmsr_price(q_yes: float, q_no: float, b: float) -> float:
    """YES price σ((q_y − q_n)/b)."""
    z = (q_yes - q_no) / b
    if z >= 0:
        return 1.0 / (1.0 + float(np.exp(-z)))
    e = float(np.exp(z))
    return e / (1.0 + e)


def move_cost(p0: float, p1: float, b: float) -> float:
    """Cost of moving the YES price from p0 to p1: b·ln((1−p0)/(1−p1)) upward (YES), b·ln(p0/p1) downward."""
    _check_price(p0)
    _check_price(p1)
    if p1 >= p0:
        return b * (float(np.log1p(-p0)) - float(np.log1p(-p1)))
    return b * (float(np.log(p0)) - float(np.log(p1)))


def _check_price(p: float) -> None:
    if not _PRICE_EPS <= p <= 1.0 - _PRICE_EPS:
        raise ValueError(f"LMSR prices must lie strictly inside (0, 1), got {p}")


def _logit(p: float) -> float:
    return float(np.log(p) - np.log1p(-p))


@dataclass(frozen=True)
class LMSRTrade:
    """One fill: ``shares`` of ``side`` bought for ``cost`` (the counterparty pays the book)."""

    side: Side
    shares: float
    cost: float
    price_before: float
    price_after: float
    kind: TradeKind


class LMSRBook:
    """A binary LMSR book with liquidity ``b``, opened at ``price`` (default 0.5).

    State is the outstanding share vector (q_yes, q_no); the opening state is the share vector that puts
    the price at ``price`` with q_no = 0 and is not owed to anyone.
    """

    def __init__(self, b: float, price: float = 0.5) -> None:
        if not b > 0 or not np.isfinite(b):
            raise ValueError(f"LMSR liquidity b must be a positive finite number, got {b}")
        _check_price(price)
        self.b = float(b)
        self.open_price = float(price)
        self._q0 = (self.b * _logit(price), 0.0)
        self.q_yes, self.q_no = self._q0
        # Shares and payments per trade kind.
        self.shares: dict[TradeKind, list[float]] = {"real": [0.0, 0.0], "shadow": [0.0, 0.0]}
        self.collected: dict[TradeKind, float] = {"real": 0.0, "shadow": 0.0}

    # ------------------------------------------------------------------ state
    def cost(self) -> float:
        return lmsr_cost(self.q_yes, self.q_no, self.b)

    def price(self) -> float:
        return lmsr_price(self.q_yes, self.q_no, self.b)

    @property
    def worst_case_loss(self) -> float:
        """Largest possible loss of this book over any trade sequence: b·ln(1/min(p_open, 1 − p_open))."""
        return self.b * float(-np.log(min(self.open_price, 1.0 - self.open_price)))

    # ------------------------------------------------------------------ trading
    def quote_buy(self, side: Side, shares: float) -> float:
        """Cost of buying ``shares`` of ``side`` now (no state change)."""
        if shares < 0:
            raise ValueError(f"shares must be ≥ 0, got {shares}")
        qy, qn = (self.q_yes + shares, self.q_no) if side == "yes" else (self.q_yes, self.q_no + shares)
        return lmsr_cost(qy, qn, self.b) - self.cost()

    def buy(self, side: Side, shares: float, kind: TradeKind = "real") -> LMSRTrade:
        """Buy ``shares`` of ``side``; the buyer pays C(after) − C(before)."""
        if side not in ("yes", "no"):
            raise ValueError(f"side must be 'yes' or 'no', got {side!r}")
        before = self.price()
        cost = self.quote_buy(side, shares)
        if side == "yes":
            self.q_yes += shares
            self.shares[kind][0] += shares
        else:
            self.q_no += shares
            self.shares[kind][1] += shares
        self.collected[kind] += cost
        return LMSRTrade(side=side, shares=float(shares), cost=cost, price_before=before,
                         price_after=self.price(), kind=kind)

    def shares_to_move(self, target: float) -> tuple[Side, float]:
        """(side, shares) that move the price to ``target``."""
        _check_price(target)
        delta = self.b * _logit(target) - (self.q_yes - self.q_no)
        return ("yes", delta) if delta >= 0 else ("no", -delta)

    def cost_to_move(self, target: float) -> float:
        """What moving the price to ``target`` costs the buyer (no state change)."""
        side, shares = self.shares_to_move(target)
        return self.quote_buy(side, shares)

    def move_to(self, target: float, kind: TradeKind = "real") -> LMSRTrade:
        """Trade the book to price ``target`` (YES shares if up, NO shares if down)."""
        side, shares = self.shares_to_move(target)
        return self.buy(side, shares, kind)

    # ------------------------------------------------------------------ settlement
    def payout(self, outcome_yes: bool, kind: TradeKind | None = None) -> float:
        """What the book pays at resolution to the shares of ``kind`` (all kinds when None)."""
        kinds: tuple[TradeKind, ...] = ("real", "shadow") if kind is None else (kind,)
        return sum(self.shares[k][0 if outcome_yes else 1] for k in kinds)

    def loss(self, outcome_yes: bool) -> float:
        """Book loss at resolution: payout to every share − everything collected (≤ worst_case_loss)."""
        return self.payout(outcome_yes) - sum(self.collected.values())
