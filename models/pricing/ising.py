"""The pairwise Ising belief state over one cluster of binary legs.

p(x) ∝ exp(h·x + Σ_{i<j} J_ij x_i x_j) for x ∈ {0,1}ⁿ, exactly this parameterization; the ±1 spin form
(used inside belief propagation) converts at the edges through :func:`binary_to_spins` /
:func:`spins_to_binary`.

Every price is a marginal of this one law. Inference methods:

* ``"exact"`` — chunked enumeration (:mod:`models.pricing.exact`), for n up to ``exact_limit_n``.
* ``"bp"`` — damped loopy BP (:mod:`models.pricing.bp`) conditioned on a small cutset of the most
  strongly coupled variables (``BPConfig.cutset``, default 2: four batched runs); a joint of k legs is
  the ratio of Bethe partition functions Σ_C Z_B(legs, x_C) / Σ_C Z_B(x_C): one batched clamped solve,
  warm-started from the cached unclamped fixed points.
* ``"bp-chain"`` — the chain rule P(a)·P(b | a)·P(c | a, b)…, each conditional a (cutset-mixed) BP
  marginal with the earlier legs clamped: k − 1 clamped solves, each warm-started from the previous one.
  Slightly more accurate than ``"bp"`` on strongly coupled clusters, several times slower.
* ``"auto"`` — exact when n ≤ ``exact_max_n``, otherwise ``"bp"``.

When BP does not converge after every damping attempt, ``"auto"`` falls back to exact enumeration if
n ≤ ``exact_limit_n``; otherwise, and for an explicit BP method, the call raises
:class:`NotConvergedError` (or, with ``strict=False``, returns a result whose diagnostics say
``converged=False``). No non-converged number is ever returned unflagged.

The model is immutable; results of inference (the exact probability table, the BP fixed point) are
cached on the instance, and :meth:`IsingModel.with_parameters` passes the BP messages on to the next
model as a warm start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.special import expit

from models.pricing import exact
from models.pricing.bp import BPConfig, BPEngine, BranchSet
from models.pricing.results import (
    EXACT,
    InferenceDiagnostics,
    LogPartition,
    Moments,
    NotConvergedError,
    Probability,
)

__all__ = [
    "InferenceConfig",
    "IsingModel",
    "Method",
    "binary_to_spins",
    "logit",
    "normalize_legs",
    "spins_to_binary",
]

Method = Literal["auto", "exact", "bp", "bp-chain"]
_METHODS = ("auto", "exact", "bp", "bp-chain")
_SYMMETRY_TOL = 1e-10


# ----------------------------------------------------------------------------- config
@dataclass(frozen=True)
class InferenceConfig:
    """Method thresholds. ``exact_max_n``: largest n that ``"auto"`` enumerates; ``exact_limit_n``: largest
    n enumerated at all (explicit ``"exact"`` or the fallback); ``table_max_n``: largest n whose full
    probability table is cached for fast joint queries (2ⁿ float64)."""

    exact_max_n: int = 20
    exact_limit_n: int = 24
    table_max_n: int = 20
    bp: BPConfig = field(default_factory=BPConfig)

    def __post_init__(self) -> None:
        if not 0 <= self.exact_max_n <= self.exact_limit_n <= exact.EXACT_HARD_LIMIT:
            raise ValueError(
                "need 0 ≤ exact_max_n ≤ exact_limit_n ≤ "
                f"{exact.EXACT_HARD_LIMIT}, got {self.exact_max_n}, {self.exact_limit_n}"
            )
        if self.table_max_n > 24:
            raise ValueError(f"table_max_n={self.table_max_n} would cache more than 2^24 probabilities")


# ----------------------------------------------------------------------------- parameter conversions
def binary_to_spins(h: np.ndarray, J: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(θ, K, c) with h·x + Σ_{i<j} J_ij x_i x_j = c + θ·s + Σ_{i<j} K_ij s_i s_j for s = 2x − 1."""
    h = np.asarray(h, dtype=np.float64)
    J = np.asarray(J, dtype=np.float64)
    theta = h / 2.0 + J.sum(axis=1) / 4.0
    K = J / 4.0
    const = float(h.sum() / 2.0 + np.triu(J, 1).sum() / 4.0)
    return theta, K, const


