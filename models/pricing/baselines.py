"""Baseline pricers the Ising market maker is measured against (MISSION §3).

* :func:`independence_price` — the product of the legs' own-side probabilities.
* :class:`GaussianCopula` — a multivariate-normal (Gaussian copula) joint law on given marginals. Leg i
  is a latent standard normal Z_i with correlation matrix R; the leg resolves YES iff Z_i ≤ Φ⁻¹(p_i), so
  P(YES) = p_i. A NO leg flips the sign of its latent variable (row/column of R and threshold), and the
  price of a contract is the orthant probability P(±Z_i ≤ ±Φ⁻¹(p_i) for every leg). One leg is the
  marginal; two legs use the bivariate normal CDF in closed form (Owen's T function); three or more use
  the one-factor representation Z_i = √ρ F + √(1 − ρ) ε_i when the legs' correlations are one common
  ρ ≥ 0 (a one-dimensional integral done by composite Gauss–Legendre quadrature, accurate to ~1e-12),
  otherwise ``scipy.stats.multivariate_normal.cdf`` with a fixed seed (deterministic, error ~1e-5).
  An estimated correlation matrix is repaired to the nearest correlation matrix (Higham's alternating
  projections) and marginals are clipped into (ε, 1 − ε); every quote is clipped into the Fréchet bounds.
* :class:`OrdinalCopula` — the Gaussian copula on the nodes of a structured cluster: one latent standard
  normal per node (correlation R), node q in state s iff c_{q,s−1} < Z_q ≤ c_{q,s} with cut points
  c_{q,s} = Φ⁻¹(P(s_q ≤ s)) from the node's marginal law, so every node keeps its marginal law exactly and the
  nested thresholds of one quantity stay nested (one latent variable serves them all). A node mask is a union
  of runs of states; the price of an event is the sum over one run per node of the rectangle probability
  (one node: exact, the marginal mass of its mask; two: the bivariate CDF by inclusion–exclusion; more:
  ``scipy.stats.multivariate_normal.cdf`` with lower limits and a fixed seed). On two-state nodes it is
  :class:`GaussianCopula`.
* :class:`PairwiseOracle` — the Ising model whose singleton and pairwise moments equal given (true)
  moments: the I-projection of the true law onto the pairwise family, found by Newton's method on the
  convex dual log Z(θ) − θ·t with exact enumeration. It does not learn from flow.
* :class:`TrueOracle` — the exact law of threshold events of a Gaussian score vector: leg i resolves YES
  iff X_i > c_i with X ~ N(mean, cov); this is the Gaussian copula with the correlation of X and
  marginals Φ((mean_i − c_i)/sd_i). :meth:`TrueOracle.brownian` builds it for an arithmetic Brownian
  motion observed at game time s ∈ [0, 1): X = S(1) | S(s) ~ N(S(s) + drift·(1 − s), (1 − s)·Σ).
* :class:`IndependentLMSR` — one LMSR book per contract; each book only ever moves by its own trades.

Outcome tables (``table`` methods) are flat arrays of 2ⁿ probabilities indexed by Σ_j x_j 2ʲ, the layout
of :mod:`models.pricing.exact`; :func:`all_yes_probabilities` turns one into the all-YES price of every
subset of legs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.special import logsumexp, ndtr, ndtri, owens_t
from scipy.stats import multivariate_normal

from models.pricing.coherence import clip_to_bounds, frechet_bounds, quote
from models.pricing.exact import bit_table
from models.pricing.ising import IsingModel, normalize_legs
from models.pricing.learning import Contract
from models.pricing.lmsr import LMSRBook, LMSRTrade

__all__ = [
    "GaussianCopula",
    "IndependentLMSR",
    "LegsLike",
    "OrdinalCopula",
    "PairwiseOracle",
    "TrueOracle",
    "all_yes_probabilities",
    "bivariate_normal_cdf",
    "independence_price",
    "nearest_correlation",
]

LegsLike = Mapping[int, bool] | Sequence[tuple[int, bool]]
TABLE_MAX_N = 16  # largest n whose full 2ⁿ outcome table the baselines build
_FACTOR_TOL = 1e-12
_FACTOR_MAX_RHO = 0.999


# ----------------------------------------------------------------------------- legs and tables
def _legs(legs: LegsLike, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted indices, bool sides) from a mapping or a sequence of (index, side) pairs."""
    if isinstance(legs, Mapping):
        mapping: Mapping[int, bool] = legs
    else:
        pairs = [(int(i), s) for i, s in legs]
        mapping = dict(pairs)
        if len(mapping) != len(pairs):
            raise ValueError(f"a leg is listed twice in {list(legs)}")
    idx, vals = normalize_legs(mapping, n)
    return idx, vals > 0.5


