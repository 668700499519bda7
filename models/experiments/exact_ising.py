"""Exact enumeration tables for small clusters and the Ising AMM's online learner, batched over runs.

For n ≤ 12 every outcome x ∈ {0,1}ⁿ (index Σ_j x_j 2ʲ) is enumerated once: :class:`StateSpace` holds the
sufficient statistics T(x) = (x_i; x_i x_j for i < j) of every outcome, which outcomes each contract of the
regime pays on (the all-YES contract on the legs of a bit mask), and which parameters a trade on each
contract updates. :class:`IsingLearner` then runs B independent learners at once (one per simulated run):
θ has shape (B, D), and one round is a handful of (B, 2ⁿ) array operations, whatever the contract.

The learner is the Ising AMM of MISSION §2 with exact inference: model p_θ(x) ∝ exp(θ·T(x)), price of
contract m p = P_θ(A_m), and for a target q the cross-entropy gradient

    ∇_θ CE(q, p) = (p − q)/(1 − p) · (E_θ[T | A_m] − E_θ[T]) = (p − q) · (E_θ[T | A_m] − E_θ[T | ¬A_m]),

computed in the second (equal, numerically stable) form. θ ← θ − η ∇: fields with η_h (all fields), couplings
with η_J, and only the couplings among the legs of a parlay (a base-market trade moves fields only);
|J_ij| ≤ ``max_abs_J``. This is the update of :class:`models.pricing.OnlineLearner` in the full-AMM setting
with ``parlay_couplings="legs"``, ``fields="all"``; tests check it step by step against the gradient
formula evaluated with :class:`models.pricing.IsingModel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

MAX_N = 12


@dataclass(frozen=True, eq=False)
class StateSpace:
    """Enumeration tables of n binary assets and the contracts ``masks`` (bit masks of all-YES legs).

    ``stats`` (2ⁿ, D): T(x), fields first then pairs (i, j), i < j, in ``numpy.triu_indices`` order;
    ``member`` (K, 2ⁿ): contract k pays on outcome x; ``legs`` (K, n): leg indicators; ``scope`` (K, D):
    the parameters a trade on contract k moves (every field; the pairs among its legs when it is a parlay).
    """

    n: int
    masks: np.ndarray
    stats: np.ndarray
    member: np.ndarray
    legs: np.ndarray
    scope: np.ndarray
    payoff: np.ndarray  # ``member`` transposed as floats (2ⁿ, K): prices = tables @ payoff

    @property
    def dim(self) -> int:
        return int(self.stats.shape[1])

    @property
    def contracts(self) -> int:
        return int(self.masks.size)

    @classmethod
    def build(cls, n: int, masks: np.ndarray) -> StateSpace:
        return _space(int(n), tuple(int(m) for m in np.asarray(masks).ravel()))


@lru_cache(maxsize=32)
def _space(n: int, masks: tuple[int, ...]) -> StateSpace:
    if not 1 <= n <= MAX_N:
        raise ValueError(f"exact enumeration tables are built for 1 ≤ n ≤ {MAX_N}, got {n}")
    m = np.array(masks, dtype=np.int64)
    if m.size == 0 or np.any(m <= 0) or np.any(m >= 1 << n):
        raise ValueError("contract masks must lie in 1 … 2ⁿ − 1")
    states = np.arange(1 << n, dtype=np.int64)
    bits = ((states[:, None] >> np.arange(n)) & 1).astype(np.float64)
    iu, ju = np.triu_indices(n, 1)
    stats = np.concatenate([bits, bits[:, iu] * bits[:, ju]], axis=1)
    member = (states[None, :] & m[:, None]) == m[:, None]
    legs = ((m[:, None] >> np.arange(n)) & 1).astype(bool)
    parlay = legs.sum(axis=1) >= 2
    pairs = legs[:, iu] & legs[:, ju] & parlay[:, None]
    scope = np.concatenate([np.ones((m.size, n), dtype=bool), pairs], axis=1)
    payoff = np.ascontiguousarray(member.T, dtype=np.float64)
    for arr in (m, stats, member, legs, scope, payoff):
        arr.setflags(write=False)
    return StateSpace(n, m, stats, member, legs, scope, payoff)


def probability_tables(theta: np.ndarray, space: StateSpace) -> np.ndarray:
    """p_θ(x) for every outcome of every row of θ (B, D): shape (B, 2ⁿ)."""
    energy = theta @ space.stats.T
    energy -= energy.max(axis=1, keepdims=True)
    prob = np.exp(energy)
    prob /= prob.sum(axis=1, keepdims=True)
    return prob


class IsingLearner:
    """B independent exact Ising AMMs (see the module docstring), all starting at ``theta0`` (D,)."""

    def __init__(
        self,
        space: StateSpace,
        runs: int,
        *,
        eta_h: float,
        eta_J: float,
        max_abs_J: float | None = 10.0,
        theta0: np.ndarray | None = None,
    ) -> None:
        if eta_h < 0 or eta_J < 0:
            raise ValueError("step sizes must be ≥ 0")
        self.space = space
        start = np.zeros(space.dim) if theta0 is None else np.asarray(theta0, dtype=np.float64)
        if start.shape != (space.dim,):
            raise ValueError(f"theta0 needs shape ({space.dim},), got {start.shape}")
        self.theta = np.tile(start, (int(runs), 1))
        self.eta = np.concatenate([np.full(space.n, float(eta_h)), np.full(space.dim - space.n, float(eta_J))])
        self.max_abs_J = max_abs_J

    def tables(self) -> np.ndarray:
        return probability_tables(self.theta, self.space)

    def prices(self) -> np.ndarray:
        """P_θ(A_k) of every contract of the regime for every run: (B, K)."""
        return self.tables() @ self.space.payoff

    def step(self, k: np.ndarray, q: np.ndarray) -> np.ndarray:
        """One trade per run on contract ``k`` (B,) with target ``q`` (B,): returns the model price before
        the update and takes one SGD step."""
        sp = self.space
        prob = self.tables()
        inside = sp.member[k]
        in_w = np.where(inside, prob, 0.0)
        p = in_w.sum(axis=1)
        out_w = prob - in_w
        t_in = (in_w @ sp.stats) / np.maximum(p, 1e-300)[:, None]
        t_out = (out_w @ sp.stats) / np.maximum(1.0 - p, 1e-300)[:, None]
        grad = (p - np.asarray(q, dtype=np.float64))[:, None] * (t_in - t_out)
        grad *= sp.scope[k]
        self.theta -= self.eta * grad
        if self.max_abs_J is not None:
            np.clip(self.theta[:, sp.n :], -self.max_abs_J, self.max_abs_J, out=self.theta[:, sp.n :])
        return p

    def fields_and_couplings(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(h, J) of one run's model, in the layout of :class:`models.pricing.IsingModel`."""
        n = self.space.n
        iu, ju = np.triu_indices(n, 1)
        J = np.zeros((n, n))
        J[iu, ju] = self.theta[row, n:]
        return self.theta[row, :n].copy(), J + J.T


__all__ = ["MAX_N", "IsingLearner", "StateSpace", "probability_tables"]
