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


def _energy_chunks_rows(
    h: np.ndarray, J: np.ndarray, x_lo: np.ndarray, x_hi_all: np.ndarray
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield (first high row, X_hi rows, energy table rows × len(x_lo)) for every chunk; the variables are
    ordered low then high (``x_lo`` has ``L`` columns, ``x_hi_all`` the other ``n − L``)."""
    low = x_lo.shape[1]
    n = h.shape[0]
    lo, hi = slice(0, low), slice(low, n)
    e_lo = _pair_energy(x_lo, h[lo], J[lo, lo])
    j_hl = J[hi, lo]
    h_hi = h[hi]
    j_hh = J[hi, hi]
    rows = max(1, CHUNK_ELEMENTS // max(1, x_lo.shape[0]))
    for start in range(0, x_hi_all.shape[0], rows):
        x_hi = x_hi_all[start : start + rows]
        energy = (x_hi @ j_hl) @ x_lo.T
        energy += _pair_energy(x_hi, h_hi, j_hh)[:, None]
        energy += e_lo[None, :]
        yield start, x_hi, energy


def _check_n(n: int) -> None:
    if n > EXACT_HARD_LIMIT:
        raise ValueError(f"exact enumeration refused for n={n} > {EXACT_HARD_LIMIT} variables")


def _pair_energy(x: np.ndarray, h: np.ndarray, J: np.ndarray) -> np.ndarray:
    """h·x + ½ xᵀJx for each row x (J has a zero diagonal, so this is h·x + Σ_{i<j} J_ij x_i x_j)."""
    return x @ h + 0.5 * np.einsum("si,si->s", x @ J, x)


def _energy_chunks(h: np.ndarray, J: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Chunks over all 2ⁿ outcomes (bits 0 … L−1 low, the rest high)."""
    n = h.shape[0]
    _check_n(n)
    low = min(n, LOW_BITS)
    yield from _energy_chunks_rows(h, J, bit_table(low), bit_table(n - low))


def summarize_rows(h: np.ndarray, J: np.ndarray, x_lo: np.ndarray, x_hi: np.ndarray, *,
                   moments: bool = True) -> ExactSummary:
    """:func:`summarize` over the outcomes ``[x_lo[c], x_hi[r]]`` for every pair of rows (a product of
    feasible-state tables; variables ordered low then high)."""
    n = h.shape[0]
    if x_lo.shape[0] == 0 or x_hi.shape[0] == 0:
        return ExactSummary(log_z=-np.inf, mean=None, second=None)
    return _summarize(_energy_chunks_rows(h, J, x_lo, x_hi), n, x_lo, moments)


def summarize(h: np.ndarray, J: np.ndarray, *, moments: bool = True) -> ExactSummary:
    """Exact log-partition function and, if asked, E[x] and E[x xᵀ] (diagonal = E[x])."""
    n = h.shape[0]
    if n == 0:
        return ExactSummary(log_z=0.0, mean=np.zeros(0), second=np.zeros((0, 0)))
    return _summarize(_energy_chunks(h, J), n, bit_table(min(n, LOW_BITS)), moments)


def _summarize(chunks: Iterator[tuple[int, np.ndarray, np.ndarray]], n: int, x_lo: np.ndarray,
               moments: bool) -> ExactSummary:
    low = x_lo.shape[1]
    running_max = -np.inf
    z = 0.0
    mean = np.zeros(n)
    second = np.zeros((n, n))
    lo, hi = slice(0, low), slice(low, n)
    for _, x_hi, energy in chunks:
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
            if n > low:
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
    width = 1 << min(n, LOW_BITS)
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
    width = 1 << min(n, LOW_BITS)
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


# ----------------------------------------------------------------------------- feasible states of nodes
def product_rows(tables: list[np.ndarray]) -> np.ndarray:
    """The Cartesian product of row tables (first table slowest), columns concatenated."""
    out = np.ones((1, 0))
    for t in tables:
        a, b = out.shape[0], t.shape[0]
        out = np.concatenate([np.repeat(out, b, axis=0), np.tile(t, (a, 1))], axis=1)
    return out


def thermometer_rows(size: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Variables y_k = [s ≥ k], k = 1 … size − 1, of the allowed states s (all states by default)."""
    states = np.arange(size) if allowed is None else np.asarray(allowed, dtype=np.intp)
    return (states[:, None] >= np.arange(1, size)[None, :]).astype(np.float64)


def summarize_structured(
    h: np.ndarray, J: np.ndarray, nodes: list[tuple[int, ...]], allowed: list[np.ndarray] | None = None, *,
    moments: bool = True,
) -> tuple[ExactSummary, np.ndarray]:
    """Exact log Z (and moments) over the feasible states of ``nodes`` (variable indices into h/J, each in
    threshold order), restricted to the ``allowed`` states of each node. Returns the summary and the
    variable order its moments follow (the nodes' variables concatenated)."""
    low, high, tables, order = _split_nodes(nodes, allowed)
    x_lo = product_rows([tables[k] for k in low])
    x_hi = product_rows([tables[k] for k in high])
    summary = summarize_rows(np.asarray(h)[order], np.asarray(J)[np.ix_(order, order)], x_lo, x_hi,
                             moments=moments)
    return summary, order


def _split_nodes(nodes: list[tuple[int, ...]], allowed: list[np.ndarray] | None
                 ) -> tuple[list[int], list[int], list[np.ndarray], np.ndarray]:
    """(low nodes, high nodes, row table per node, variable order low-then-high): low nodes hold at most
    2^LOW_BITS joint rows."""
    tables = [thermometer_rows(len(q) + 1, None if allowed is None else allowed[k]) for k, q in enumerate(nodes)]
    total = float(np.prod([t.shape[0] for t in tables], dtype=np.float64))
    if total > float(1 << EXACT_HARD_LIMIT):
        raise ValueError(f"exact enumeration refused for {total:.3g} feasible states > 2^{EXACT_HARD_LIMIT}")
    low: list[int] = []
    rows = 1
    for k, t in enumerate(tables):
        if rows * t.shape[0] > (1 << LOW_BITS) and low:
            break
        low.append(k)
        rows *= t.shape[0]
    high = [k for k in range(len(tables)) if k not in low]
    order = np.array([i for k in low + high for i in nodes[k]], dtype=np.intp)
    return low, high, tables, order


def sample_structured(h: np.ndarray, J: np.ndarray, nodes: list[tuple[int, ...]], count: int,
                      rng: np.random.Generator) -> np.ndarray:
    """Exact i.i.d. node states (count, len(nodes)) over the feasible states of ``nodes`` (two passes:
    chunk masses, then draws inside chunks)."""
    low, high, tables, order = _split_nodes(nodes, None)
    x_lo = product_rows([tables[k] for k in low])
    x_hi = product_rows([tables[k] for k in high])
    hh, JJ = np.asarray(h)[order], np.asarray(J)[np.ix_(order, order)]
    masses = []
    for _, _, energy in _energy_chunks_rows(hh, JJ, x_lo, x_hi):
        m = float(energy.max())
        masses.append(m + float(np.log(np.exp(energy - m).sum())))
    lm = np.array(masses)
    per_chunk = rng.multinomial(count, np.exp(lm - lm.max()) / np.exp(lm - lm.max()).sum())
    width = x_lo.shape[0]
    picked = []
    for c, (start, _, energy) in enumerate(_energy_chunks_rows(hh, JJ, x_lo, x_hi)):
        if per_chunk[c]:
            w = np.exp(energy - energy.max()).ravel()
            picked.append(rng.choice(w.size, size=int(per_chunk[c]), p=w / w.sum()) + start * width)
    flat = rng.permutation(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.intp)
    hi_idx, lo_idx = np.divmod(flat, width)
    sizes = [len(q) + 1 for q in nodes]
    out = np.empty((count, len(nodes)), dtype=np.intp)
    for group, idx in ((low, lo_idx), (high, hi_idx)):
        if group:
            for k, s in zip(group, np.unravel_index(idx, tuple(sizes[k] for k in group)), strict=True):
                out[:, k] = s
    return out
