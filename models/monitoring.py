"""Monitoring math: calibration, feature drift, parameter drift, hedge quality, the pool's drawdown series.

Pure functions (no database, no Dagster): the ``monitoring`` assets load the data, call these and store.

* :func:`brier` and :func:`log_loss` score predicted probabilities against 0/1 outcomes;
  :func:`reliability_bins` groups predictions into equal-width bins (the reliability diagram);
* :func:`psi` is the population stability index of a feature between a reference and a current sample:
  Σ (c_k − r_k) · ln(c_k / r_k) over bins k (quantile bins of the reference, or its distinct values when it has
  few), shares floored at ``eps``. Rule of thumb: < 0.10 stable, 0.10–0.25 moderate, > 0.25 significant drift;
* :func:`parameter_drift` compares two fits of one Ising cluster (fields h, couplings J);
* :func:`indicator_covariance`, :func:`book_variance` and :func:`hedge_effectiveness`: the variance of a book
  of binary payoffs (parlays and hedge contracts) under a joint law, and 1 − Var(hedged) / Var(unhedged);
* :func:`slippage_cents` of a fill against the mid at decision time, :func:`marked_probability` of a parlay
  whose legs' markets moved, :func:`drawdown_series` (running peak and drawdown of an equity series);
* :func:`grade` turns a value and a :class:`Threshold` into ``ok`` / ``warn`` / ``error``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ReliabilityBin",
    "Threshold",
    "book_variance",
    "brier",
    "drawdown_series",
    "grade",
    "hedge_effectiveness",
    "indicator_covariance",
    "log_loss",
    "mapping_psi",
    "marked_probability",
    "parameter_drift",
    "psi",
    "reliability_bins",
    "slippage_cents",
]

Leg = tuple[str, str]  # (market ticker, "yes" | "no")


# ----------------------------------------------------------------------------- calibration


def _scored(p: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    pa, ya = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    if pa.shape != ya.shape:
        raise ValueError(f"{len(pa)} predictions for {len(ya)} outcomes")
    if pa.size and (np.any(pa < 0) or np.any(pa > 1)):
        raise ValueError("predicted probabilities must lie in [0, 1]")
    return pa, ya


def brier(p: Sequence[float], y: Sequence[float]) -> float:
    """Mean squared error of probabilities ``p`` against outcomes ``y`` (0/1); NaN when empty."""
    pa, ya = _scored(p, y)
    return float(np.mean((pa - ya) ** 2)) if pa.size else math.nan


def log_loss(p: Sequence[float], y: Sequence[float], eps: float = 1e-15) -> float:
    """Mean negative log likelihood, probabilities clipped into [eps, 1 − eps]; NaN when empty."""
    pa, ya = _scored(p, y)
    if not pa.size:
        return math.nan
    q = np.clip(pa, eps, 1 - eps)
    return float(-np.mean(ya * np.log(q) + (1 - ya) * np.log(1 - q)))


@dataclass(frozen=True)
class ReliabilityBin:
    lower: float
    upper: float
    n: int
    mean_predicted: float
    observed_rate: float


def reliability_bins(p: Sequence[float], y: Sequence[float], n_bins: int = 10) -> list[ReliabilityBin]:
    """Equal-width bins of predicted probability (the last bin includes 1.0); empty bins are left out."""
    pa, ya = _scored(p, y)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, pa, side="right") - 1, 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        inside = which == b
        if inside.any():
            out.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), int(inside.sum()),
                                      float(pa[inside].mean()), float(ya[inside].mean())))
    return out


# ----------------------------------------------------------------------------- drift


def psi(reference: Sequence[float], current: Sequence[float], n_bins: int = 10, eps: float = 1e-4) -> float:
    """Population stability index of ``current`` against ``reference`` (NaN values dropped; NaN when either
    sample is empty). A reference with at most ``n_bins`` distinct values is binned by value (flags, counts);
    otherwise by its quantiles, values outside the reference's range falling in the end bins."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if not ref.size or not cur.size:
        return math.nan
    values = np.unique(ref)
    if values.size <= n_bins:
        cats = np.unique(np.concatenate([values, np.unique(cur)]))
        r = np.array([(ref == v).mean() for v in cats])
        c = np.array([(cur == v).mean() for v in cats])
    else:
        inner = np.unique(np.quantile(ref, np.linspace(0, 1, n_bins + 1))[1:-1])
        k = inner.size + 1
        r = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=k) / ref.size
        c = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=k) / cur.size
    r, c = np.maximum(r, eps), np.maximum(c, eps)
    return float(np.sum((c - r) * np.log(c / r)))


def parameter_drift(h0: np.ndarray, J0: np.ndarray, h1: np.ndarray, J1: np.ndarray) -> dict[str, float]:
    """How far a cluster's fit moved: max and root-mean-square change of the fields h, and of the couplings J
    over the upper triangle (each pair once). The two fits must be on the same variables, in the same order."""
    h0, h1, J0, J1 = (np.asarray(a, dtype=float) for a in (h0, h1, J0, J1))
    if h0.shape != h1.shape or J0.shape != J1.shape or J0.shape != (h0.size, h0.size):
        raise ValueError("the two fits must be on the same variables")
    dh = h1 - h0
    iu = np.triu_indices(h0.size, 1)
    dJ = (J1 - J0)[iu]
    return {"max_abs_dh": float(np.max(np.abs(dh))) if dh.size else 0.0,
            "rms_dh": float(np.sqrt(np.mean(dh ** 2))) if dh.size else 0.0,
            "max_abs_dJ": float(np.max(np.abs(dJ))) if dJ.size else 0.0,
            "rms_dJ": float(np.sqrt(np.mean(dJ ** 2))) if dJ.size else 0.0}