def independence_price(
    marginals: Sequence[float] | np.ndarray, sides: Sequence[bool] | Mapping[int, bool]
) -> float:
    """Π_i P(leg i on its side) under independence.

    ``sides`` is either aligned with ``marginals`` (one YES probability and one side per leg) or a
    mapping leg index → side, whose indices then refer to ``marginals`` (the YES probability of every
    variable of the cluster).
    """
    p = np.asarray(marginals, dtype=np.float64).ravel()
    if np.any(~np.isfinite(p)) or np.any((p < 0.0) | (p > 1.0)):
        raise ValueError(f"marginals must lie in [0, 1], got {p.tolist()}")
    if isinstance(sides, Mapping):
        idx, yes = _legs(sides, p.size)
        p = p[idx]
    else:
        yes = np.array([bool(s) for s in sides], dtype=bool)
        if yes.size != p.size:
            raise ValueError(f"{p.size} marginals but {yes.size} sides")
    return float(np.prod(np.where(yes, p, 1.0 - p)))


def all_yes_probabilities(table: np.ndarray) -> np.ndarray:
    """P(x_j = 1 for every j in S) for every subset S (bit mask), from a flat outcome table.

    Entry ``mask`` of the result is the all-YES price of the legs whose bits are set in ``mask``
    (entry 0 is the total mass). Superset sums, O(n 2ⁿ).
    """
    flat = np.asarray(table, dtype=np.float64).ravel()
    n = flat.size.bit_length() - 1
    if n < 0 or (1 << n) != flat.size:
        raise ValueError(f"an outcome table has 2ⁿ entries, got {flat.size}")
    out = flat.copy()
    view = out.reshape((2,) * n) if n else out
    for axis in range(n):  # axis a holds bit n − 1 − a
        lo = [slice(None)] * n
        hi = [slice(None)] * n
        lo[axis], hi[axis] = 0, 1
        view[tuple(lo)] += view[tuple(hi)]
    return out


# ----------------------------------------------------------------------------- normal building blocks
def bivariate_normal_cdf(h: float, k: float, rho: float) -> float:
    """P(Z_1 ≤ h, Z_2 ≤ k) for standard normals with correlation ``rho`` (Owen's T closed form):

    Φ₂(h, k; ρ) = ½Φ(h) + ½Φ(k) − T(h, a_h) − T(k, a_k) − β, a_h = (k − ρh)/(h√(1 − ρ²)),
    a_k = (h − ρk)/(k√(1 − ρ²)), β = ½ when hk < 0 or (hk = 0 and h + k < 0), else 0; h = 0 or k = 0
    use the limit T(0, ±∞) = ±¼.
    """
    h, k, rho = float(h), float(k), float(rho)
    if not -1.0 <= rho <= 1.0:
        raise ValueError(f"correlation must lie in [-1, 1], got {rho}")
    if math.isinf(h) or math.isinf(k):
        if h == -math.inf or k == -math.inf:
            return 0.0
        return float(ndtr(k if h == math.inf else h))
    if rho >= 1.0 - 1e-15:
        return float(ndtr(min(h, k)))
    if rho <= -1.0 + 1e-15:
        return float(max(0.0, ndtr(h) + ndtr(k) - 1.0))
    # Snap negligible arguments to 0 (Φ₂ is continuous; the error is below 1e-150) so that h·k and a·√(1 − ρ²)
    # below cannot underflow.
    h = 0.0 if abs(h) < 1e-150 else h
    k = 0.0 if abs(k) < 1e-150 else k
    if h == 0.0 and k == 0.0:
        return 0.25 + math.asin(rho) / (2.0 * math.pi)
    s = math.sqrt((1.0 - rho) * (1.0 + rho))

    def t_term(a: float, other: float) -> float:
        if a == 0.0:
            return 0.25 if other > 0 else -0.25
        return float(owens_t(a, (other - rho * a) / (a * s)))

    beta = 0.5 if (h * k < 0.0 or (h * k == 0.0 and h + k < 0.0)) else 0.0
    value = 0.5 * float(ndtr(h)) + 0.5 * float(ndtr(k)) - t_term(h, k) - t_term(k, h) - beta
    upper = float(ndtr(min(h, k)))
    lower = max(0.0, float(ndtr(h)) + float(ndtr(k)) - 1.0)
    return min(max(value, lower), upper)


