"""Result and diagnostics types shared by the inference engines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class InferenceDiagnostics:
    """How a number was computed.

    ``method``: "exact" | "bp" | "bp-chain". ``iterations``: BP sweeps summed over every run involved;
    ``runs``: BP solves involved; ``max_residual``: the largest final residual max |f(u) − u| among them;
    ``damping``/``attempts``: the strongest damping and most attempts any run needed; ``cutset``: variables
    BP conditioned on exactly; ``fallback``: set when a different method than asked produced the number,
    with the reason; ``engine``/``max_clique``: which exact engine answered and its largest table.
    """

    method: str
    converged: bool
    iterations: int = 0
    max_residual: float = 0.0
    damping: float = 0.0
    attempts: int = 0
    runs: int = 0
    cutset: int = 0
    fallback: str | None = None
    engine: str | None = None  # "junction-tree", "junction-tree+enumeration", "bp", "refused"
    max_clique: float = 0.0  # exact engine: largest clique (or enumerated component), joint states

    @property
    def exact(self) -> bool:
        return self.method == "exact"


EXACT = InferenceDiagnostics(method="exact", converged=True)


class NotConvergedError(RuntimeError):
    """BP did not converge under any damping attempt and no fallback applied.

    ``estimate`` is the non-converged number (do not price from it); ``diagnostics`` says how far it got.
    """

    def __init__(self, message: str, diagnostics: InferenceDiagnostics, estimate: float | None = None):
        super().__init__(message)
        self.diagnostics = diagnostics
        self.estimate = estimate


class Probability(float):
    """A probability — a plain float in arithmetic — carrying ``diagnostics`` and ``log_value`` (its log)."""

    __slots__ = ("diagnostics", "log_value")
    diagnostics: InferenceDiagnostics
    log_value: float

    def __new__(cls, log_value: float, diagnostics: InferenceDiagnostics) -> Probability:
        log_value = min(float(log_value), 0.0)
        obj = super().__new__(cls, float(np.exp(log_value)))
        obj.log_value = log_value
        obj.diagnostics = diagnostics
        return obj

    def __repr__(self) -> str:
        return f"Probability({float(self)!r}, method={self.diagnostics.method!r})"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Probability, (self.log_value, self.diagnostics))


@dataclass(frozen=True, eq=False)
class Moments:
    """E[x] and E[x xᵀ] (diagonal equals E[x]); conditional on legs when those were given.

    ``log_probability`` is log P(legs) under the same method (0.0 when unconditional). Under BP, pairs
    without a coupling get E[x_i x_j] from the cutset mixture of products of beliefs.
    """

    mean: np.ndarray
    second: np.ndarray
    log_probability: float
    diagnostics: InferenceDiagnostics


@dataclass(frozen=True)
class LogPartition:
    """log Z: exact by enumeration (``exact=True``) or the Bethe estimate at the BP fixed point."""

    value: float
    exact: bool
    diagnostics: InferenceDiagnostics
