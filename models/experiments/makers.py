"""The market makers of the synthetic experiments, as the paper defines them, batched over runs.

Every market maker posts a YES price for each contract of the regime and runs one LMSR book per contract
(liquidity b). Each round a trader moves the drawn contract's book from the posted price p to the trader's
target q (a real trade); what happens next distinguishes the market makers (one line each, :data:`DEFINITIONS`):

* ``true_oracle`` — knows the law at every instant: posts the exact conditional probability of every
  contract given the current scores.
* ``ising_amm`` — the Ising AMM: a pairwise Ising belief starting at the prior h = 0, J = 0 (every leg at 0.5,
  legs independent: a k-leg contract at 0.5^k); it learns online — one exact SGD step of the cross-entropy
  per trade (:class:`models.experiments.exact_ising.IsingLearner`) — and re-posts every book at the new
  model price (shadow trades).
* ``independent_lmsr`` — one LMSR book per contract, no learning across contracts: a book only moves by its
  own trades. Every book opens at the Ising prior's price for its contract (the same prior information as
  the Ising AMM). This is the headline reading of "independent LMSR per contract".
* ``independent_product`` — the other reading, reported as a labeled variant: LMSR books on the n base
  markets (opened at the Ising prior's 0.5), every parlay priced as the product of the live base prices; a
  parlay trade moves nothing (its book is re-posted at the product).
* ``pairwise_oracle`` — an Ising model fitted once, at round 0, to the true singleton and pairwise moments
  (:class:`models.pricing.baselines.PairwiseOracle`: the I-projection of the round-0 law); never updated.
* ``gaussian_oracle`` — the true Gaussian copula with its round-0 parameters (tip-off marginals, correlation
  ρ): the round-0 exact law; never updated. In the static-truth setting it coincides with the true oracle.

Interface: ``trade(t, k, q)`` — contract index ``k`` (B,) into ``config.masks`` and target ``q`` (B,) for
the B runs of the batch at round t; returns the price each run's maker posted before the trade, and lets
the maker react. ``prices(t)`` — every contract's posted price (B, K) before round t's trade (``t =
rounds``: after the last trade).

Accounting is lazy but exact: a real trade on contract m only depends on the price its book shows at that
moment, which is the price the maker posts then (shadow trades keep books at the posted prices), so
:mod:`models.experiments.simulation` records (posted price, target) per round and settles in closed form.
Posted prices never depend on b, so every loss is exactly proportional to b.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from models.experiments.exact_ising import IsingLearner, StateSpace, probability_tables
from models.experiments.market import MarketRun
from models.pricing.baselines import PairwiseOracle, all_yes_probabilities

MAKERS: tuple[str, ...] = ("true_oracle", "ising_amm", "independent_lmsr", "pairwise_oracle", "gaussian_oracle")
VARIANTS: tuple[str, ...] = ("independent_product",)
ALL_MAKERS: tuple[str, ...] = (*MAKERS, *VARIANTS)
ORACLES: frozenset[str] = frozenset({"true_oracle", "pairwise_oracle", "gaussian_oracle"})
LABELS: dict[str, str] = {
    "true_oracle": "True oracle",
    "ising_amm": "Ising AMM",
    "independent_lmsr": "Independent LMSR",
    "pairwise_oracle": "Pairwise oracle",
    "gaussian_oracle": "Gaussian oracle",
    "independent_product": "Independent LMSR (product variant)",
}
DEFINITIONS: dict[str, str] = {
    "true_oracle": "knows the law at every instant: posts the exact conditional probability of every contract "
                   "given the current scores.",
    "ising_amm": "pairwise Ising belief from the prior h = 0, J = 0 (k-leg contract at 0.5^k); one exact SGD "
                 "step of the cross-entropy per trade; every book re-posted at the new model price (shadow "
                 "trades).",
    "independent_lmsr": "one LMSR book per contract, opened at the Ising prior's price, moved only by its own "
                        "trades (no learning across contracts). Headline reading.",
    "pairwise_oracle": "Ising model fitted once at round 0 to the true singleton and pairwise moments "
                       "(I-projection); never updated.",
    "gaussian_oracle": "the true Gaussian copula with its round-0 parameters (tip-off marginals, ρ), i.e. the "
                       "round-0 exact law; never updated.",
    "independent_product": "variant reading: LMSR books on the base markets (opened at the Ising prior), each "
                           "parlay priced as the product of the live base prices; parlay trades move nothing.",
}


@dataclass(frozen=True)
class IsingSettings:
    """Learner settings of the Ising AMM: step sizes for fields (η_h) and couplings (η_J), coupling box."""

    eta_h: float = 1.0
    eta_J: float = 1.0
    max_abs_J: float | None = 10.0


class MarketMaker(Protocol):
    key: str

    def trade(self, t: int, k: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Posted prices (B,) of the traded contracts before round t's trade; the maker then reacts."""
        ...

    def prices(self, t: int) -> np.ndarray:
        """Every contract's posted price (B, K) before round t's trade."""
        ...


@dataclass(frozen=True, eq=False)
class Batch:
    """B market runs of one configuration, traded together (their arrays stacked by run)."""

    markets: tuple[MarketRun, ...]
    space: StateSpace

    @classmethod
    def of(cls, markets: Sequence[MarketRun]) -> Batch:
        cfg = markets[0].config
        if any(m.config != cfg for m in markets):
            raise ValueError("a batch holds runs of one market configuration")
        return cls(tuple(markets), StateSpace.build(cfg.n, cfg.masks))

    @property
    def size(self) -> int:
        return len(self.markets)


