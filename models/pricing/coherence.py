"""Coherent quotes: Fréchet bounds and YES/NO prices that always add up to 1.

For legs with marginal probabilities p_1 … p_k (each the probability of the leg's own side), any joint law
puts P(all legs) inside the Fréchet bounds max(0, Σp_i − (k − 1)) ≤ P ≤ min_i p_i. Exact inference
respects them by construction; approximate inference can stray by its error, so every quote is clipped
into the bounds computed from the same model's marginals, and the NO price is 1 − YES.

The coherence check (:func:`check_quote_coherence`, :func:`audit_quotes`) judges the numbers *before* that
clipping: a clip is evidence of an incoherent model output and counts as a failure.
"""

from __future__ import annotations

import itertools
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
    """Why an :class:`~models.pricing.quotes.EnsembleQuote` is incoherent, or None.

    The judgement is on the raw model outputs, before any clipping: every clip the pricer applied
    (``q.clips``: a member's price moved into [0, 1] or into the event's bounds, the combination moved into
    them) is a failure; the combination before clipping (``q.unclipped_probability``) and the Ising member
    must lie in [0, 1] and within the Fréchet bounds of the legs' own-side probabilities (and of the event's
    node masses, ``q.member_bounds``); impossible legs must be priced exactly 0. A pricer that clips its
    way into the bounds therefore fails here even though its quoted number is coherent.
    """
    problems: list[str] = []
    clips = tuple(getattr(q, "clips", ()) or ())
    if clips:
        problems.append(f"{len(clips)} clip(s): " + "; ".join(clips))
    p = float(q.probability)  # type: ignore[attr-defined]
    if q.impossible:  # type: ignore[attr-defined]
        return None if p == 0.0 and not problems else "; ".join([*problems, f"impossible legs priced {p}"])
    raw = getattr(q, "unclipped_probability", None)
    lower, upper = frechet_bounds(list(q.leg_probabilities))  # type: ignore[attr-defined]
    bounds = [("Fréchet bounds", lower, upper)]
    event = getattr(q, "member_bounds", None)
    if event is not None:
        bounds.append(("event bounds", float(event[0]), float(event[1])))
    judged = [("probability", p)] + ([("unclipped probability", float(raw))] if raw is not None else [])
    judged += [(f"{m.name} member", float(m.probability)) for m in getattr(q, "members", ()) if m.name == "ising"]
    for what, value in judged:
        if not 0.0 - tol <= value <= 1.0 + tol:
            problems.append(f"{what} {value} outside [0, 1]")
            continue
        for name, lo, hi in bounds:
            if value < lo - tol or value > hi + tol:
                problems.append(f"{what} {value:.6f} outside {name} [{lo:.6f}, {hi:.6f}]")
    return "; ".join(problems) if problems else None


def audit_quotes(pricer: object, tickers: Sequence[str], max_legs: int = 3, tol: float = 1e-9) -> dict[str, object]:
    """Every 1- … ``max_legs``-leg YES/NO combination of ``tickers`` quoted by ``pricer`` and judged by
    :func:`check_quote_coherence` (raw outputs, clips count as failures), plus YES + NO = 1 of every market.

    Returns ``{"contracts_checked", "violations", "clips", "examples"}``: ``violations`` counts contracts
    with any problem, ``clips`` every clip applied, ``examples`` up to ten ``{"legs", "problem"}``."""
    violations: list[dict[str, object]] = []
    checked = clips = 0
    for k in range(1, max_legs + 1):
        for combo in itertools.combinations(tickers, k):
            for sides in itertools.product(("yes", "no"), repeat=k):
                legs = list(zip(combo, sides, strict=True))
                q = pricer.quote(legs)  # type: ignore[attr-defined]
                checked += 1
                clips += len(getattr(q, "clips", ()) or ())
                problem = check_quote_coherence(q, tol)
                if problem:
                    violations.append({"legs": legs, "problem": problem})
    for t in tickers:
        s = pricer.quote([(t, "yes")]).probability + pricer.quote([(t, "no")]).probability  # type: ignore[attr-defined]
        if abs(s - 1.0) > tol:
            violations.append({"legs": [[t, "yes/no"]], "problem": f"YES + NO = {s}"})
    return {"contracts_checked": checked, "violations": len(violations), "clips": clips,
            "examples": violations[:10]}
