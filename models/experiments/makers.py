"""The market makers compared in the synthetic experiments, behind one small interface.

Every market maker posts a YES price for each contract of the regime and runs one LMSR book per contract
(liquidity b). A trader moves the traded contract's book from the posted price to the trader's target
(a real trade); what happens next is what distinguishes the market makers:

* ``ising`` — the Ising AMM: :class:`models.pricing.OnlineLearner` in the full-AMM setting (the signal is
  the target price) takes one SGD step, and every book is re-posted at the new model's price (shadow
  trades). Prior: every asset at 0.5, couplings zero.
* ``independent`` — :class:`models.pricing.baselines.IndependentLMSR`: the traded book stays where the
  trader left it; nothing else moves. Its books open at 0.5 (``"half"``: a fresh LMSR with no inventory,
  the default) or at the common prior 0.5^k of a k-leg contract (``"prior"``).
* ``pairwise_oracle`` — :class:`models.pricing.baselines.PairwiseOracle` fitted to the true singleton and
  pairwise moments of the current law (the best the pairwise family can do); prices never react to flow.
* ``gaussian_oracle`` — the true dependence (the Gaussian copula of the scores, correlation ρ) on the
  marginals of its own base-market books: a singleton book stays where its last trader left it, and parlays
  are priced by the copula on those marginals. It never learns dependence from parlay flow.
* ``true_oracle`` — posts the exact conditional probability of every contract.

The model-based market makers start from the common prior "legs independent at 0.5" (a k-leg contract at
0.5^k). Posted prices never depend on b, so every loss is exactly proportional to b.

Accounting is lazy but exact: a market maker's real trade on contract m only depends on the price its
book shows at that moment, which is the price it posts then (shadow trades keep books at the posted
prices). :mod:`models.experiments.simulation` therefore records (posted price, target) per round and
settles the real trades in closed form; re-posting every book after every round would change no real
trade (tests check this against the learner's own books).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from models.experiments.market import MarketRun, contract_of
from models.pricing.baselines import (
    GaussianCopula,
    IndependentLMSR,
    PairwiseOracle,
    all_yes_probabilities,
)
from models.pricing.exact import probability_table
from models.pricing.ising import IsingModel
from models.pricing.learning import Contract, LearnerConfig, OnlineLearner

IndependentOpening = Literal["half", "prior"]
MakerName = Literal["ising", "independent", "pairwise_oracle", "gaussian_oracle", "true_oracle"]
MAKERS: tuple[MakerName, ...] = ("ising", "independent", "pairwise_oracle", "gaussian_oracle", "true_oracle")
ORACLES: frozenset[str] = frozenset({"pairwise_oracle", "gaussian_oracle", "true_oracle"})
LABELS: dict[str, str] = {
    "ising": "Ising AMM",
    "independent": "Independent LMSR",
    "pairwise_oracle": "Pairwise oracle",
    "gaussian_oracle": "Gaussian oracle",
    "true_oracle": "True oracle",
}


@dataclass(frozen=True)
class IsingSettings:
    """Learner settings of the Ising AMM (see :class:`models.pricing.LearnerConfig`)."""

    eta_h: float = 1.0
    eta_J: float = 1.0
    parlay_couplings: Literal["legs", "all"] = "legs"
    max_abs_J: float | None = 10.0


class MarketMaker(Protocol):
    """Contracts are addressed by their index k into ``config.masks``."""

    name: str

    def set_round(self, t: int) -> None:
        """Called at the start of round t (oracles that know the current law move to it)."""

    def price(self, k: int) -> float:
        """The YES price posted for contract k now."""
        ...

    def observe(self, k: int, target: float) -> None:
        """A trader moved contract k's book to ``target``."""

    def prices(self) -> np.ndarray:
        """The posted YES price of every contract (aligned with ``config.masks``)."""
        ...


def _contracts(market: MarketRun) -> list[Contract]:
    n = market.config.n
    return [contract_of(int(m), n) for m in market.config.masks]


class IsingMaker:
    name = "ising"

    def __init__(self, market: MarketRun, settings: IsingSettings) -> None:
        cfg = market.config
        self._masks = cfg.masks
        self._contracts = _contracts(market)
        config = LearnerConfig(eta_h=settings.eta_h, eta_J=settings.eta_J,
                               parlay_couplings=settings.parlay_couplings, max_abs_J=settings.max_abs_J,
                               target_eps=cfg.eps, lmsr_b=cfg.b, setting="amm", method="exact")
        self.learner = OnlineLearner(IsingModel(np.zeros(cfg.n), np.zeros((cfg.n, cfg.n))), config)

    def set_round(self, t: int) -> None:
        return None

    def price(self, k: int) -> float:
        return self.learner.price(self._contracts[k])

    def observe(self, k: int, target: float) -> None:
        self.learner.observe(self._contracts[k], target, trade=False)

    def prices(self) -> np.ndarray:
        model = self.learner.model
        return all_yes_probabilities(probability_table(model.h, model.J))[self._masks]