def ising_prior_prices(space: StateSpace) -> np.ndarray:
    """The Ising AMM's opening price of every contract (its prior θ = 0), (K,)."""
    return (probability_tables(np.zeros((1, space.dim)), space) @ space.payoff)[0]


class IsingAMM:
    key = "ising_amm"

    def __init__(self, batch: Batch, settings: IsingSettings) -> None:
        self.learner = IsingLearner(batch.space, batch.size, eta_h=settings.eta_h, eta_J=settings.eta_J,
                                    max_abs_J=settings.max_abs_J)

    def trade(self, t: int, k: np.ndarray, q: np.ndarray) -> np.ndarray:
        return self.learner.step(k, q)

    def prices(self, t: int) -> np.ndarray:
        return self.learner.prices()


class IndependentLMSR:
    key = "independent_lmsr"

    def __init__(self, batch: Batch) -> None:
        self.books = np.tile(ising_prior_prices(batch.space), (batch.size, 1))
        self._rows = np.arange(batch.size)

    def trade(self, t: int, k: np.ndarray, q: np.ndarray) -> np.ndarray:
        posted = self.books[self._rows, k].copy()
        self.books[self._rows, k] = q
        return posted

    def prices(self, t: int) -> np.ndarray:
        return self.books.copy()


class IndependentProduct:
    key = "independent_product"

    def __init__(self, batch: Batch) -> None:
        sp = batch.space
        prior = ising_prior_prices(sp)
        single = sp.legs.sum(axis=1) == 1
        base = np.full(sp.n, 0.5)
        base[np.argmax(sp.legs[single], axis=1)] = prior[single]
        self.base = np.tile(base, (batch.size, 1))
        self._legs = sp.legs.astype(np.float64)
        self._single_leg = np.where(single, np.argmax(sp.legs, axis=1), -1)
        self._rows = np.arange(batch.size)

    def _price(self, k: np.ndarray) -> np.ndarray:
        return np.exp(np.sum(np.log(self.base) * self._legs[k], axis=1))

    def trade(self, t: int, k: np.ndarray, q: np.ndarray) -> np.ndarray:
        posted = self._price(k)
        leg = self._single_leg[k]
        hit = leg >= 0
        self.base[self._rows[hit], leg[hit]] = q[hit]
        return posted

    def prices(self, t: int) -> np.ndarray:
        return np.exp(np.log(self.base) @ self._legs.T)


class FixedPrices:
    """A market maker whose prices are fixed at the start (the pairwise and Gaussian oracles)."""

    def __init__(self, key: str, prices: np.ndarray) -> None:
        self.key = key
        self._prices = np.array(prices, dtype=np.float64)
        self._prices.setflags(write=False)
        self._rows = np.arange(self._prices.shape[0])

    def trade(self, t: int, k: np.ndarray, q: np.ndarray) -> np.ndarray:
        return self._prices[self._rows, k].copy()

    def prices(self, t: int) -> np.ndarray:
        return self._prices.copy()


def pairwise_oracle(batch: Batch) -> FixedPrices:
    """Fitted once to the true pairwise moments of each run's round-0 law."""
    masks = batch.space.masks
    rows = [all_yes_probabilities(PairwiseOracle.from_table(m.truth_table(0)).table())[masks]
            for m in batch.markets]
    return FixedPrices("pairwise_oracle", np.array(rows))


def gaussian_oracle(batch: Batch) -> FixedPrices:
    """The round-0 exact law (true copula, round-0 parameters) of each run."""
    return FixedPrices("gaussian_oracle", np.array([m.truth_prices(np.array([0]))[0] for m in batch.markets]))


class TrueOracle:
    key = "true_oracle"

    def __init__(self, batch: Batch) -> None:
        self._batch = batch
        self._drawn = np.array([m.drawn_truth for m in batch.markets])

    def trade(self, t: int, k: np.ndarray, q: np.ndarray) -> np.ndarray:
        return self._drawn[:, t].copy()

    def prices(self, t: int) -> np.ndarray:
        return np.array([m.truth_prices(np.array([t]))[0] for m in self._batch.markets])


def build_maker(key: str, batch: Batch, ising: IsingSettings | None = None) -> MarketMaker:
    """A fresh market maker ``key`` for the runs of ``batch``."""
    if key == "true_oracle":
        return TrueOracle(batch)
    if key == "ising_amm":
        return IsingAMM(batch, ising or IsingSettings())
    if key == "independent_lmsr":
        return IndependentLMSR(batch)
    if key == "independent_product":
        return IndependentProduct(batch)
    if key == "pairwise_oracle":
        return pairwise_oracle(batch)
    if key == "gaussian_oracle":
        return gaussian_oracle(batch)
    raise ValueError(f"unknown market maker {key!r}; use one of {ALL_MAKERS}")


__all__ = [
    "ALL_MAKERS",
    "DEFINITIONS",
    "LABELS",
    "MAKERS",
    "ORACLES",
    "VARIANTS",
    "Batch",
    "FixedPrices",
    "IndependentLMSR",
    "IndependentProduct",
    "IsingAMM",
    "IsingSettings",
    "MarketMaker",
    "TrueOracle",
    "build_maker",
    "gaussian_oracle",
    "ising_prior_prices",
    "pairwise_oracle",
]
