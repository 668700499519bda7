"""The pairwise maximum-entropy belief state over one cluster, restricted to its feasible states.

The parameters are those of the pairwise Ising model over the cluster's binary variables y ∈ {0,1}ⁿ,
p(y) ∝ exp(h·y + Σ_{i<j} J_ij y_i y_j), and the law lives on the *feasible* assignments of a
:class:`~models.pricing.structure.Structure`: the variables ``y_{q,1} … y_{q,K}`` of one node (an axis of
the structural layer: a ladder, the cut points of a total with its brackets, a margin with moneyline and
spreads) are nested thresholds, so only the K + 1 thermometer states of the node can happen. Impossible
outcomes get probability exactly 0; a structure of two-state nodes only (the default) is the unconstrained
Ising model. The sufficient statistics stay T = (y, y yᵀ), so storage, learning and the gradient keep their
form; couplings inside one node only act as fields and the learner never creates them.

Inference methods:

* ``"exact"`` — the exact engine (:mod:`models.pricing.engine`): a junction tree over the node graph when its
  largest clique has at most ``clique_max_states`` joint states; a component beyond that budget is one
  materialised table up to 2^``table_max_n`` states or enumerated on demand (chunked) up to
  2^``exact_limit_n``; beyond every budget exact inference is refused (:class:`IntractableError`).
* ``"bp"`` — damped loopy BP (:mod:`models.pricing.bp`) conditioned on a small cutset of the most strongly
  coupled variables (``BPConfig.cutset``, default 2: four batched runs); a joint of k legs is the ratio of
  Bethe partition functions Σ_C Z_B(legs, x_C) / Σ_C Z_B(x_C). Unconstrained models only.
* ``"bp-chain"`` — the chain rule P(a)·P(b | a)·…, each conditional a (cutset-mixed) BP marginal with the
  earlier legs clamped. Unconstrained models only.
* ``"auto"`` — exact when the junction tree fits and any enumerated component has at most 2^``exact_max_n``
  states; otherwise BP (unconstrained models), falling back to enumeration when BP does not converge and
  the model is within 2^``exact_limit_n`` states.

When BP does not converge after every damping attempt and no fallback applies, the call raises
:class:`NotConvergedError` (or, with ``strict=False``, returns a result whose diagnostics say
``converged=False``); a structured model beyond every exact budget raises :class:`IntractableError` (a
``NotConvergedError``). No approximate number is ever returned unflagged.

The model is immutable; inference results are cached on the instance, and :meth:`IsingModel.with_parameters`
hands the junction-tree messages (every message that the parameter change did not touch) and the BP messages
on to the next model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.special import expit

from models.pricing import exact
from models.pricing.bp import BPConfig, BPEngine, BranchSet
from models.pricing.engine import Budgets, ExactEngine
from models.pricing.results import (
    EXACT,
    InferenceDiagnostics,
    LogPartition,
    Moments,
    NotConvergedError,
    Probability,
)
from models.pricing.structure import NodeEvent, Structure

__all__ = [
    "InferenceConfig",
    "IntractableError",
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


class IntractableError(NotConvergedError):
    """No exact method fits the model's budgets and no approximate method applies (structured nodes)."""


# ----------------------------------------------------------------------------- config
@dataclass(frozen=True)
class InferenceConfig:
    """Method thresholds (see the module docstring).

    ``clique_max_states``: largest junction-tree clique (joint node states) of exact inference.
    ``table_max_n``: a component beyond it becomes one probability table when it has ≤ 2^table_max_n
    states; ``exact_max_n``: ``"auto"`` enumerates larger components up to 2^exact_max_n states;
    ``exact_limit_n``: largest component enumerated at all (explicit ``"exact"`` or the BP fallback)."""

    exact_max_n: int = 20
    exact_limit_n: int = 24
    table_max_n: int = 20
    clique_max_states: int = 1 << 18
    bp: BPConfig = field(default_factory=BPConfig)

    def __post_init__(self) -> None:
        if not 0 <= self.exact_max_n <= self.exact_limit_n <= exact.EXACT_HARD_LIMIT:
            raise ValueError(
                "need 0 ≤ exact_max_n ≤ exact_limit_n ≤ "
                f"{exact.EXACT_HARD_LIMIT}, got {self.exact_max_n}, {self.exact_limit_n}"
            )
        if self.table_max_n > 24:
            raise ValueError(f"table_max_n={self.table_max_n} would cache more than 2^24 probabilities")
        if self.clique_max_states < 0:
            raise ValueError("clique_max_states must be ≥ 0 (0 turns junction trees off)")

    def budgets(self) -> Budgets:
        return Budgets(clique=float(self.clique_max_states),
                       table=float(1 << min(max(self.table_max_n, 0), self.exact_limit_n)),
                       enumeration=float(1 << self.exact_limit_n))


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


