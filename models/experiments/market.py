"""The synthetic market of the ParlayMarket evaluation (MISSION §3).

n binary assets. Asset i has a score S_i(s) on game time s ∈ [0, 1]: an arithmetic Brownian motion with
zero drift, unit variance rate and pairwise correlation ρ (Cov(dS) = Σ ds, Σ = (1 − ρ)I + ρ11ᵀ), started
at S(0) = 0. Asset i resolves YES iff S_i(1) > c_i; the thresholds c_i = −Φ⁻¹(p_i) put the tip-off
probabilities p_i uniformly in ``marginal_range``.

Trading: ``rounds`` rounds; in each, one contract is drawn uniformly from the regime's contract set —
``"complete"``: the all-YES contract of every non-empty subset of assets (2ⁿ − 1 contracts, singletons
included); ``"base-only"``: the n singletons — and one trader arrives. With probability 1 − φ (``noise``)
the trader is informed and moves the market maker's book to the exact conditional probability of the
contract given the scores so far (:class:`models.pricing.baselines.TrueOracle`: normal CDF for one asset,
multivariate-normal orthant probability for a parlay); otherwise a noise trader moves it to
σ(logit π + ``noise_sd``·ε), ε ~ N(0, 1), a noisy version of the same probability π.

Game time of round t is s_t = ``horizon``·t/``rounds``. With ``horizon = 0`` (the default) every round
happens at tip-off: the truth is one fixed joint law and the learners face a stationary target (the
setting of the paper's convergence results). With ``horizon > 0`` the scores move while trading goes on
and the exact conditional probabilities move with them.

Randomness: everything about run ``run`` of a market with ``n`` assets — thresholds, score path,
outcomes, contract draws, trader types and noise — comes from one generator seeded by
(seed, run, n). The trader type is ``u_t < φ`` for a stored uniform u_t, so runs with different φ (and the
two regimes) share thresholds, paths and outcomes: common random numbers across settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
from scipy.special import expit, ndtri

from models.pricing.baselines import TrueOracle, all_yes_probabilities
from models.pricing.learning import Contract

Regime = Literal["complete", "base-only"]
REGIMES: tuple[Regime, ...] = ("complete", "base-only")


@dataclass(frozen=True)
class MarketConfig:
    """One synthetic market setting (see the module docstring). ``b`` is the LMSR liquidity of every
    book; ``eps`` clips targets and book prices into [eps, 1 − eps]."""

    n: int = 5
    rho: float = 0.5
    regime: Regime = "complete"
    rounds: int = 1000
    noise: float = 0.0
    noise_sd: float = 1.0
    b: float = 1.0
    marginal_range: tuple[float, float] = (0.25, 0.75)
    horizon: float = 0.0
    eps: float = 1e-6

    def __post_init__(self) -> None:
        if not 1 <= self.n <= 12:
            raise ValueError(f"n must lie in 1..12, got {self.n}")
        if not 0.0 <= self.rho < 1.0:
            raise ValueError(f"rho must lie in [0, 1), got {self.rho}")
        if self.regime not in REGIMES:
            raise ValueError(f"regime must be one of {REGIMES}, got {self.regime!r}")
        if self.rounds < 1:
            raise ValueError("rounds must be ≥ 1")
        if not 0.0 <= self.noise <= 1.0:
            raise ValueError(f"noise fraction must lie in [0, 1], got {self.noise}")
        if self.noise_sd < 0 or self.b <= 0:
            raise ValueError("noise_sd must be ≥ 0 and b > 0")
        lo, hi = self.marginal_range
        if not 0.0 < lo <= hi < 1.0:
            raise ValueError(f"marginal_range must satisfy 0 < lo ≤ hi < 1, got {self.marginal_range}")
        if not 0.0 <= self.horizon < 1.0:
            raise ValueError(f"horizon must lie in [0, 1), got {self.horizon}")
        if not 0.0 < self.eps < 0.5:
            raise ValueError("eps must lie in (0, 0.5)")

    @property
    def masks(self) -> np.ndarray:
        """Bit masks of the regime's contracts (bit j set = asset j is a leg, on YES)."""
        if self.regime == "complete":
            return np.arange(1, 1 << self.n, dtype=np.int64)
        return (1 << np.arange(self.n, dtype=np.int64)).astype(np.int64)

    @property
    def contracts(self) -> int:
        return int(self.masks.size)

    @property
    def cov_rate(self) -> np.ndarray:
        c = np.full((self.n, self.n), self.rho)
        np.fill_diagonal(c, 1.0)
        return c


