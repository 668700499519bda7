"""Simulated bettors on a day where no market is inside 5–95 %: no pick, no crash."""

from __future__ import annotations

import random
from types import SimpleNamespace

from parlay.bettors import BettorConfig, bettor_legs


class _Pricer:
    def __init__(self, probs: dict[str, float]) -> None:
        self._m = {t: SimpleNamespace(probability=p, cluster_id="g1") for t, p in probs.items()}

    def markets(self) -> dict:
        return self._m


def test_no_market_inside_the_band_gives_no_legs() -> None:
    pricer = _Pricer({"KXNBAGAME-26MAR14AAABBB-AAA": 0.99, "KXNBAGAME-26MAR14AAABBB-BBB": 0.01})
    assert bettor_legs(pricer, random.Random(0), BettorConfig()) == []  # type: ignore[arg-type]


def test_markets_inside_the_band_are_picked() -> None:
    pricer = _Pricer({"KXNBAGAME-26MAR14AAABBB-AAA": 0.6, "KXNBAGAME-26MAR14AAABBB-BBB": 0.4})
    legs = bettor_legs(pricer, random.Random(0), BettorConfig())  # type: ignore[arg-type]
    assert legs and {t for t, _ in legs} <= {"KXNBAGAME-26MAR14AAABBB-AAA", "KXNBAGAME-26MAR14AAABBB-BBB"}