# ----------------------------------------------------------------------------- the model
class _Cache:
    __slots__ = ("bp", "bp_moments", "engine", "exact_moments", "parent_engine", "warm")

    def __init__(self) -> None:
        self.engine: ExactEngine | None = None
        self.parent_engine: ExactEngine | None = None
        self.exact_moments: Moments | None = None
        self.bp: BPEngine | None = None
        self.bp_moments: Moments | None = None
        self.warm: dict[tuple[int, ...], np.ndarray] | None = None


StructureLike = Structure | Sequence[Sequence[int]] | None


@dataclass(frozen=True, eq=False)
class IsingModel:
    """p(y) ∝ exp(h·y + Σ_{i<j} J_ij y_i y_j) over the feasible states of ``structure``.

    ``h`` has shape (n,), ``J`` shape (n, n), symmetric with zero diagonal; both are stored as read-only
    float64 copies. ``structure``: a :class:`~models.pricing.structure.Structure`, or the axes as a sequence
    of variable-index sequences in threshold order (variables of no axis are two-state nodes), or None for
    the unconstrained model. Equality is identity (models are compared through their parameters).
    """

    h: np.ndarray
    J: np.ndarray
    config: InferenceConfig = field(default_factory=InferenceConfig)
    structure: StructureLike = None
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
        st = self.structure
        if st is None:
            st = Structure.free(n)
        elif not isinstance(st, Structure):
            st = Structure.from_axes(n, st)
        if st.n != n:
            raise ValueError(f"the structure covers {st.n} variables, the model has {n}")
        object.__setattr__(self, "h", h)
        object.__setattr__(self, "J", J)
        object.__setattr__(self, "structure", st)
        object.__setattr__(self, "_cache", _Cache())

    # ------------------------------------------------------------------ constructors
    @classmethod
    def independent(cls, probabilities: np.ndarray, config: InferenceConfig | None = None) -> IsingModel:
        """Independent legs with the given marginals (h = logit p, J = 0), unconstrained."""
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
        """A new model with the same config and structure, warm-started from this model's inference.

        ``h`` and ``J`` are validated like the constructor's unless they come from this model's own
        arithmetic (finite, symmetric J with a zero diagonal — what the learner produces)."""
        new = self._derived(h, J)
        c = self._cache
        if c.engine is not None:
            new._cache.parent_engine = c.engine
        elif c.parent_engine is not None:
            new._cache.parent_engine = c.parent_engine
        if c.bp is not None:
            new._cache.warm = c.bp.warm_export()
        elif c.warm is not None:
            new._cache.warm = c.warm
        return new

    def _derived(self, h: np.ndarray, J: np.ndarray) -> IsingModel:
        same_j = J is self.J
        h = np.array(h, dtype=np.float64)
        J = self.J if same_j else np.array(J, dtype=np.float64)
        n = self.n
        if h.shape != (n,) or J.shape != (n, n) or not np.isfinite(h).all():
            return IsingModel(h, J, self.config, self.structure)  # full validation and its errors
        if not same_j and not (np.isfinite(J).all() and np.array_equal(J, J.T) and not np.diagonal(J).any()):
            return IsingModel(h, J, self.config, self.structure)
        h.setflags(write=False)
        J.setflags(write=False)
        new = object.__new__(IsingModel)
        for name, value in (("h", h), ("J", J), ("config", self.config), ("structure", self.structure),
                            ("_cache", _Cache())):
            object.__setattr__(new, name, value)
        return new

    # ------------------------------------------------------------------ basics
    @property
    def n(self) -> int:
        return int(self.h.shape[0])

    @property
    def nodes(self) -> Structure:
        """The structure (typed accessor)."""
        return self.structure  # type: ignore[return-value]

    @property
    def structured(self) -> bool:
        """True when some node has more than two states (nested thresholds)."""
        return not self.nodes.is_free

    def energy(self, x: np.ndarray) -> np.ndarray | float:
        """h·x + Σ_{i<j} J_ij x_i x_j for one outcome (n,) or many (m, n)."""
        x = np.asarray(x, dtype=np.float64)
        e = x @ self.h + 0.5 * np.einsum("...i,...i->...", x @ self.J, x)
        return float(e) if np.ndim(e) == 0 else e

    def feasible(self, x: np.ndarray) -> np.ndarray | bool:
        """Whether outcomes (n,) or (m, n) respect the nesting of every node."""
        x = np.atleast_2d(np.asarray(x))
        ok = np.ones(x.shape[0], dtype=bool)
        for members in self.nodes.nodes:
            if len(members) > 1:
                block = x[:, list(members)]
                ok &= np.all(block[:, 1:] <= block[:, :-1], axis=1)
        return bool(ok[0]) if ok.size == 1 else ok

    def event(self, legs: Mapping[int, bool]) -> NodeEvent:
        """The node-mask event of literal legs (validated)."""
        idx, vals = normalize_legs(legs, self.n)
        return self.nodes.event(zip(idx.tolist(), (vals > 0.5).tolist(), strict=True))

    # ------------------------------------------------------------------ exact engine
    def engine(self) -> ExactEngine:
        """The exact engine of this model (built on first use)."""
        c = self._cache
        if c.engine is None:
            parent = c.parent_engine
            if parent is not None and not parent.structure.same_as(self.nodes):
                parent = None
            c.engine = ExactEngine(self.nodes, self.h, self.J, self.config.budgets(), parent)
            c.parent_engine = None
        return c.engine

    def _exact_diag(self) -> InferenceDiagnostics:
        return _plan_diag(self.engine().plan)

    def _auto_exact(self) -> bool:
        eng = self.engine()
        return eng.exact and eng.plan.oversized_states <= float(1 << self.config.exact_max_n)

    def _resolve(self, method: str) -> str:
        if method not in _METHODS:
            raise ValueError(f"unknown inference method {method!r}; use one of {_METHODS}")
        if method == "auto":
            if self._auto_exact():
                return "exact"
            if self.structured:
                eng = self.engine()
                raise IntractableError(
                    "no exact method fits this structured model (largest clique beyond "
                    f"{self.config.clique_max_states} states, component beyond 2^{self.config.exact_max_n}) and "
                    "loopy BP does not respect nested thresholds: raise InferenceConfig budgets or decouple nodes",
                    InferenceDiagnostics(method="exact", converged=False, engine="refused",
                                         max_clique=eng.plan.max_clique_states))
            return "bp"
        if method == "exact":
            if not self.engine().exact:
                raise ValueError(
                    f"exact inference refused for this model (n={self.n}): a component is beyond the clique budget "
                    f"({self.config.clique_max_states} states) and 2^exact_limit_n={1 << self.config.exact_limit_n} "
                    "feasible states")
            return "exact"
        if self.structured:
            raise ValueError(f"method {method!r} treats variables as free binaries: it cannot price a structured "
                             "model (nested thresholds); use 'exact' or 'auto'")
        return method

    def _can_fall_back(self, asked: str) -> bool:
        return asked == "auto" and self.engine().exact

    def _exact_log_probability(self, event: NodeEvent) -> float:
        if event.empty:
            return -np.inf
        return self.engine().query(event).log_probability()

    def _exact_moments(self) -> Moments:
        c = self._cache
        if c.exact_moments is None:
            q = self.engine().query(None)
            second = q.second_moments()
            mean = np.diag(second).copy()
            mean.setflags(write=False)
            second.setflags(write=False)
            c.exact_moments = Moments(mean, second, 0.0, self._exact_diag())
        return c.exact_moments

    def _exact_conditional(self, event: NodeEvent) -> Moments:
        if event.empty:
            raise ValueError("the legs are impossible (a node has no allowed state): no conditional law")
        q = self.engine().query(event)
        second = q.second_moments()
        return Moments(np.diag(second).copy(), second, q.log_probability(), self._exact_diag())

    # ------------------------------------------------------------------ BP engine
    def _bp_engine(self) -> BPEngine:
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
            cutset=int(self._bp_engine().cutset.size),
            engine="bp",
        )

    def _bp_log_joint(self, idx: np.ndarray, vals: np.ndarray) -> tuple[float, InferenceDiagnostics]:
        eng = self._bp_engine()
        base = eng.base()
        clamped = eng.clamped(idx, vals, tol=self.config.bp.joint_tol)
        log_p = clamped.total_log_z - base.total_log_z
        return min(log_p, 0.0), self._diag("bp", [base, clamped])

    def _bp_chain_log_joint(self, idx: np.ndarray, vals: np.ndarray) -> tuple[float, InferenceDiagnostics]:
        eng = self._bp_engine()
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
    def probability(self, event: NodeEvent, method: Method = "auto", *, strict: bool = True) -> Probability:
        """P(event) for a node-mask event (exactly 0 when some node has no allowed state)."""
        if not event.masks:
            return Probability(0.0, InferenceDiagnostics(method="exact", converged=True))
        if event.empty:
            return Probability(-np.inf, EXACT)
        resolved = self._resolve(method)
        if resolved == "exact":
            return Probability(self._exact_log_probability(event), self._exact_diag())
        legs = self._binary_legs(event)
        if legs is None:  # an unconstrained model: every mask is a clamp or empty/full
            return Probability(-np.inf, EXACT)
        return self.joint_probability(legs, method, strict=strict)

    def _binary_legs(self, event: NodeEvent) -> dict[int, bool] | None:
        out: dict[int, bool] = {}
        for q, m in event.masks.items():
            (i,) = self.nodes.nodes[q]
            if m.all():
                continue
            if not m.any():
                return None
            out[i] = bool(m[1])
        return out

    def joint_probability(
        self, legs: Mapping[int, bool], method: Method = "auto", *, strict: bool = True
    ) -> Probability:
        """P(y_i = legs[i] for every leg). Empty legs → 1.0; legs that break a node's nesting → exactly 0.

        Returns a :class:`Probability` (a float) whose ``diagnostics`` say how it was computed. Raises
        :class:`NotConvergedError` when BP failed and no fallback applied, unless ``strict=False``.
        """
        idx, vals = normalize_legs(legs, self.n)
        if idx.size == 0:
            return Probability(0.0, InferenceDiagnostics(method=self._resolve(method), converged=True))
        event = self.nodes.event(zip(idx.tolist(), (vals > 0.5).tolist(), strict=True))
        if event.empty:
            return Probability(-np.inf, EXACT)
        resolved = self._resolve(method)
        if resolved == "exact":
            return Probability(self._exact_log_probability(event), self._exact_diag())
        if resolved == "bp":
            log_p, diag = self._bp_log_joint(idx, vals)
        else:
            log_p, diag = self._bp_chain_log_joint(idx, vals)
        if diag.converged:
            return Probability(log_p, diag)
        if self._can_fall_back(method):
            return Probability(self._exact_log_probability(event), _fallback_diag(diag))
        return _not_converged(Probability(log_p, diag), strict, "joint probability")

    def moments(self, method: Method = "auto", *, strict: bool = True) -> Moments:
        """Unconditional E[y] and E[y yᵀ] with diagnostics."""
        resolved = self._resolve(method)
        if resolved == "exact":
            return self._exact_moments()
        c = self._cache
        if c.bp_moments is None:
            eng = self._bp_engine()
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
            return Moments(s.mean, s.second, 0.0, _fallback_diag(m.diagnostics))
        return _not_converged(m, strict, "moments")

    def marginals(self, method: Method = "auto", *, strict: bool = True) -> np.ndarray:
        """P(y_i = 1) for every variable."""
        if self._resolve(method) == "exact":
            return self.engine().query(None).variable_marginals()
        return np.array(self.moments(method, strict=strict).mean)

    def variable_marginals(self, variables: Sequence[int] | np.ndarray) -> np.ndarray:
        """Exact P(y_i = 1) of the given variables only (their nodes' marginals, nothing else)."""
        self._resolve("exact")
        q = self.engine().query(None)
        st = self.nodes
        out = np.empty(len(variables))
        for t, i in enumerate(np.asarray(variables, dtype=np.intp).tolist()):
            p = q.node(int(st.node_of[i]))
            out[t] = float(p[int(st.position[i]):].sum())
        return out

    def node_marginals(self, event: NodeEvent | None = None) -> list[np.ndarray]:
        """Exact P(s_q | event) for every node (unconditional when ``event`` is None)."""
        self._resolve("exact")
        q = self.engine().query(event)
        return [q.node(k) for k in range(self.nodes.n_nodes)]

    def pairwise_moments(self, method: Method = "auto", *, strict: bool = True) -> np.ndarray:
        """The matrix E[y_i y_j] (diagonal = marginals)."""
        return np.array(self.moments(method, strict=strict).second)

    def conditional_moments(
        self, legs: Mapping[int, bool], method: Method = "auto", *, strict: bool = True
    ) -> Moments:
        """E[y | legs] and E[y yᵀ | legs], plus log P(legs) under the same method."""
        idx, vals = normalize_legs(legs, self.n)
        resolved = self._resolve(method)
        if resolved == "exact":
            if idx.size == 0:
                return self._exact_moments()
            return self._exact_conditional(self.event(legs))
        if idx.size == 0:
            return self.moments(method, strict=strict)
        eng = self._bp_engine()
        base = eng.base()
        clamped = eng.clamped(idx, vals)
        diag = self._diag("bp", [base, clamped])
        log_p = min(clamped.total_log_z - base.total_log_z, 0.0)
        mean, second = eng.moments(clamped)
        result = Moments(mean, second, log_p, diag)
        if diag.converged:
            return result
        if self._can_fall_back(method):
            m = self._exact_conditional(self.event(legs))
            return Moments(m.mean, m.second, m.log_probability, _fallback_diag(diag))
        return _not_converged(result, strict, "conditional moments")

    def log_partition(self, method: Method = "auto", *, strict: bool = True) -> LogPartition:
        """log Z over the feasible states: exact by the exact engine, the Bethe estimate under BP."""
        resolved = self._resolve(method)
        if resolved == "exact":
            return LogPartition(self.engine().log_z(), True, self._exact_diag())
        base = self._bp_engine().base()
        diag = self._diag("bp", [base])
        log_z = base.total_log_z
        if diag.converged:
            return LogPartition(log_z, False, diag)
        if self._can_fall_back(method):
            return LogPartition(self.engine().log_z(), True, _fallback_diag(diag))
        return _not_converged(LogPartition(log_z, False, diag), strict, "log partition")

    def sample(
        self, n: int, rng: np.random.Generator, *, method: Literal["auto", "exact", "gibbs"] = "auto",
        burn_in: int = 500,
    ) -> np.ndarray:
        """``n`` outcomes as an (n, n_vars) int8 array of 0/1, always feasible.

        Exact i.i.d. draws from the exact engine (forward sampling through the junction tree, enumeration
        for enumerated components) whenever it applies (``"auto"``); otherwise (unconstrained models only)
        Gibbs sampling: ``n`` independent chains started from the BP beliefs, each run for ``burn_in`` full
        sweeps — approximate (MCMC).
        """
        if n < 0:
            raise ValueError(f"sample count must be ≥ 0, got {n}")
        if method not in ("auto", "exact", "gibbs"):
            raise ValueError(f"unknown sampling method {method!r}")
        use_exact = method == "exact" or (method == "auto" and self.engine().exact)
        if use_exact:
            if not self.engine().exact:
                raise ValueError(f"exact sampling refused for n={self.n}: the model is beyond every exact budget")
            states = self.engine().sample_states(n, rng)
            return self.nodes.y_of_states(states)
        if self.structured:
            raise ValueError("Gibbs sampling over free binaries cannot respect nested thresholds")
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


_PLAN_DIAG: dict[int, tuple[object, InferenceDiagnostics]] = {}


def _plan_diag(p: object) -> InferenceDiagnostics:
    hit = _PLAN_DIAG.get(id(p))
    if hit is not None and hit[0] is p:
        return hit[1]
    kind = "junction-tree" if not p.enumerated else "junction-tree+enumeration"  # type: ignore[attr-defined]
    diag = InferenceDiagnostics(method="exact", converged=True, engine=kind,
                                max_clique=max(p.max_clique_states, p.oversized_states))  # type: ignore[attr-defined]
    if len(_PLAN_DIAG) > 512:
        _PLAN_DIAG.clear()
    _PLAN_DIAG[id(p)] = (p, diag)
    return diag


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
        engine="junction-tree",
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