def contract_of(mask: int, n: int) -> Contract:
    """The all-YES contract on the assets of ``mask``."""
    return Contract(tuple((j, True) for j in range(n) if mask >> j & 1))


def prior_price(mask: int, prior: float = 0.5) -> float:
    """The common opening price of every market maker: legs independent, each at ``prior``."""
    return float(prior ** int(mask).bit_count())


@dataclass(frozen=True, eq=False)
class MarketRun:
    """One realisation of a market: truth, flow and outcomes (arrays are read-only).

    ``times[t]``: game time of round t; ``path[t]``: scores at that time; ``final``: S(1);
    ``draws[t]``: index into ``config.masks`` of round t's contract; ``noisy[t]``: noise trader?;
    ``shocks[t]``: the noise trader's N(0, 1) draw.
    """

    config: MarketConfig
    seed: int
    run: int
    thresholds: np.ndarray
    times: np.ndarray
    path: np.ndarray
    final: np.ndarray
    draws: np.ndarray
    noisy: np.ndarray
    shocks: np.ndarray
    _truth_cache: dict[int, tuple[TrueOracle, np.ndarray]] = field(default_factory=dict, repr=False)

    @classmethod
    def generate(cls, config: MarketConfig, seed: int, run: int) -> MarketRun:
        n, T = config.n, config.rounds
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(run), n]))
        lo, hi = config.marginal_range
        p0 = rng.uniform(lo, hi, n)
        thresholds = -ndtri(p0)
        chol = np.linalg.cholesky(config.cov_rate)
        times = config.horizon * np.arange(T) / T
        grid = np.unique(np.concatenate([times, [1.0]]))
        dt = np.diff(np.concatenate([[0.0], grid]))
        steps = rng.standard_normal((grid.size, n)) @ chol.T * np.sqrt(dt)[:, None]
        scores = np.cumsum(steps, axis=0)
        path = scores[np.searchsorted(grid, times)]
        final = scores[-1]
        uniforms = rng.random(T)
        shocks = rng.standard_normal(T)
        draws = np.minimum((rng.random(T) * config.contracts).astype(np.int64), config.contracts - 1)
        noisy = uniforms < config.noise
        arrays = [thresholds, times, path, final, draws, noisy, shocks]
        for a in arrays:
            a.setflags(write=False)
        return cls(config, int(seed), int(run), thresholds, times, path, final, draws, noisy, shocks)

    @cached_property
    def outcomes(self) -> np.ndarray:
        """YES/NO of every asset."""
        return self.final > self.thresholds

    @cached_property
    def contract_outcomes(self) -> np.ndarray:
        """Whether each contract of the regime pays (bool, aligned with ``config.masks``)."""
        bits = (self.config.masks[:, None] >> np.arange(self.config.n)) & 1
        return np.all((bits == 0) | self.outcomes[None, :], axis=1)

    def truth(self, t: int) -> tuple[TrueOracle, np.ndarray]:
        """(the exact conditional law at round t, the exact price of every contract of the regime)."""
        key = 0 if self.config.horizon == 0.0 else int(t)
        hit = self._truth_cache.get(key)
        if hit is None:
            oracle = TrueOracle.brownian(self.path[key], float(self.times[key]), self.thresholds,
                                         self.config.cov_rate)
            prices = all_yes_probabilities(oracle.table())[self.config.masks]
            prices.setflags(write=False)
            if self.config.horizon != 0.0:
                self._truth_cache.clear()
            hit = self._truth_cache[key] = (oracle, prices)
        return hit

    def target(self, t: int) -> tuple[float, float]:
        """(true probability π of round t's contract, the trader's target)."""
        pi = float(self.truth(t)[1][self.draws[t]])
        if not self.noisy[t]:
            return pi, pi
        eps = self.config.eps
        z = np.log(max(pi, eps)) - np.log(max(1.0 - pi, eps))
        return pi, float(expit(z + self.config.noise_sd * self.shocks[t]))
