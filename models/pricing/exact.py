"""Exact inference for small Ising clusters by chunked enumeration of all 2ⁿ outcomes.

The outcome index of x ∈ {0,1}ⁿ is Σ_j x_j 2ʲ. Variables split into ``L`` low bits (0 … L−1) and ``n − L``
high bits. The energy table of one chunk of high-bit rows against all low-bit columns is

    E[r, c] = e_hi[r] + e_lo[c] + (X_hi[r] J_hl) · X_lo[c]

so a chunk costs one small matrix product plus one ``exp``; moments are matrix products of the weight
table with the bit tables. Chunks hold at most ``CHUNK_ELEMENTS`` outcomes (8 MB of float64), so memory
stays bounded for any n, and the log-sum-exp is kept stable by a running maximum across chunks.

Pure numpy; no state besides a small cache of bit tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

LOW_BITS = 11
CHUNK_ELEMENTS = 1 << 20
EXACT_HARD_LIMIT = 28  # 2^28 outcomes ≈ a few minutes; beyond this enumeration is refused


@lru_cache(maxsize=64)
def bit_table(m: int) -> np.ndarray:
    """All 2ᵐ bit vectors as rows of a read-only (2ᵐ, m) float64 array; row r holds the bits of r."""
    if m < 0:
        raise ValueError(f"bit_table needs m ≥ 0, got {m}")
    rows = np.arange(1 << m, dtype=np.int64)
    table = ((rows[:, None] >> np.arange(m, dtype=np.int64)) & 1).astype(np.float64)
    table.setflags(write=False)
    return table


@dataclass(frozen=True, eq=False)
class ExactSummary:
    """log Z and (optionally) the first and second moments E[x], E[x xᵀ] of a model."""

    log_z: float
    mean: np.ndarray | None
    second: np.ndarray | None


@dataclass(frozen=True)
class _Layout:
    n: int
    low: int
    high: int
    rows_per_chunk: int


def _layout(n: int) -> _Layout:
    if n > EXACT_HARD_LIMIT:
        raise ValueError(f"exact enumeration refused for n={n} > {EXACT_HARD_LIMIT} variables")
    low = min(n, LOW_BITS)
    high = n - low
    rows = max(1, CHUNK_ELEMENTS >> low)
    return _Layout(n=n, low=low, high=high, rows_per_chunk=min(rows, 1 << high))


def _pair_energy(x: np.ndarray, h: np.ndarray, J: np.ndarray) -> np.ndarray:
    """h·x + ½ xᵀJx for each row x (J has a zero diagonal, so this is h·x + Σ_{i<j} J_ij x_i x_j)."""
    return x @ h + 0.5 * np.einsum("si,si->s", x @ J, x)


def _energy_chunks(h: np.ndarray, J: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield (first high row, X_hi rows, energy table rows × 2^L) for every chunk."""
    lay = _layout(h.shape[0])
    lo, hi = slice(0, lay.low), slice(lay.low, lay.n)
    x_lo = bit_table(lay.low)
    e_lo = _pair_energy(x_lo, h[lo], J[lo, lo])
    x_hi_all = bit_table(lay.high)
    j_hl = J[hi, lo]
    h_hi = h[hi]
    j_hh = J[hi, hi]
    for start in range(0, 1 << lay.high, lay.rows_per_chunk):
        x_hi = x_hi_all[start : start + lay.rows_per_chunk]
        energy = (x_hi @ j_hl) @ x_lo.T
        energy += _pair_energy(x_hi, h_hi, j_hh)[:, None]
        energy += e_lo[None, :]
        yield start, x_hi, energy


