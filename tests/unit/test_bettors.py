"""Simulated bettors pick legs inside 5–95 %; with none there, they report it instead of crashing."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from parlay.bettors import BettorConfig, NothingToQuote, bettor_legs, nothing_to_quote


@dataclass(frozen=True)
class _Info:
    cluster_id: str
    probability: float


class _Pricer:
    def __init__(self, probs: dict[str, tuple[str, float]]) -> None:
        self._m = {t: _Info(c, p) for t, (c, p) in probs.items()}

    def markets(self) -> dict[str, _Info]:
        return self._m


def test_no_market_inside_5_95_is_reported_not_an_index_error() -> None:
    pricer = _Pricer({"A-X": ("A", 0.97), "A-Y": ("A", 0.03), "B-X": ("B", 0.99), "B-Y": ("B", 0.01)})
    with pytest.raises(NothingToQuote, match="nothing to quote: no market inside 5%–95%"):
        bettor_legs(pricer, random.Random(0), BettorConfig())  # type: ignore[arg-type]
    assert nothing_to_quote(pricer).startswith("nothing to quote: ")  # type: ignore[arg-type, union-attr]
    assert "4 markets of 2 cluster(s)" in nothing_to_quote(pricer)  # type: ignore[arg-type, operator]


def test_only_quotable_markets_are_picked_and_one_side_games_work() -> None:
    pricer = _Pricer({"A-X": ("A", 0.6), "A-Y": ("A", 0.99), "B-X": ("B", 0.3)})
    assert nothing_to_quote(pricer) is None  # type: ignore[arg-type]
    rng = random.Random(1)
    for _ in range(50):
        legs = bettor_legs(pricer, rng, BettorConfig())  # type: ignore[arg-type]
        assert legs and {t for t, _ in legs} <= {"A-X", "B-X"}