def nearest_correlation(
    matrix: np.ndarray, *, tol: float = 1e-10, max_iter: int = 500, min_eigenvalue: float = 1e-10
) -> np.ndarray:
    """The nearest correlation matrix (symmetric, unit diagonal, positive definite) to ``matrix``.

    Higham's alternating projections with Dykstra's correction between the PSD cone and the unit-diagonal
    matrices, then eigenvalues are floored at ``min_eigenvalue`` (and the diagonal re-scaled to 1) so the
    result is strictly positive definite. A valid correlation matrix comes back (numerically) unchanged.
    """
    a = np.array(matrix, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"need a square matrix, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("matrix contains non-finite values")
    y = 0.5 * (a + a.T)
    np.fill_diagonal(y, 1.0)
    correction = np.zeros_like(y)
    for _ in range(max_iter):
        r = y - correction
        w, v = np.linalg.eigh(r)
        x = (v * np.maximum(w, 0.0)) @ v.T
        correction = x - r
        y_next = 0.5 * (x + x.T)
        np.fill_diagonal(y_next, 1.0)
        done = float(np.max(np.abs(y_next - y))) <= tol
        y = y_next
        if done:
            break
    w, v = np.linalg.eigh(y)
    if w.min() < min_eigenvalue:
        y = (v * np.maximum(w, min_eigenvalue)) @ v.T
        d = np.sqrt(np.diag(y))
        y = y / np.outer(d, d)
    y = 0.5 * (y + y.T)
    np.fill_diagonal(y, 1.0)
    return y


def _is_correlation(matrix: np.ndarray, tol: float = 1e-12) -> bool:
    if not np.allclose(np.diag(matrix), 1.0, atol=tol, rtol=0.0):
        return False
    if float(np.max(np.abs(matrix))) > 1.0 + tol:
        return False
    return bool(np.linalg.eigvalsh(matrix).min() >= -tol)


def _set_correlation(obj: object, corr: np.ndarray) -> None:
    """Validate a copula's ``corr`` and store it read-only, repaired to the nearest correlation matrix when
    it is not one (``repaired`` says so)."""
    c = np.array(corr, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0:
        raise ValueError(f"corr must be a non-empty square matrix, got shape {c.shape}")
    sym = 0.5 * (c + c.T)
    repaired = not (np.all(np.isfinite(c)) and np.allclose(c, c.T, atol=1e-12) and _is_correlation(sym))
    fixed = nearest_correlation(c) if repaired else sym
    fixed.setflags(write=False)
    object.__setattr__(obj, "corr", fixed)
    object.__setattr__(obj, "repaired", bool(repaired))


def _common_correlation(sub: np.ndarray) -> float | None:
    """ρ when every off-diagonal entry of ``sub`` equals one ρ ∈ [0, _FACTOR_MAX_RHO], else None."""
    k = sub.shape[0]
    if k < 2:
        return 0.0
    off = sub[~np.eye(k, dtype=bool)]
    rho = float(off.mean())
    if float(np.max(np.abs(off - rho))) > _FACTOR_TOL or not 0.0 <= rho <= _FACTOR_MAX_RHO:
        return None
    return rho


@lru_cache(maxsize=32)
def _factor_nodes(panels: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite 8-point Gauss–Legendre nodes on [−9, 9], weights multiplied by the normal density."""
    x, w = np.polynomial.legendre.leggauss(8)
    edges = np.linspace(-9.0, 9.0, panels + 1)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[:-1] + edges[1:])
    nodes = (mid[:, None] + half[:, None] * x[None, :]).ravel()
    weights = (half[:, None] * w[None, :]).ravel() * np.exp(-0.5 * nodes**2) / math.sqrt(2.0 * math.pi)
    nodes.setflags(write=False)
    weights.setflags(write=False)
    return nodes, weights


def _factor_conditionals(z: np.ndarray, rho: float) -> tuple[np.ndarray, np.ndarray]:
    """(quadrature weights (Q,), P(Z_i ≤ z_i | F) at every node (Q, k)) for Z_i = √ρ F + √(1 − ρ) ε_i."""
    slope = math.sqrt(rho / (1.0 - rho))
    nodes, weights = _factor_nodes(48 * max(1, math.ceil(slope / 2.0)))
    cond = ndtr((z[None, :] - math.sqrt(rho) * nodes[:, None]) / math.sqrt(1.0 - rho))
    return weights, cond


# ----------------------------------------------------------------------------- Gaussian copula
@dataclass(frozen=True, eq=False)
class GaussianCopula:
    """Gaussian-copula prices on given marginals (see the module docstring).

    ``corr`` is repaired to the nearest correlation matrix when it is not one (``repaired`` says so);
    ``seed``, ``maxpts``, ``abseps`` and ``releps`` fix scipy's randomized integration for three or more
    legs whose correlations are not one common ρ ≥ 0. ``eps`` clips marginals into (eps, 1 − eps).
    """

    corr: np.ndarray
    seed: int = 0
    eps: float = 1e-9
    maxpts: int | None = None
    abseps: float = 1e-6
    releps: float = 1e-6
    repaired: bool = field(init=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.eps < 0.5:
            raise ValueError("eps must lie in (0, 0.5)")
        _set_correlation(self, self.corr)

    @classmethod
    def equicorrelated(cls, n: int, rho: float, **kwargs: object) -> GaussianCopula:
        """All pairwise correlations equal to ``rho``."""
        c = np.full((n, n), float(rho))
        np.fill_diagonal(c, 1.0)
        return cls(c, **kwargs)  # type: ignore[arg-type]

    @property
    def n(self) -> int:
        return int(self.corr.shape[0])

    def _marginals(self, marginals: Sequence[float] | np.ndarray) -> np.ndarray:
        p = np.asarray(marginals, dtype=np.float64).ravel()
        if p.size != self.n:
            raise ValueError(f"need {self.n} marginals, got {p.size}")
        if np.any(~np.isfinite(p)) or np.any((p < 0.0) | (p > 1.0)):
            raise ValueError(f"marginals must lie in [0, 1], got {p.tolist()}")
        return np.clip(p, self.eps, 1.0 - self.eps)

    def joint_probability(self, marginals: Sequence[float] | np.ndarray, legs: LegsLike) -> float:
        """P(every leg on its side) under the copula with YES probabilities ``marginals`` (all n
        variables). Always inside the Fréchet bounds of the (clipped) legs' own-side marginals."""
        p = self._marginals(marginals)
        idx, yes = _legs(legs, self.n)
        k = idx.size
        if k == 0:
            return 1.0
        own = np.where(yes, p[idx], 1.0 - p[idx])
        if k == 1:
            return float(own[0])
        sign = np.where(yes, 1.0, -1.0)
        z = sign * ndtri(p[idx])  # leg holds iff sign·Z ≤ sign·Φ⁻¹(p)
        sub = self.corr[np.ix_(idx, idx)]
        if k == 2:
            raw = bivariate_normal_cdf(z[0], z[1], float(sign[0] * sign[1] * sub[0, 1]))
        else:
            rho = _common_correlation(sub)
            if rho is not None:
                weights, cond = _factor_conditionals(ndtri(p[idx]), rho)
                raw = float(weights @ np.prod(np.where(yes, cond, 1.0 - cond), axis=1))
            else:
                raw = self._scipy_orthant(z, sub * np.outer(sign, sign))
        lower, upper = frechet_bounds(own)
        return clip_to_bounds(raw, lower, upper)

    def _scipy_orthant(self, z: np.ndarray, cov: np.ndarray) -> float:
        k = z.size
        maxpts = self.maxpts if self.maxpts is not None else 50_000 * k
        value = multivariate_normal.cdf(
            z, mean=np.zeros(k), cov=cov, allow_singular=True, maxpts=maxpts, abseps=self.abseps,
            releps=self.releps, rng=np.random.default_rng(self.seed),
        )
        return float(value)

    def table(self, marginals: Sequence[float] | np.ndarray) -> np.ndarray:
        """The probability of every outcome x ∈ {0,1}ⁿ (flat, index Σ_j x_j 2ʲ; x_j = 1 is YES).

        One-factor correlation: one vectorized quadrature. Otherwise the all-YES price of every subset,
        then Möbius inversion (2ⁿ orthant probabilities; keep n small). Negative round-off is clipped.
        """
        p = self._marginals(marginals)
        n = self.n
        if n > TABLE_MAX_N:
            raise ValueError(f"outcome table refused for n={n} > {TABLE_MAX_N}")
        rho = _common_correlation(self.corr)
        if rho is not None:
            weights, cond = _factor_conditionals(ndtri(p), rho)
            cur = np.ones((weights.size, 1))
            for j in range(n):
                cj = cond[:, j : j + 1]
                cur = np.concatenate([cur * (1.0 - cj), cur * cj], axis=1)
            out = weights @ cur
        else:
            all_yes = np.empty(1 << n)
            all_yes[0] = 1.0
            for mask in range(1, 1 << n):
                all_yes[mask] = self.joint_probability(p, {j: True for j in range(n) if mask >> j & 1})
            out = _mobius_from_all_yes(all_yes, n)
        out = np.maximum(out, 0.0)
        return out / out.sum()


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs [a, b] (inclusive) of allowed states."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    d = np.diff(m.astype(np.int8))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _rectangle(lower: np.ndarray, upper: np.ndarray, corr: np.ndarray, seed: int, maxpts: int | None,
               abseps: float, releps: float) -> float:
    """P(lower < Z ≤ upper) for Z ~ N(0, corr)."""
    k = lower.size
    if k == 1:
        return float(ndtr(upper[0]) - ndtr(lower[0]))
    if k == 2:
        rho = float(corr[0, 1])
        value = (bivariate_normal_cdf(upper[0], upper[1], rho) - bivariate_normal_cdf(lower[0], upper[1], rho)
                 - bivariate_normal_cdf(upper[0], lower[1], rho) + bivariate_normal_cdf(lower[0], lower[1], rho))
        return max(0.0, value)
    value = multivariate_normal.cdf(upper, mean=np.zeros(k), cov=corr, allow_singular=True, lower_limit=lower,
                                    maxpts=maxpts if maxpts is not None else 50_000 * k, abseps=abseps,
                                    releps=releps, rng=np.random.default_rng(seed))
    return max(0.0, float(value))


@dataclass(frozen=True, eq=False)
class OrdinalCopula:
    """Gaussian-copula prices of node-mask events on given node marginal laws (see the module docstring).

    ``corr`` (nodes × nodes) is repaired to the nearest correlation matrix when it is not one."""

    corr: np.ndarray
    seed: int = 0
    maxpts: int | None = None
    abseps: float = 1e-6
    releps: float = 1e-6
    repaired: bool = field(init=False)

    def __post_init__(self) -> None:
        _set_correlation(self, self.corr)

    @classmethod
    def from_variables(cls, corr: np.ndarray, nodes: Sequence[Sequence[int]], **kwargs: object) -> OrdinalCopula:
        """Node correlation from a variable-level correlation matrix: the mean of each block (the variables
        of one node are thresholds of one latent quantity)."""
        c = np.asarray(corr, dtype=np.float64)
        k = len(nodes)
        out = np.eye(k)
        for a in range(k):
            for b in range(a + 1, k):
                v = float(np.mean(c[np.ix_(list(nodes[a]), list(nodes[b]))]))
                out[a, b] = out[b, a] = min(max(v, -0.999), 0.999)
        return cls(out, **kwargs)  # type: ignore[arg-type]

    def probability(self, node_marginals: Sequence[np.ndarray], masks: Mapping[int, np.ndarray]) -> float:
        """P(every node in an allowed state) with node q's law ``node_marginals[q]``."""
        restricted = []
        for q, mask in sorted(masks.items()):
            m = np.asarray(mask, dtype=bool)
            if not m.any():
                return 0.0
            if not m.all():
                restricted.append((q, m))
        if not restricted:
            return 1.0
        own = [float(np.asarray(node_marginals[q])[m].sum()) for q, m in restricted]
        if len(restricted) == 1:
            return own[0]
        nodes = [q for q, _ in restricted]
        sub = self.corr[np.ix_(nodes, nodes)]
        cuts = []
        for q, _ in restricted:
            cdf = np.cumsum(np.asarray(node_marginals[q], dtype=np.float64))
            cuts.append(np.concatenate([[-np.inf], ndtri(np.clip(cdf[:-1], 0.0, 1.0)), [np.inf]]))
        total = 0.0
        for pick in itertools.product(*[_runs(m) for _, m in restricted]):
            lower = np.array([cuts[t][a] for t, (a, _) in enumerate(pick)])
            upper = np.array([cuts[t][b + 1] for t, (_, b) in enumerate(pick)])
            total += _rectangle(lower, upper, sub, self.seed, self.maxpts, self.abseps, self.releps)
        lower_b, upper_b = frechet_bounds(own)
        return clip_to_bounds(total, lower_b, upper_b)


def _mobius_from_all_yes(all_yes: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`all_yes_probabilities`: P(x) = Σ_{S ⊇ x} (−1)^{|S∖x|} P(all of S YES)."""
    out = np.array(all_yes, dtype=np.float64)
    view = out.reshape((2,) * n) if n else out
    for axis in range(n):
        lo = [slice(None)] * n
        hi = [slice(None)] * n
        lo[axis], hi[axis] = 0, 1
        view[tuple(lo)] -= view[tuple(hi)]
    return out


# ----------------------------------------------------------------------------- pairwise oracle
def _sufficient_statistics(n: int) -> np.ndarray:
    """(2ⁿ, n + n(n−1)/2) table of T(x) = (x_i, x_i x_j for i < j) over every outcome."""
    bits = bit_table(n)
    iu, ju = np.triu_indices(n, 1)
    return np.concatenate([bits, bits[:, iu] * bits[:, ju]], axis=1)


@dataclass(frozen=True, eq=False)
class PairwiseOracle:
    """The Ising model fitted to target singleton and pairwise moments (the I-projection), fixed.

    ``max_moment_error`` is max |E_model[T] − target| at the fit; ``iterations`` the Newton steps taken.
    """

    model: IsingModel
    target_marginals: np.ndarray
    target_pairwise: np.ndarray
    iterations: int
    max_moment_error: float

    @classmethod
    def fit(
        cls,
        marginals: Sequence[float] | np.ndarray,
        pairwise: np.ndarray,
        *,
        tol: float = 1e-10,
        max_iter: int = 200,
        start: IsingModel | None = None,
    ) -> PairwiseOracle:
        """Newton's method on the convex dual f(θ) = log Z(θ) − θ·t, whose gradient is E_θ[T] − t and
        whose Hessian is Cov_θ(T) (both exact by enumeration), with a backtracking line search.

        ``pairwise`` is the matrix E[x_i x_j] (its diagonal is ignored). The targets must lie strictly
        inside the pairwise Fréchet bounds (otherwise the maximum-entropy law puts zero mass somewhere and
        no finite θ reaches them). ``start`` warm-starts from a model's parameters.
        """
        mu = np.asarray(marginals, dtype=np.float64).ravel()
        m2 = np.asarray(pairwise, dtype=np.float64)
        n = mu.size
        if n == 0 or m2.shape != (n, n):
            raise ValueError(f"need n marginals and an (n, n) pairwise matrix, got {mu.shape}, {m2.shape}")
        if n > TABLE_MAX_N:
            raise ValueError(f"exact I-projection refused for n={n} > {TABLE_MAX_N}")
        if np.any(~np.isfinite(mu)) or np.any((mu <= 0.0) | (mu >= 1.0)):
            raise ValueError("target marginals must lie strictly inside (0, 1)")
        iu, ju = np.triu_indices(n, 1)
        pair = m2[iu, ju]
        lo = np.maximum(0.0, mu[iu] + mu[ju] - 1.0)
        hi = np.minimum(mu[iu], mu[ju])
        if np.any(~np.isfinite(pair)) or np.any((pair <= lo) | (pair >= hi)):
            raise ValueError("target pairwise moments must lie strictly inside their Fréchet bounds")
        target = np.concatenate([mu, pair])
        stats = _sufficient_statistics(n)
        if start is not None:
            if start.n != n:
                raise ValueError(f"start model has {start.n} variables, targets have {n}")
            theta = np.concatenate([start.h, start.J[iu, ju]])
        else:
            theta = np.concatenate([np.log(mu) - np.log1p(-mu), np.zeros(iu.size)])

        def evaluate(th: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
            energy = stats @ th
            log_z = float(logsumexp(energy))
            prob = np.exp(energy - log_z)
            return log_z - float(th @ target), prob, stats.T @ prob - target

        value, prob, grad = evaluate(theta)
        iterations = 0
        while float(np.max(np.abs(grad))) > tol:
            if iterations >= max_iter:
                raise RuntimeError(
                    f"I-projection did not converge in {max_iter} Newton steps "
                    f"(moment error {float(np.max(np.abs(grad))):.3g})"
                )
            mean = stats.T @ prob
            hess = (stats * prob[:, None]).T @ stats - np.outer(mean, mean)
            hess[np.diag_indices_from(hess)] += 1e-12
            step = np.linalg.solve(hess, grad)
            t = 1.0
            err = float(np.max(np.abs(grad)))
            while True:
                cand = theta - t * step
                c_value, c_prob, c_grad = evaluate(cand)
                # Armijo decrease, or — near the optimum, where f is flat to rounding — a smaller gradient.
                if (c_value <= value - 1e-4 * t * float(grad @ step)
                        or float(np.max(np.abs(c_grad))) <= 0.5 * err or t < 1e-10):
                    break
                t *= 0.5
            theta, value, prob, grad = cand, c_value, c_prob, c_grad
            iterations += 1
        J = np.zeros((n, n))
        J[iu, ju] = theta[n:]
        J = J + J.T
        model = IsingModel(theta[:n], J)
        return cls(model=model, target_marginals=mu.copy(), target_pairwise=m2.copy(), iterations=iterations,
                   max_moment_error=float(np.max(np.abs(grad))))

    @classmethod
    def from_table(cls, table: np.ndarray, **kwargs: object) -> PairwiseOracle:
        """Fit to the singleton and pairwise moments of a flat outcome table (index Σ_j x_j 2ʲ)."""
        prob = np.asarray(table, dtype=np.float64).ravel()
        n = prob.size.bit_length() - 1
        if n == 0 or (1 << n) != prob.size:
            raise ValueError(f"an outcome table has 2ⁿ entries (n ≥ 1), got {prob.size}")
        bits = bit_table(n)
        mu = bits.T @ prob
        second = bits.T @ (bits * prob[:, None])
        return cls.fit(mu, second, **kwargs)  # type: ignore[arg-type]

    def joint_probability(self, legs: LegsLike) -> float:
        """Coherent price of the contract under the fitted model."""
        idx, yes = _legs(legs, self.model.n)
        return quote(self.model, dict(zip(idx.tolist(), yes.tolist(), strict=True))).yes

    def table(self) -> np.ndarray:
        """The fitted model's outcome table."""
        stats = _sufficient_statistics(self.model.n)
        iu, ju = np.triu_indices(self.model.n, 1)
        energy = stats @ np.concatenate([self.model.h, self.model.J[iu, ju]])
        return np.exp(energy - logsumexp(energy))


# ----------------------------------------------------------------------------- true oracle
@dataclass(frozen=True, eq=False)
class TrueOracle:
    """Exact law of the events {X_i > thresholds_i} for a Gaussian score vector X ~ N(mean, cov)."""

    mean: np.ndarray
    cov: np.ndarray
    thresholds: np.ndarray
    seed: int = 0
    copula: GaussianCopula = field(init=False, repr=False)

    def __post_init__(self) -> None:
        mean = np.array(self.mean, dtype=np.float64).ravel()
        cov = np.array(self.cov, dtype=np.float64)
        thr = np.array(self.thresholds, dtype=np.float64).ravel()
        n = mean.size
        if cov.shape != (n, n) or thr.size != n or n == 0:
            raise ValueError(f"mean {mean.shape}, cov {cov.shape}, thresholds {thr.shape} do not match")
        sd = np.sqrt(np.diag(cov))
        if np.any(~(sd > 0.0)):
            raise ValueError("every score needs a positive variance")
        for name, arr in (("mean", mean), ("cov", cov), ("thresholds", thr)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "copula", GaussianCopula(cov / np.outer(sd, sd), seed=self.seed, eps=1e-300))

    @classmethod
    def brownian(
        cls,
        scores_now: np.ndarray,
        time_now: float,
        thresholds: np.ndarray,
        cov_rate: np.ndarray,
        drift: np.ndarray | None = None,
        seed: int = 0,
    ) -> TrueOracle:
        """The law of S(1) given S(s) = ``scores_now`` for dS = drift ds + dW, Cov(dW) = cov_rate ds."""
        s = float(time_now)
        if not 0.0 <= s < 1.0:
            raise ValueError(f"game time must lie in [0, 1), got {s}")
        now = np.asarray(scores_now, dtype=np.float64)
        mu = np.zeros_like(now) if drift is None else np.asarray(drift, dtype=np.float64)
        return cls(now + mu * (1.0 - s), (1.0 - s) * np.asarray(cov_rate, dtype=np.float64), thresholds, seed)

    @property
    def n(self) -> int:
        return int(self.mean.size)

    def marginals(self) -> np.ndarray:
        """P(X_i > threshold_i) = Φ((mean_i − threshold_i)/sd_i)."""
        return ndtr((self.mean - self.thresholds) / np.sqrt(np.diag(self.cov)))

    def joint_probability(self, legs: LegsLike) -> float:
        return self.copula.joint_probability(self.marginals(), legs)

    def table(self) -> np.ndarray:
        return self.copula.table(self.marginals())


# ----------------------------------------------------------------------------- independent books
class IndependentLMSR:
    """One LMSR book per contract, opened at ``prior(contract)`` (or a constant price); a book only moves
    when its own contract trades, and every trade is real (there are no shadow trades)."""

    def __init__(
        self, b: float, prior: float | Callable[[Contract], float] = 0.5, eps: float = 1e-6
    ) -> None:
        if not b > 0:
            raise ValueError(f"LMSR liquidity must be > 0, got {b}")
        if not 0.0 < eps < 0.5:
            raise ValueError("eps must lie in (0, 0.5)")
        self.b = float(b)
        self.eps = float(eps)
        self._prior = prior
        self.books: dict[Contract, LMSRBook] = {}

    def _clip(self, p: float) -> float:
        return float(min(max(p, self.eps), 1.0 - self.eps))

    def _opening(self, contract: Contract) -> float:
        p = self._prior(contract) if callable(self._prior) else self._prior
        return self._clip(float(p))

    def price(self, contract: Contract | Mapping[int, bool]) -> float:
        """Current YES price of the contract's book (its opening price if it never traded)."""
        c = Contract.of(contract)
        book = self.books.get(c)
        return book.price() if book is not None else self._opening(c)

    def trade(self, contract: Contract | Mapping[int, bool], target: float) -> LMSRTrade:
        """A counterparty moves the contract's book to ``target`` (clipped into [eps, 1 − eps])."""
        c = Contract.of(contract)
        book = self.books.get(c)
        if book is None:
            book = self.books[c] = LMSRBook(self.b, self._opening(c))
        return book.move_to(self._clip(float(target)), "real")

    def settle(self, outcomes: Mapping[int, bool] | Iterable[bool]) -> float:
        """Market-maker loss at resolution: what the books pay out minus what they collected."""
        out = outcomes if isinstance(outcomes, Mapping) else dict(enumerate(outcomes))
        loss = 0.0
        for c, book in self.books.items():
            yes = all(bool(out[i]) == s for i, s in c.legs)
            loss += book.loss(yes)
        return loss

