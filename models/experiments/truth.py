"""Exact contract probabilities of the synthetic market, vectorized over rounds and runs.

Given the scores S(s) at game time s, the final scores are S(1) ~ N(S(s), (1 − s)Σ) with the equicorrelated
Σ = (1 − ρ)I + ρ11ᵀ, so asset i resolves YES with the standardized distance a_i = (S_i(s) − c_i)/√(1 − s).
With the one-factor representation Z_i = √ρ F + √(1 − ρ) ε_i (F, ε_i independent standard normals),

    P(YES_i for every i in S | F) = Π_{i∈S} Φ((a_i + √ρ F)/√(1 − ρ)),

and the contract's exact probability — the normal CDF for one leg, the multivariate-normal orthant
probability for a parlay — is its expectation over F. The integral is taken by composite 8-point
Gauss–Legendre quadrature on F ∈ [−9, 9] with 12 panels per unit of the slope √(ρ/(1 − ρ)) (error about
1e-11; tests check every value against :class:`models.pricing.baselines.TrueOracle`).

Stacks: ``a`` has shape (..., n) for any leading shape (runs, rounds). Outcome tables are flat over the 2ⁿ
outcomes x, index Σ_j x_j 2ʲ (the layout of ``models.pricing.exact``); all-YES price vectors are indexed
by the bit mask of the contract's legs.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.special import ndtr

# Composite 8-point Gauss–Legendre nodes on [−9, 9] with normal-density weights, shared with the copula.
from models.pricing.baselines import _factor_nodes

_CHUNK = 1 << 21  # floats per quadrature block (16 MB)


@lru_cache(maxsize=16)
def factor_rule(rho: float) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, weights) with ∫ φ(f) g(f) df ≈ Σ_q w_q g(f_q) (the weights include the normal density)."""
    if not 0.0 <= rho < 1.0:
        raise ValueError(f"rho must lie in [0, 1), got {rho}")
    if rho == 0.0:
        nodes, weights = np.zeros(1), np.ones(1)
    else:
        nodes, weights = _factor_nodes(12 * max(1, math.ceil(math.sqrt(rho / (1.0 - rho)))))
        nodes, weights = nodes.copy(), weights / weights.sum()
    nodes.setflags(write=False)
    weights.setflags(write=False)
    return nodes, weights


def _conditionals(a: np.ndarray, rho: float) -> np.ndarray:
    """P(YES | F = f_q) for every node: (..., k) → (..., Q, k)."""
    nodes, _ = factor_rule(rho)
    return ndtr((a[..., None, :] + math.sqrt(rho) * nodes[:, None]) / math.sqrt(1.0 - rho))


def contract_probabilities(a: np.ndarray, masks: np.ndarray, rho: float) -> np.ndarray:
    """P(every leg of the contract YES) for stacked distances ``a`` (..., n) and one contract per stacked row,
    given by the bit mask of its legs (``masks``, shape (...)). Rows are grouped by their number of legs so
    that only the legs' normal CDFs are evaluated."""
    a = np.asarray(a, dtype=np.float64)
    n = a.shape[-1]
    lead = a.shape[:-1]
    flat_a = a.reshape(-1, n)
    flat_m = np.broadcast_to(np.asarray(masks, dtype=np.int64), lead).ravel()
    if np.any(flat_m <= 0) or np.any(flat_m >= 1 << n):
        raise ValueError("contract masks must lie in 1 … 2ⁿ − 1")
    _, weights = factor_rule(float(rho))
    bits = ((flat_m[:, None] >> np.arange(n)) & 1).astype(bool)
    count = bits.sum(axis=1)
    out = np.empty(flat_m.size)
    for k in np.unique(count):
        rows = np.flatnonzero(count == k)
        cols = np.nonzero(bits[rows])[1].reshape(rows.size, k)
        legs_a = np.take_along_axis(flat_a[rows], cols, axis=1)
        step = max(1, _CHUNK // (weights.size * int(k)))
        for start in range(0, rows.size, step):
            sl = slice(start, start + step)
            out[rows[sl]] = _conditionals(legs_a[sl], float(rho)).prod(axis=-1) @ weights
    return np.clip(out, 0.0, 1.0).reshape(lead)


def _subset_products(a: np.ndarray, rho: float, outcomes: bool) -> np.ndarray:
    """Σ_q w_q Π over the bits of every index: outcome probabilities (bit j set: YES, clear: NO) when
    ``outcomes``, else all-YES prices (bit j set: leg j YES, clear: leg j not in the contract)."""
    a = np.asarray(a, dtype=np.float64)
    n = a.shape[-1]
    lead = a.shape[:-1]
    flat = a.reshape(-1, n)
    _, weights = factor_rule(float(rho))
    size = 1 << n
    out = np.empty((flat.shape[0], size))
    step = max(1, _CHUNK // (weights.size * size))
    for start in range(0, flat.shape[0], step):
        cond = _conditionals(flat[start : start + step], float(rho))  # (r, Q, n)
        cur = np.empty((*cond.shape[:-1], size))
        cur[..., 0] = 1.0
        for j in range(n):
            lo, hi = slice(0, 1 << j), slice(1 << j, 2 << j)
            cj = cond[..., j : j + 1]
            cur[..., hi] = cur[..., lo] * cj
            if outcomes:
                cur[..., lo] *= 1.0 - cj
        out[start : start + step] = np.matmul(weights, cur)
    if outcomes:
        out = np.maximum(out, 0.0)
        out /= out.sum(axis=-1, keepdims=True)
    else:
        np.clip(out, 0.0, 1.0, out=out)
    return out.reshape((*lead, size))


def outcome_tables(a: np.ndarray, rho: float) -> np.ndarray:
    """The probability of every outcome x ∈ {0,1}ⁿ for stacked distances ``a`` (..., n): shape (..., 2ⁿ)."""
    return _subset_products(a, rho, outcomes=True)


def all_yes_truth(a: np.ndarray, rho: float) -> np.ndarray:
    """The exact all-YES price of every subset of legs (index = bit mask; entry 0 is 1): shape (..., 2ⁿ)."""
    return _subset_products(a, rho, outcomes=False)


def all_yes_prices(tables: np.ndarray) -> np.ndarray:
    """All-YES price of every subset (bit mask) from stacked outcome tables (..., 2ⁿ) (entry 0 is the total
    mass): superset sums over each bit, O(n 2ⁿ) per table."""
    t = np.array(tables, dtype=np.float64)
    size = t.shape[-1]
    n = size.bit_length() - 1
    if (1 << n) != size:
        raise ValueError(f"an outcome table has 2ⁿ entries, got {size}")
    lead = t.shape[:-1]
    view = t.reshape(lead + (2,) * n)  # axis len(lead) + a holds bit n − 1 − a
    for axis in range(n):
        lo = [slice(None)] * view.ndim
        hi = [slice(None)] * view.ndim
        lo[len(lead) + axis], hi[len(lead) + axis] = 0, 1
        view[tuple(lo)] += view[tuple(hi)]
    return t


__all__ = ["all_yes_prices", "all_yes_truth", "contract_probabilities", "factor_rule", "outcome_tables"]
