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

Game time of round t is s_t = ``horizon``·t/``rounds``. The default, ``horizon`` = :data:`DEFAULT_HORIZON`
(0.5: trading runs through the first half of the game), is the paper's setting: the scores move while
trading goes on, and the exact conditional probabilities — the informed traders' targets — move with them.
``horizon = 0`` is the static-truth setting (every round at tip-off: one fixed joint law), kept as an
option and labeled as such (:attr:`MarketConfig.setting`).

The exact probabilities of every round come vectorized from :mod:`models.experiments.truth`
(:attr:`MarketRun.drawn_truth`, :meth:`MarketRun.truth_prices`); :meth:`MarketRun.truth` builds the same
law as a :class:`models.pricing.baselines.TrueOracle` for one round (the reference the tests compare with).

Randomness: everything about run ``run`` of a market with ``n`` assets — thresholds, score path,
outcomes, contract draws, trader types and noise — comes from one generator seeded by
(seed, run, n). The trader type is ``u_t < φ`` for a stored uniform u_t, so runs with different φ (and the
two regimes) share thresholds, paths and outcomes: common random numbers across settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
from scipy.special import expit, ndtri

from models.experiments.truth import all_yes_truth, contract_probabilities, outcome_tables
from models.pricing.baselines import TrueOracle, all_yes_probabilities

Regime = Literal["complete", "base-only"]
REGIMES: tuple[Regime, ...] = ("complete", "base-only")
DEFAULT_HORIZON = 0.5


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
    horizon: float = DEFAULT_HORIZON
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
    def static(self) -> bool:
        """True for the static-truth setting (horizon 0: every round at tip-off)."""
        return self.horizon == 0.0

    @property
    def setting(self) -> str:
        """A label of the truth setting, for every printed table and note."""
        if self.static:
            return "static truth (horizon 0: one fixed law, every round at tip-off)"
        return f"Brownian score process (horizon {self.horizon:g}: the truth moves every round)"

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

    def distances(self, rounds: np.ndarray | int | None = None) -> np.ndarray:
        """Standardized distances a = (S(s_t) − c)/√(1 − s_t) at ``rounds`` (default: every round), shape
        (len, n); round index ``rounds = config.rounds`` means after the last trade (the last round's time)."""
        t = np.arange(self.config.rounds) if rounds is None else np.minimum(
            np.asarray(rounds, dtype=np.int64), self.config.rounds - 1)
        return (self.path[t] - self.thresholds) / np.sqrt(1.0 - self.times[t])[..., None]

    @cached_property
    def drawn_truth(self) -> np.ndarray:
        """π_t: the exact conditional probability of round t's contract given the scores at s_t."""
        masks = self.config.masks[self.draws]
        out = contract_probabilities(self.distances(), masks, self.config.rho)
        out.setflags(write=False)
        return out

    @cached_property
    def targets(self) -> np.ndarray:
        """q_t: the trader's target of round t, clipped into [eps, 1 − eps] — π_t for an informed trader,
        σ(logit π_t + noise_sd·ε_t) for a noise trader."""
        eps = self.config.eps
        pi = self.drawn_truth
        z = np.log(np.maximum(pi, eps)) - np.log(np.maximum(1.0 - pi, eps))
        q = np.where(self.noisy, expit(z + self.config.noise_sd * self.shocks), pi)
        out = np.clip(q, eps, 1.0 - eps)
        out.setflags(write=False)
        return out

    def truth_prices(self, rounds: np.ndarray) -> np.ndarray:
        """The exact price of every contract of the regime at ``rounds``: (len, K)."""
        return all_yes_truth(self.distances(rounds), self.config.rho)[..., self.config.masks]

    def truth_table(self, t: int = 0) -> np.ndarray:
        """The exact outcome table (2ⁿ, index Σ_j x_j 2ʲ) at round t."""
        return outcome_tables(self.distances(np.array([t])), self.config.rho)[0]

    def truth(self, t: int) -> tuple[TrueOracle, np.ndarray]:
        """(the exact conditional law at round t as a TrueOracle, its price of every contract): the
        reference implementation of :attr:`drawn_truth` and :meth:`truth_prices`."""
        oracle = TrueOracle.brownian(self.path[t], float(self.times[t]), self.thresholds, self.config.cov_rate)
        return oracle, all_yes_probabilities(oracle.table())[self.config.masks]
