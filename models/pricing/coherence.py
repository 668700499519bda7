"""Coherent quotes: Fréchet bounds and YES/NO prices that always add up to 1.

For legs with marginal probabilities p_1 … p_k (each the probability of the leg's own side), any joint law
puts P(all legs) inside the Fréchet bounds max(0, Σp_i − (k − 1)) ≤ P ≤ min_i p_i. Exact inference
respects them by construction; approximate inference can stray by its error, so every quote is clipped
into the bounds computed from the same model's marginals, and the NO price is 1 − YES.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from models.pricing.ising import IsingModel, Method, normalize_legs
from models.pricing.results import InferenceDiagnostics


def frechet_bounds(marginals_of_legs: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """(lower, upper) Fréchet bounds on P(all legs) from the legs' own-side marginals. No legs → (1, 1)."""
    p = np.asarray(marginals_of_legs, dtype=np.float64).ravel()
    if p.size == 0:
        return 1.0, 1.0
    if np.any(~np.isfinite(p)) or np.any((p < 0.0) | (p > 1.0)):
        raise ValueError(f"leg marginals must lie in [0, 1], got {p.tolist()}")
    lower = max(0.0, math.fsum(p.tolist()) - (p.size - 1))  # correctly rounded: independent of leg order
    upper = float(p.min())
    return min(lower, upper), upper


def clip_to_bounds(price: float, lower: float, upper: float) -> float:
    """``price`` moved into [lower, upper]."""
    return float(min(max(price, lower), upper))


@dataclass(frozen=True)
class Quote:
    """A coherent fair quote for one contract: ``yes + no == 1`` and ``lower ≤ yes ≤ upper``.

    ``raw`` is the model's number before clipping into the Fréchet bounds (they differ only through
    approximation error of the inference method).
    """

    legs: tuple[tuple[int, bool], ...]
    yes: float
    no: float
    raw: float
    lower: float
    upper: float
    diagnostics: InferenceDiagnostics

    @property
    def clipped(self) -> bool:
        return self.yes != self.raw


def leg_marginals(
    model: IsingModel, legs: Mapping[int, bool], method: Method = "auto", *, strict: bool = True
) -> np.ndarray:
    """P(x_i = side_i) for each leg, in sorted leg order, from the model's own marginals."""
    idx, vals = normalize_legs(legs, model.n)
    if model.nodes.is_free or model._resolve(method) != "exact":
        m = model.marginals(method, strict=strict)[idx]
    else:  # only the legs' nodes
        m = model.variable_marginals(idx)
    return np.where(vals > 0.5, m, 1.0 - m)


def quote(
    model: IsingModel, legs: Mapping[int, bool], method: Method = "auto", *, strict: bool = True
) -> Quote:
    """Fair YES/NO prices of the contract "every leg holds" under ``model``."""
    idx, vals = normalize_legs(legs, model.n)
    raw = model.joint_probability(legs, method, strict=strict)
    lower, upper = frechet_bounds(leg_marginals(model, legs, method, strict=strict))
    yes = clip_to_bounds(float(raw), lower, upper)
    key = tuple((int(i), bool(v)) for i, v in zip(idx.tolist(), vals.tolist(), strict=True))
    return Quote(legs=key, yes=yes, no=1.0 - yes, raw=float(raw), lower=lower, upper=upper,
                 diagnostics=raw.diagnostics)


def quote_many(
    model: IsingModel,
    contracts: Iterable[Mapping[int, bool]],
    method: Method = "auto",
    *,
    strict: bool = True,
) -> list[Quote]:
    """:func:`quote` for several contracts of the same model (inference caches are shared)."""
    return [quote(model, legs, method, strict=strict) for legs in contracts]


def check_quote_coherence(q: object, tol: float = 1e-9) -> str | None:
    """Why an :class:`~models.pricing.quotes.EnsembleQuote` is incoherent, or None: its probability must lie
    in [0, 1] and within the Fréchet bounds of its legs' own-side probabilities (0 when impossible)."""
    p = float(q.probability)  # type: ignore[attr-defined]
    if not 0.0 - tol <= p <= 1.0 + tol:
        return f"probability {p} outside [0, 1]"
    if q.impossible:  # type: ignore[attr-defined]
        return None if p == 0.0 else f"impossible legs priced {p}"
    lower, upper = frechet_bounds(list(q.leg_probabilities))  # type: ignore[attr-defined]
    if p < lower - tol or p > upper + tol:
        return f"probability {p:.6f} outside Fréchet bounds [{lower:.6f}, {upper:.6f}]"
    return None