class IndependentMaker:
    name = "independent"

    def __init__(self, market: MarketRun, opening: IndependentOpening = "half") -> None:
        cfg = market.config
        self._contracts = _contracts(market)
        if opening == "half":
            self.books = IndependentLMSR(cfg.b, prior=0.5, eps=cfg.eps)
        elif opening == "prior":
            self.books = IndependentLMSR(cfg.b, prior=lambda c: 0.5 ** len(c.legs), eps=cfg.eps)
        else:
            raise ValueError(f"independent books open at 'half' or 'prior', got {opening!r}")

    def set_round(self, t: int) -> None:
        return None

    def price(self, k: int) -> float:
        return self.books.price(self._contracts[k])

    def observe(self, k: int, target: float) -> None:
        self.books.trade(self._contracts[k], target)

    def prices(self) -> np.ndarray:
        return np.array([self.books.price(c) for c in self._contracts])


class PairwiseOracleMaker:
    name = "pairwise_oracle"

    def __init__(self, market: MarketRun) -> None:
        self._market = market
        self._masks = market.config.masks
        self._round: int | None = None
        self.oracle: PairwiseOracle | None = None
        self._prices = np.zeros(self._masks.size)
        self.set_round(0)

    def set_round(self, t: int) -> None:
        if self._round is not None and (self._market.config.horizon == 0.0 or t == self._round):
            return
        oracle, _ = self._market.truth(t)
        start = self.oracle.model if self.oracle is not None else None
        self.oracle = PairwiseOracle.from_table(oracle.table(), start=start)
        self._prices = all_yes_probabilities(self.oracle.table())[self._masks]
        self._round = t

    def price(self, k: int) -> float:
        return float(self._prices[k])

    def observe(self, k: int, target: float) -> None:
        return None

    def prices(self) -> np.ndarray:
        return self._prices.copy()


class GaussianOracleMaker:
    name = "gaussian_oracle"

    def __init__(self, market: MarketRun) -> None:
        cfg = market.config
        self._masks = cfg.masks
        self._eps = cfg.eps
        self._legs = [dict(c.legs) for c in _contracts(market)]
        self.copula = GaussianCopula.equicorrelated(cfg.n, cfg.rho)
        self.marginals = np.full(cfg.n, 0.5)
        self._cache: dict[int, float] = {}

    def set_round(self, t: int) -> None:
        return None

    def price(self, k: int) -> float:
        hit = self._cache.get(k)
        if hit is None:
            hit = self._cache[k] = self.copula.joint_probability(self.marginals, self._legs[k])
        return hit

    def observe(self, k: int, target: float) -> None:
        mask = int(self._masks[k])
        if mask.bit_count() == 1:
            self.marginals[mask.bit_length() - 1] = min(max(float(target), self._eps), 1.0 - self._eps)
            self._cache.clear()

    def prices(self) -> np.ndarray:
        return all_yes_probabilities(self.copula.table(self.marginals))[self._masks]


class TrueOracleMaker:
    name = "true_oracle"

    def __init__(self, market: MarketRun) -> None:
        self._market = market
        self._t = 0

    def set_round(self, t: int) -> None:
        self._t = t

    def price(self, k: int) -> float:
        return float(self._market.truth(self._t)[1][k])

    def observe(self, k: int, target: float) -> None:
        return None

    def prices(self) -> np.ndarray:
        return np.array(self._market.truth(self._t)[1])


def build_maker(
    name: str,
    market: MarketRun,
    ising: IsingSettings | None = None,
    independent_open: IndependentOpening = "half",
) -> MarketMaker:
    """A fresh market maker ``name`` for one market run."""
    if name == "ising":
        return IsingMaker(market, ising or IsingSettings())
    if name == "independent":
        return IndependentMaker(market, independent_open)
    if name == "pairwise_oracle":
        return PairwiseOracleMaker(market)
    if name == "gaussian_oracle":
        return GaussianOracleMaker(market)
    if name == "true_oracle":
        return TrueOracleMaker(market)
    raise ValueError(f"unknown market maker {name!r}; use one of {MAKERS}")


__all__ = [
    "LABELS",
    "MAKERS",
    "ORACLES",
    "GaussianOracleMaker",
    "IndependentMaker",
    "IndependentOpening",
    "IsingMaker",
    "IsingSettings",
    "MakerName",
    "MarketMaker",
    "PairwiseOracleMaker",
    "TrueOracleMaker",
    "build_maker",
]