def spins_to_binary(theta: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(h, J, c) with θ·s + Σ_{i<j} K_ij s_i s_j = c + h·x + Σ_{i<j} J_ij x_i x_j for x = (s + 1)/2."""
    theta = np.asarray(theta, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    h = 2.0 * theta - 2.0 * K.sum(axis=1)
    J = 4.0 * K
    const = float(-theta.sum() + np.triu(K, 1).sum())
    return h, J, const


def logit(p: np.ndarray | float) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    return np.log(p) - np.log1p(-p)


# ----------------------------------------------------------------------------- legs
def normalize_legs(legs: Mapping[int, bool], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate a legs mapping → (sorted indices, 0/1 float values)."""
    if not isinstance(legs, Mapping):
        raise TypeError(f"legs must be a Mapping[int, bool], got {type(legs).__name__}")
    items = []
    for key, side in legs.items():
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
            raise TypeError(f"leg index must be an int, got {key!r}")
        if not 0 <= int(key) < n:
            raise ValueError(f"leg index {key} out of range for a model with {n} variables")
        if isinstance(side, (bool, np.bool_)) or (isinstance(side, (int, np.integer)) and side in (0, 1)):
            items.append((int(key), float(bool(side))))
        else:
            raise TypeError(f"leg side must be a bool, got {side!r} for leg {key}")
    items.sort()
    idx = np.array([k for k, _ in items], dtype=np.intp)
    vals = np.array([v for _, v in items], dtype=np.float64)
    return idx, vals


def _reduce(
    h: np.ndarray, J: np.ndarray, idx: np.ndarray, vals: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Clamp x[idx] = vals: (free indices, reduced h, reduced J, energy of the clamped part)."""
    free = np.setdiff1d(np.arange(h.shape[0]), idx, assume_unique=True)
    h_red = h[free] + J[np.ix_(free, idx)] @ vals
    J_red = J[np.ix_(free, free)]
    const = float(h[idx] @ vals + 0.5 * vals @ J[np.ix_(idx, idx)] @ vals)
    return free, h_red, J_red, const


def _embed_conditional(
    n: int, idx: np.ndarray, vals: np.ndarray, free: np.ndarray, mean_red: np.ndarray, second_red: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    mean = np.empty(n)
    mean[idx] = vals
    mean[free] = mean_red
    second = np.outer(mean, mean)
    second[np.ix_(free, free)] = second_red
    np.fill_diagonal(second, mean)
    return mean, second


# ----------------------------------------------------------------------------- the model
class _Cache:
    __slots__ = ("bp", "bp_moments", "exact_log_z", "exact_moments", "table", "warm")

    def __init__(self) -> None:
        self.exact_log_z: float | None = None
        self.exact_moments: exact.ExactSummary | None = None
        self.table: np.ndarray | None = None
        self.bp: BPEngine | None = None
        self.bp_moments: Moments | None = None
        self.warm: dict[tuple[int, ...], np.ndarray] | None = None


@dataclass(frozen=True, eq=False)
class IsingModel:
    """p(x) ∝ exp(h·x + Σ_{i<j} J_ij x_i x_j) over x ∈ {0,1}ⁿ.

    ``h`` has shape (n,), ``J`` shape (n, n), symmetric with zero diagonal; both are stored as read-only
    float64 copies. Equality is identity (models are compared through their parameters explicitly).
    """

    h: np.ndarray
    J: np.ndarray
    config: InferenceConfig = field(default_factory=InferenceConfig)
    _cache: _Cache = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        h = np.array(self.h, dtype=np.float64)
        J = np.array(self.J, dtype=np.float64)
        if h.ndim != 1 or h.shape[0] == 0:
            raise ValueError(f"h must be a non-empty 1-D array, got shape {h.shape}")
        n = h.shape[0]
        if J.shape != (n, n):
            raise ValueError(f"J must have shape ({n}, {n}) to match h, got {J.shape}")
        if not np.all(np.isfinite(h)):
            raise ValueError("h contains non-finite values")
        if not np.all(np.isfinite(J)):
            raise ValueError("J contains non-finite values")
        asym = float(np.max(np.abs(J - J.T))) if n else 0.0
        if asym > _SYMMETRY_TOL * max(1.0, float(np.max(np.abs(J)))):
            raise ValueError(f"J must be symmetric (max |J − Jᵀ| = {asym:.3g})")
        diag = float(np.max(np.abs(np.diag(J))))
        if diag > 0.0:
            raise ValueError(f"J must have a zero diagonal (max |J_ii| = {diag:.3g}); put self-terms in h")
        J = 0.5 * (J + J.T)
        h.setflags(write=False)
        J.setflags(write=False)
        object.__setattr__(self, "h", h)
        object.__setattr__(self, "J", J)
        object.__setattr__(self, "_cache", _Cache())

    # ------------------------------------------------------------------ constructors
    @classmethod
    def independent(cls, probabilities: np.ndarray, config: InferenceConfig | None = None) -> IsingModel:
        """Independent legs with the given marginals (h = logit p, J = 0)."""
        p = np.asarray(probabilities, dtype=np.float64)
        if np.any((p <= 0.0) | (p >= 1.0)):
            raise ValueError("independent model needs probabilities strictly inside (0, 1)")
        n = p.shape[0]
        return cls(logit(p), np.zeros((n, n)), config or InferenceConfig())

    @classmethod
    def from_spins(
        cls, theta: np.ndarray, K: np.ndarray, config: InferenceConfig | None = None
    ) -> IsingModel:
        """The model p(s) ∝ exp(θ·s + Σ_{i<j} K_ij s_i s_j), s = 2x − 1, in binary form."""
        h, J, _ = spins_to_binary(theta, K)
        return cls(h, J, config or InferenceConfig())

    def to_spins(self) -> tuple[np.ndarray, np.ndarray]:
        """(θ, K) of the spin form of this model."""
        theta, K, _ = binary_to_spins(self.h, self.J)
        return theta, K

    def with_parameters(self, h: np.ndarray, J: np.ndarray) -> IsingModel:
        """A new model with the same config, warm-started from this model's BP messages when present."""
        new = IsingModel(h, J, self.config)
        c = self._cache
        if c.bp is not None:
            new._cache.warm = c.bp.warm_export()
        elif c.warm is not None:
            new._cache.warm = c.warm
        return new

    # ------------------------------------------------------------------ basics
    @property
    def n(self) -> int:
        return int(self.h.shape[0])

    def energy(self, x: np.ndarray) -> np.ndarray | float:
        """h·x + Σ_{i<j} J_ij x_i x_j for one outcome (n,) or many (m, n)."""
        x = np.asarray(x, dtype=np.float64)
        e = x @ self.h + 0.5 * np.einsum("...i,...i->...", x @ self.J, x)
        return float(e) if np.ndim(e) == 0 else e

    def _resolve(self, method: str) -> str:
        if method not in _METHODS:
            raise ValueError(f"unknown inference method {method!r}; use one of {_METHODS}")
        if method == "auto":
            return "exact" if self.n <= self.config.exact_max_n else "bp"
        if method == "exact" and self.n > self.config.exact_limit_n:
            raise ValueError(
                f"exact inference refused for n={self.n} > exact_limit_n={self.config.exact_limit_n}"
            )
        return method

    def _can_fall_back(self, asked: str) -> bool:
        return asked == "auto" and self.n <= self.config.exact_limit_n

    # ------------------------------------------------------------------ exact engine
    def _exact_log_z(self) -> float:
        c = self._cache
        if c.exact_log_z is None:
            if c.exact_moments is not None:
                c.exact_log_z = c.exact_moments.log_z
            else:
                c.exact_log_z = exact.summarize(self.h, self.J, moments=False).log_z
        return c.exact_log_z

    def _exact_moments(self) -> exact.ExactSummary:
        c = self._cache
        if c.exact_moments is None:
            c.exact_moments = exact.summarize(self.h, self.J, moments=True)
            c.exact_log_z = c.exact_moments.log_z
        return c.exact_moments

    def _exact_log_joint(self, idx: np.ndarray, vals: np.ndarray) -> float:
        n = self.n
        if n <= self.config.table_max_n:
            c = self._cache
            if c.table is None:
                c.table = exact.probability_table(self.h, self.J, self._exact_log_z())
            p = exact.table_joint(c.table, n, idx, vals)
            return float(np.log(p)) if p > 0 else -np.inf
        _, h_red, J_red, const = _reduce(self.h, self.J, idx, vals)
        return const + exact.summarize(h_red, J_red, moments=False).log_z - self._exact_log_z()

    def _exact_conditional(self, idx: np.ndarray, vals: np.ndarray) -> Moments:
        if idx.size == 0:
            s = self._exact_moments()
            return Moments(s.mean.copy(), s.second.copy(), 0.0, EXACT)  # type: ignore[union-attr]
        free, h_red, J_red, const = _reduce(self.h, self.J, idx, vals)
        s = exact.summarize(h_red, J_red, moments=True)
        mean, second = _embed_conditional(self.n, idx, vals, free, s.mean, s.second)  # type: ignore[arg-type]
        return Moments(mean, second, const + s.log_z - self._exact_log_z(), EXACT)

    # ------------------------------------------------------------------ BP engine
    def _engine(self) -> BPEngine:
        c = self._cache
        if c.bp is None:
            c.bp = BPEngine(self.h, self.J, self.config.bp, c.warm)
            c.warm = None
        return c.bp

    def _diag(self, method: str, sets: list[BranchSet]) -> InferenceDiagnostics:
        runs = [b.run for b in sets]
        return InferenceDiagnostics(
            method=method,
            converged=all(bool(r.converged.all()) for r in runs),
            iterations=int(sum(int(r.iterations.sum()) for r in runs)),
            max_residual=max(float(r.residual.max()) if r.residual.size else 0.0 for r in runs),
            damping=max(float(r.damping.max()) if r.damping.size else 0.0 for r in runs),
            attempts=max(int(r.attempts.max()) if r.attempts.size else 0 for r in runs),
            runs=sum(int(r.converged.size) for r in runs),
            cutset=int(self._engine().cutset.size),
        )

    def _bp_log_joint(self, idx: np.ndarray, vals: np.ndarray) -> tuple[float, InferenceDiagnostics]:
        eng = self._engine()
        base = eng.base()
        clamped = eng.clamped(idx, vals, tol=self.config.bp.joint_tol)
        log_p = clamped.total_log_z - base.total_log_z
        return min(log_p, 0.0), self._diag("bp", [base, clamped])

    def _bp_chain_log_joint(self, idx: np.ndarray, vals: np.ndarray) -> tuple[float, InferenceDiagnostics]:
        eng = self._engine()
        branches = eng.base()
        used = [branches]
        total = 0.0
        for t in range(idx.size):
            if t > 0:
                branches = eng.clamped(idx[:t], vals[:t], warm=branches)
                used.append(branches)
            p1 = float(eng.means(branches)[idx[t]])
            p = p1 if vals[t] else 1.0 - p1
            if p <= 0.0:
                return -np.inf, self._diag("bp-chain", used)
            total += float(np.log(p))
        return min(total, 0.0), self._diag("bp-chain", used)

    # ------------------------------------------------------------------ public inference
    def joint_probability(
        self, legs: Mapping[int, bool], method: Method = "auto", *, strict: bool = True
    ) -> Probability:
        """P(x_i = legs[i] for every leg). Empty legs → 1.0.

        Returns a :class:`Probability` (a float) whose ``diagnostics`` say how it was computed. Raises
        :class:`NotConvergedError` when BP failed and no fallback applied, unless ``strict=False``.
        """
        idx, vals = normalize_legs(legs, self.n)
        if idx.size == 0:
            return Probability(0.0, InferenceDiagnostics(method=self._resolve(method), converged=True))
        resolved = self._resolve(method)
        if resolved == "exact":
            return Probability(self._exact_log_joint(idx, vals), EXACT)
        if resolved == "bp":
            log_p, diag = self._bp_log_joint(idx, vals)
        else:
            log_p, diag = self._bp_chain_log_joint(idx, vals)
        if diag.converged:
            return Probability(log_p, diag)
        if self._can_fall_back(method):
            return Probability(self._exact_log_joint(idx, vals), _fallback_diag(diag))
        return _not_converged(Probability(log_p, diag), strict, "joint probability")

    def moments(self, method: Method = "auto", *, strict: bool = True) -> Moments:
        """Unconditional E[x] and E[x xᵀ] with diagnostics."""
        resolved = self._resolve(method)
        if resolved == "exact":
            s = self._exact_moments()
            return Moments(s.mean.copy(), s.second.copy(), 0.0, EXACT)  # type: ignore[union-attr]
        c = self._cache
        if c.bp_moments is None:
            eng = self._engine()
            base = eng.base()
            mean, second = eng.moments(base)
            mean.setflags(write=False)
            second.setflags(write=False)
            c.bp_moments = Moments(mean, second, 0.0, self._diag("bp", [base]))
        m = c.bp_moments
        if m.diagnostics.converged:
            return m
        if self._can_fall_back(method):
            s = self._exact_moments()
            return Moments(s.mean.copy(), s.second.copy(), 0.0, _fallback_diag(m.diagnostics))  # type: ignore[union-attr]
        return _not_converged(m, strict, "moments")

    def marginals(self, method: Method = "auto", *, strict: bool = True) -> np.ndarray:
        """P(x_i = 1) for every variable."""
        return np.array(self.moments(method, strict=strict).mean)

    def pairwise_moments(self, method: Method = "auto", *, strict: bool = True) -> np.ndarray:
        """The matrix E[x_i x_j] (diagonal = marginals)."""
        return np.array(self.moments(method, strict=strict).second)

    def conditional_moments(
        self, legs: Mapping[int, bool], method: Method = "auto", *, strict: bool = True
    ) -> Moments:
        """E[x | legs] and E[x xᵀ | legs], plus log P(legs) under the same method."""
        idx, vals = normalize_legs(legs, self.n)
        resolved = self._resolve(method)
        if resolved == "exact":
            return self._exact_conditional(idx, vals)
        if idx.size == 0:
            return self.moments(method, strict=strict)
        eng = self._engine()
        base = eng.base()
        clamped = eng.clamped(idx, vals)
        diag = self._diag("bp", [base, clamped])
        log_p = min(clamped.total_log_z - base.total_log_z, 0.0)
        mean, second = eng.moments(clamped)
        result = Moments(mean, second, log_p, diag)
        if diag.converged:
            return result
        if self._can_fall_back(method):
            m = self._exact_conditional(idx, vals)
            return Moments(m.mean, m.second, m.log_probability, _fallback_diag(diag))
        return _not_converged(result, strict, "conditional moments")

    def log_partition(self, method: Method = "auto", *, strict: bool = True) -> LogPartition:
        """log Z: exact when enumerated, the Bethe estimate when BP is used (``exact`` says which)."""
        resolved = self._resolve(method)
        if resolved == "exact":
            return LogPartition(self._exact_log_z(), True, EXACT)
        base = self._engine().base()
        diag = self._diag("bp", [base])
        log_z = base.total_log_z
        if diag.converged:
            return LogPartition(log_z, False, diag)
        if self._can_fall_back(method):
            return LogPartition(self._exact_log_z(), True, _fallback_diag(diag))
        return _not_converged(LogPartition(log_z, False, diag), strict, "log partition")

    def sample(
        self, n: int, rng: np.random.Generator, *, method: Literal["auto", "exact", "gibbs"] = "auto",
        burn_in: int = 500,
    ) -> np.ndarray:
        """``n`` outcomes as an (n, n_vars) int8 array of 0/1.

        Exact i.i.d. draws when the model is small enough to enumerate (``"auto"`` with
        n_vars ≤ ``exact_limit_n``); otherwise Gibbs sampling: ``n`` independent chains started from the
        BP beliefs (independent draws), each run for ``burn_in`` full sweeps — approximate (MCMC).
        """
        if n < 0:
            raise ValueError(f"sample count must be ≥ 0, got {n}")
        if method not in ("auto", "exact", "gibbs"):
            raise ValueError(f"unknown sampling method {method!r}")
        use_exact = method == "exact" or (method == "auto" and self.n <= self.config.exact_limit_n)
        if use_exact:
            if self.n > self.config.exact_limit_n:
                raise ValueError(f"exact sampling refused for n={self.n} > {self.config.exact_limit_n}")
            return exact.sample(self.h, self.J, n, rng)
        return self._gibbs(n, rng, burn_in)

    def _gibbs(self, count: int, rng: np.random.Generator, burn_in: int) -> np.ndarray:
        try:
            start = self.marginals("bp", strict=True)
        except NotConvergedError:
            start = expit(self.h)
        x = (rng.random((count, self.n)) < start).astype(np.float64)
        J = np.asarray(self.J)
        for _ in range(max(1, burn_in)):
            for i in range(self.n):
                field_i = self.h[i] + x @ J[:, i]
                x[:, i] = rng.random(count) < expit(field_i)
        return x.astype(np.int8)


def _fallback_diag(diag: InferenceDiagnostics) -> InferenceDiagnostics:
    return InferenceDiagnostics(
        method="exact",
        converged=True,
        iterations=diag.iterations,
        max_residual=diag.max_residual,
        damping=diag.damping,
        attempts=diag.attempts,
        runs=diag.runs,
        fallback=f"{diag.method} did not converge (residual {diag.max_residual:.3g})",
    )


def _not_converged(result, strict: bool, what: str):  # type: ignore[no-untyped-def]
    diag: InferenceDiagnostics = result.diagnostics
    if strict:
        estimate = float(result) if isinstance(result, float) else None
        raise NotConvergedError(
            f"{what}: {diag.method} did not converge after {diag.attempts} damping attempts "
            f"({diag.iterations} sweeps, residual {diag.max_residual:.3g})",
            diag,
            estimate,
        )
    return result
