"""What a pricer answers, and the interface the risk engine, the quote API and the hedger rely on.

A *leg* is ``(market_ticker, side)`` with side ``"yes"`` or ``"no"``; a parlay pays when every leg holds.
A :class:`Pricer` prices any parlay over the markets it knows. Its answer, :class:`EnsembleQuote`, keeps
the ensemble's members side by side with the combined probability and its uncertainty, which the risk
engine turns into margin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

Leg = tuple[str, str]
YES, NO = "yes", "no"


@dataclass(frozen=True)
class MarketInfo:
    """A quotable market as the pricer sees it."""

    market_ticker: str
    cluster_id: str
    event_ticker: str | None
    title: str | None
    yes_sub_title: str | None
    no_sub_title: str | None
    mid: float | None  # latest mid price (YES), when a book exists
    probability: float  # the pricer's YES probability
    status: str | None = None
    close_time: str | None = None


@dataclass(frozen=True)
class MemberPrice:
    name: str  # "ising", "independence", "copula", "catboost", …
    probability: float
    weight: float


@dataclass(frozen=True)
class EnsembleQuote:
    legs: tuple[Leg, ...]
    probability: float  # correlation-adjusted probability that every leg holds (what we price)
    raw_probability: float  # the independence price: product of the legs' probabilities
    uncertainty: float  # a standard-deviation-like width: disagreement of members and model width
    members: tuple[MemberPrice, ...] = ()
    impossible: bool = False  # legs that cannot all hold: priced 0, never quoted
    frechet_lower: float = 0.0
    frechet_upper: float = 1.0
    model_version: str = ""
    leg_probabilities: tuple[float, ...] = ()
    notes: tuple[str, ...] = field(default=())
    # The combination before it was held inside the event's bounds (None: not computed, e.g. impossible legs),
    # and every clip applied on the way (a member's price into [0, 1] or into the event's Fréchet bounds, the
    # combination into them): the raw model outputs the coherence check judges.
    unclipped_probability: float | None = None
    clips: tuple[str, ...] = field(default=())
    member_bounds: tuple[float, float] | None = None  # the event's bounds the members must respect


class ModelNotConverged(RuntimeError):
    """The cluster model's inference failed for these legs: the quote is refused (code
    ``model_not_converged``) rather than priced from a fallback."""

    code = "model_not_converged"

    def __init__(self, cluster_id: str, reason: str) -> None:
        super().__init__(f"cluster {cluster_id}: {reason}")
        self.cluster_id = cluster_id
        self.reason = reason


class UnknownMarket(KeyError):
    """A leg names a market the pricer cannot price (unknown, closed, or without data)."""

    def __init__(self, market: str, reason: str) -> None:
        super().__init__(market)
        self.market = market
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.market}: {self.reason}"


@runtime_checkable
class Pricer(Protocol):
    """Prices parlays over a set of markets; one object serves simulation, replay and live."""

    version: str

    def markets(self) -> Mapping[str, MarketInfo]:
        """The quotable markets, by ticker."""
        ...

    def quote(self, legs: Sequence[Leg]) -> EnsembleQuote:
        """Price a parlay. Raises :class:`UnknownMarket` for a leg it cannot price and
        :class:`ModelNotConverged` when the model's inference fails on it (never a silent fallback)."""
        ...


def side_probability(p_yes: float, side: str) -> float:
    if side == YES:
        return p_yes
    if side == NO:
        return 1.0 - p_yes
    raise ValueError(f"side must be 'yes' or 'no', got {side!r}")


def frechet(probabilities: Sequence[float]) -> tuple[float, float]:
    """Bounds on P(all) from the legs' probabilities alone."""
    if not probabilities:
        return 1.0, 1.0
    return max(0.0, sum(probabilities) - (len(probabilities) - 1)), min(probabilities)