def summarize(h: np.ndarray, J: np.ndarray, *, moments: bool = True) -> ExactSummary:
    """Exact log-partition function and, if asked, E[x] and E[x xᵀ] (diagonal = E[x])."""
    n = h.shape[0]
    if n == 0:
        return ExactSummary(log_z=0.0, mean=np.zeros(0), second=np.zeros((0, 0)))
    lay = _layout(n)
    x_lo = bit_table(lay.low)
    running_max = -np.inf
    z = 0.0
    mean = np.zeros(n)
    second = np.zeros((n, n))
    lo, hi = slice(0, lay.low), slice(lay.low, n)
    for _, x_hi, energy in _energy_chunks(h, J):
        chunk_max = float(energy.max())
        if chunk_max > running_max:
            scale_old = np.exp(running_max - chunk_max) if np.isfinite(running_max) else 0.0
            z *= scale_old
            if moments:
                mean *= scale_old
                second *= scale_old
            running_max = chunk_max
        energy -= running_max
        weights = np.exp(energy, out=energy)
        z += float(weights.sum())
        if moments:
            col = weights.sum(axis=0)
            row = weights.sum(axis=1)
            mean[lo] += col @ x_lo
            mean[hi] += row @ x_hi
            second[lo, lo] += x_lo.T @ (col[:, None] * x_lo)
            if lay.high:
                second[hi, hi] += x_hi.T @ (row[:, None] * x_hi)
                cross = x_hi.T @ (weights @ x_lo)
                second[hi, lo] += cross
                second[lo, hi] += cross.T
    log_z = running_max + float(np.log(z))
    if not moments:
        return ExactSummary(log_z=log_z, mean=None, second=None)
    mean /= z
    second /= z
    second = 0.5 * (second + second.T)
    np.fill_diagonal(second, mean)
    return ExactSummary(log_z=log_z, mean=mean, second=second)


def probability_table(h: np.ndarray, J: np.ndarray, log_z: float | None = None) -> np.ndarray:
    """P(x) for every outcome, as a flat array indexed by Σ_j x_j 2ʲ (2ⁿ entries; keep n small)."""
    n = h.shape[0]
    if log_z is None:
        log_z = summarize(h, J, moments=False).log_z
    out = np.empty(1 << n)
    width = 1 << _layout(n).low
    for start, _, energy in _energy_chunks(h, J):
        energy -= log_z
        rows = energy.shape[0]
        out[start * width : (start + rows) * width] = np.exp(energy).ravel()
    return out


def table_joint(table: np.ndarray, n: int, idx: np.ndarray, vals: np.ndarray) -> float:
    """Σ P(x) over outcomes with x[idx] = vals, from a flat probability table."""
    view = table.reshape((2,) * n) if n else table.reshape(())
    key: list[int | slice] = [slice(None)] * n
    for i, v in zip(idx.tolist(), vals.tolist(), strict=True):
        key[n - 1 - i] = int(v)
    return float(np.sum(view[tuple(key)]))


def sample(h: np.ndarray, J: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Exact i.i.d. samples (count, n) int8 by two passes: chunk masses, then draws inside chunks."""
    n = h.shape[0]
    if count == 0 or n == 0:
        return np.zeros((count, n), dtype=np.int8)
    log_masses = []
    for _, _, energy in _energy_chunks(h, J):
        m = float(energy.max())
        log_masses.append(m + float(np.log(np.exp(energy - m).sum())))
    lm = np.array(log_masses)
    chunk_p = np.exp(lm - lm.max())
    chunk_p /= chunk_p.sum()
    per_chunk = rng.multinomial(count, chunk_p)
    width = 1 << _layout(n).low
    picked: list[np.ndarray] = []
    for c, (start, _, energy) in enumerate(_energy_chunks(h, J)):
        if per_chunk[c] == 0:
            continue
        p = np.exp(energy - energy.max()).ravel()
        p /= p.sum()
        local = rng.choice(p.size, size=int(per_chunk[c]), p=p)
        picked.append(local + start * width)
    flat = rng.permutation(np.concatenate(picked))
    return ((flat[:, None] >> np.arange(n, dtype=np.int64)) & 1).astype(np.int8)