# ----------------------------------------------------------------------------- hedging


def _union(a: Sequence[Leg], b: Sequence[Leg]) -> tuple[Leg, ...] | None:
    """The legs of "a and b" (None when they contradict: one market on both sides)."""
    sides: dict[str, str] = {}
    for market, side in (*a, *b):
        if sides.setdefault(market, side) != side:
            return None
    return tuple(sorted(sides.items()))


def indicator_covariance(events: Sequence[Sequence[Leg]],
                         probability: Callable[[tuple[Leg, ...]], float]) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of the indicators 1{every leg of event k holds}: P(E_k) and
    P(E_k ∧ E_l) − P(E_k) P(E_l), with ``probability`` the joint law's P(all these legs hold)."""
    n = len(events)
    cache: dict[tuple[Leg, ...], float] = {}

    def prob(legs: tuple[Leg, ...] | None) -> float:
        if legs is None:
            return 0.0
        if legs not in cache:
            cache[legs] = float(probability(legs))
        return cache[legs]

    mean = np.array([prob(_union(e, ())) for e in events], dtype=float)
    cov = np.zeros((n, n))
    for k in range(n):
        for m in range(k, n):
            both = mean[k] if k == m else prob(_union(events[k], events[m]))
            cov[k, m] = cov[m, k] = both - mean[k] * mean[m]
    return mean, cov


def book_variance(cov: np.ndarray, weights: Sequence[float]) -> float:
    """Var(Σ_k w_k · 1{E_k}) = wᵀ Σ w."""
    w = np.asarray(weights, dtype=float)
    return float(w @ np.asarray(cov, dtype=float) @ w)


def hedge_effectiveness(var_unhedged: float, var_hedged: float) -> float:
    """1 − Var(hedged) / Var(unhedged): 1 removes all variance, 0 none, negative adds variance (NaN when the
    unhedged book has no variance)."""
    if var_unhedged <= 0:
        return math.nan
    return 1.0 - var_hedged / var_unhedged


def slippage_cents(side: str, action: str, price: float, mid_yes: float) -> float:
    """What a fill cost against the mid at decision time, in cents per contract (positive: worse than the mid).
    A NO contract's mid is 1 − the YES mid; buying above it or selling below it is slippage."""
    mid = mid_yes if side == "yes" else 1.0 - mid_yes
    return 100.0 * ((price - mid) if action == "buy" else (mid - price))


def marked_probability(p0: float, legs0: Sequence[float], legs_now: Sequence[float]) -> float:
    """A parlay's probability re-marked when its legs' probabilities move from ``legs0`` to ``legs_now``, the
    dependence ratio p0 / Π legs0 held fixed: p0 · Π (now_i / then_i), clipped into [0, 1]. A leg now at 0 makes
    it 0; a leg quoted at 0 cannot be re-marked (p0 is kept)."""
    ratio = 1.0
    for then, now in zip(legs0, legs_now, strict=True):
        if now <= 0:
            return 0.0
        if then <= 0:
            return float(min(max(p0, 0.0), 1.0))
        ratio *= now / then
    return float(min(max(p0 * ratio, 0.0), 1.0))


# ----------------------------------------------------------------------------- the pool


def drawdown_series(equity: Sequence[float], peak0: float | None = None) -> tuple[list[float], list[float]]:
    """(running peak, drawdown = (peak − equity) / peak) of an equity series; ``peak0`` is the peak before it."""
    peaks, dds = [], []
    peak = -math.inf if peak0 is None else float(peak0)
    for e in equity:
        peak = max(peak, float(e))
        peaks.append(peak)
        dds.append((peak - float(e)) / peak if peak > 0 else 0.0)
    return peaks, dds


# ----------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class Threshold:
    """``warn`` and ``error`` levels of a metric; ``higher_is_worse`` False for metrics like the fill ratio."""

    warn: float
    error: float | None = None
    higher_is_worse: bool = True

    def __post_init__(self) -> None:
        if self.error is not None and (self.error < self.warn if self.higher_is_worse else self.error > self.warn):
            raise ValueError("the error level must be beyond the warning level")


def grade(value: float | None, threshold: Threshold) -> str:
    """``error`` past the error level, ``warn`` past the warning level, else ``ok`` (also for NaN / None:
    nothing to judge)."""
    if value is None or math.isnan(value):
        return "ok"
    past = (lambda level: value >= level) if threshold.higher_is_worse else (lambda level: value <= level)
    if threshold.error is not None and past(threshold.error):
        return "error"
    return "warn" if past(threshold.warn) else "ok"


def mapping_psi(reference: Mapping[str, Sequence[float]], current: Mapping[str, Sequence[float]],
                n_bins: int = 10) -> dict[str, float]:
    """:func:`psi` of every feature present in both samples."""
    return {k: psi(reference[k], current[k], n_bins) for k in reference if k in current}
