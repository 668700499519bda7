"""Online learning of the Ising belief state: composite-likelihood cross-entropy SGD, plus LMSR bookkeeping.

Gradient (derived here; tests check it against finite differences). For a contract m with event A_m
(its legs on their sides), model price p = P_θ(A_m) and target q:

    CE(q, p) = −q log p − (1 − q) log(1 − p),      dCE/dp = (p − q) / (p (1 − p)).

With T(x) the sufficient statistics (x_i and x_i x_j) and p = Σ_{x∈A} e^{θ·T(x)} / Z(θ),

    ∂ log p / ∂θ = E_θ[T | A] − E_θ[T]      ⇒      ∂p/∂θ = p · (E_θ[T | A] − E_θ[T]),

so    ∇_θ CE = (p − q) / (p (1 − p)) · p · (E[T | A] − E[T]) = (p − q) / (1 − p) · (E[T | A] − E[T]),

which is MISSION §2's formula exactly (the p of ∂p/∂θ cancels the p of dCE/dp). Since
E[T] = p E[T | A] + (1 − p) E[T | ¬A], the same gradient reads (p − q) · (E[T | A] − E[T | ¬A]); as
T ∈ [0, 1], every coordinate is bounded by |p − q|. The computation uses the first form and clips each
coordinate to ±|p − q| — a no-op for exact inference, a guard against approximation error amplified by
1/(1 − p) when p is near 1.

Which parameters move. Base markets (one leg) update fields only. Parlays update fields and couplings:
by default only the couplings among the parlay's own legs (``parlay_couplings="legs"``): the exact
gradient coordinates for those pairs, zero elsewhere (a block-coordinate step). Reasons: couplings then
exist only between legs that traded together, so the learned law is the maximum-entropy one given the
moments the flow actually informs; the graph stays as sparse as the flow, which keeps BP fast and
accurate; and under BP, E[x_i x_j] of uncoupled pairs is only a product-of-beliefs approximation, so the
"all pairs" gradient would be built on it. ``parlay_couplings="all"`` takes every pair's gradient (exact
under exact inference). Fields follow the full gradient by default (``fields="all"``; correlated legs move
together), or only the traded legs' fields (``fields="legs"``).

Structured models (nested thresholds, :mod:`models.pricing.structure`). The expectations are under the
law restricted to feasible states, computed by the exact engine (the same inference as quotes). Couplings
between two variables of one node are fixed by the node's state: their gradient is not taken and they stay 0.
``fields="nodes"`` steps the fields of the nodes the legs touch (all their thresholds move together);
``base_fields`` sets the field scope of single-node observations (a base market, a bracket) apart from that
of parlays — a block-coordinate step whose gradient needs only that node's marginal law, so a base update
re-computes only the few junction-tree messages between the changed node and the next queried one.

Field steps on structured nodes (``precondition_fields``). The thresholds of one node are strongly correlated
(nested), so a plain gradient step on its K fields moves the node's law up to about K times as far as the
same step moves one free binary, and step sizes tuned for free binaries overshoot. The field step of every
multi-threshold node is multiplied by P = V·diag(min(1, 1/λ))·Vᵀ from the eigen-decomposition of the
correlation matrix of its thresholds (:func:`node_preconditioner`): the collective direction is scaled back
to a free binary's rate, no direction is sped up, free binaries are unchanged (P = 1), and as P is positive
definite the step is still a descent direction with the same fixed points.

Coupling growth under a budget (``max_clique_states``): a parlay couples the nodes of its legs, and a new
node pair is admitted only when the min-fill triangulation of the coupling graph with it keeps every clique
within the budget, so fitted models stay exact by junction tree. The ``hub_nodes`` nodes with the most
states (in a game: the margin and the total, which drive every other quantity) are reserved from the start:
their pairs with every node count as present, so early pairs between minor nodes never block the couplings
to the game's hubs. Refused pairs are counted (:attr:`OnlineLearner.refused_pairs`), never silent.

Optional regularization: L2 weight decay on couplings (``l2_J``) and a box |J_ij| ≤ ``max_abs_J``.

Execution settings. Full AMM (``setting="amm"``): every contract, base or parlay, has an LMSR book; the
signal of a trade is its post-trade target price q, and the real trade moves that book to q. Standalone
market maker (``"standalone"``): base markets stay on Kalshi (no books; their candle mids are observed as
targets without a trade) and only parlays have books; the signal is order flow — a buy of s shares of
YES (NO) at our book at price p implies the target q = σ(logit p + s/b) (σ(logit p − s/b)), the price the
LMSR moves to under that flow (:func:`flow_target`).

After every observation and model update, every book is moved to its new model price by shadow trades
(the traded book included, since its real trade left it at q rather than at the updated model price);
their costs are recorded apart from the real trades.

Lazy books (``lazy_books=True``). A binary LMSR book is a cost-function market maker whose state is the share
vector, and C(q_y + a, q_n + a) = C(q_y, q_n) + a: a YES share plus a NO share cost exactly 1 and pay exactly 1
at resolution. Moving a book p0 → p1 → p2 and moving it p0 → p2 differ only by such pairs, so the book's P&L
in every outcome, its worst case and every later real trade (which depends on q_y − q_n only) are the same.
A lazy learner therefore moves a book to the model price only when it next trades for real and at
:meth:`OnlineLearner.sync_books` (checkpoints, the end of a replay): O(trades) book work instead of
O(trades × books). Only the gross shadow cost differs (it counts the pairs); net P&L does not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Literal

import numpy as np

from models.pricing.coherence import quote
from models.pricing.engine import pairs_of_legs
from models.pricing.ising import IsingModel, Method, logit, normalize_legs
from models.pricing.junction import Edge, triangulation_size
from models.pricing.lmsr import LMSRBook, LMSRTrade, Side
from models.pricing.results import InferenceDiagnostics, NotConvergedError
from models.pricing.structure import Structure

# ----------------------------------------------------------------------------- contracts


@dataclass(frozen=True)
class Contract:
    """Pays 1 when every leg resolves on its side. Identity is the legs; ``name`` (a ticker) is a label."""

    legs: tuple[tuple[int, bool], ...]
    name: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.legs:
            raise ValueError("a contract needs at least one leg")
        idx = [i for i, _ in self.legs]
        if len(set(idx)) != len(idx):
            raise ValueError(f"a contract lists each leg once, got {self.legs}")
        object.__setattr__(self, "legs", tuple(sorted((int(i), bool(s)) for i, s in self.legs)))

    @classmethod
    def of(cls, legs: Mapping[int, bool] | Contract, name: str | None = None) -> Contract:
        if isinstance(legs, Contract):
            return legs
        return cls(tuple(legs.items()), name)

    def as_mapping(self) -> dict[int, bool]:
        return dict(self.legs)

    @property
    def is_parlay(self) -> bool:
        return len(self.legs) >= 2


# ----------------------------------------------------------------------------- loss and gradient
def cross_entropy(target: float, price: float) -> float:
    """CE(q, p) = −q log p − (1 − q) log(1 − p) (terms with a zero weight are dropped)."""
    q, p = float(target), float(price)
    out = 0.0
    if q > 0.0:
        out -= q * float(np.log(p)) if p > 0.0 else -np.inf
    if q < 1.0:
        out -= (1.0 - q) * float(np.log1p(-p)) if p < 1.0 else -np.inf
    return out


@dataclass(frozen=True, eq=False)
class Gradient:
    """∇_θ CE for one contract. ``d_J`` is symmetric with a zero diagonal; entry (i, j) = (j, i) is the
    derivative with respect to the single parameter J_ij."""

    price: float
    target: float
    loss: float
    scale: float  # (p − q) / (1 − p)
    d_h: np.ndarray
    d_J: np.ndarray
    clipped: bool  # some coordinate hit the exact bound |p − q|
    diagnostics: InferenceDiagnostics
    refused: tuple[Edge, ...] = ()  # node pairs whose couplings the budget kept out of this step


CouplingScope = Literal["none", "legs", "all"]
FieldScope = Literal["all", "legs", "nodes"]


def _tails(p: np.ndarray) -> np.ndarray:
    """P(s ≥ k) for k = 1 … K from a node's state distribution."""
    return np.cumsum(p[::-1])[::-1][1:]


def _exact_gradient(model: IsingModel, idx: np.ndarray, vals: np.ndarray, q: float, couplings: CouplingScope,
                    fields: FieldScope, refused: frozenset[Edge]) -> Gradient:
    st = model.nodes
    n = model.n
    event = st.event(zip(idx.tolist(), (vals > 0.5).tolist(), strict=True))
    if event.empty:
        raise ValueError(f"the legs {dict(zip(idx.tolist(), vals.tolist(), strict=True))} are impossible: "
                         "they break the nesting of a node")
    eng = model.engine()
    on, off = eng.query(event), eng.query(None)
    p = float(np.exp(on.log_probability()))
    scale = (p - q) / max(1.0 - p, 1e-300)
    d_h = np.zeros(n)
    touched = range(st.n_nodes) if fields == "all" else event.nodes
    for k in touched:
        members = list(st.nodes[k])
        d_h[members] = scale * (_tails(on.node(k)) - _tails(off.node(k)))
    if fields == "legs":
        keep = np.zeros(n, dtype=bool)
        keep[idx] = True
        d_h = np.where(keep, d_h, 0.0)
    d_J = _zeros(n) if couplings == "none" else np.zeros((n, n))
    if couplings == "all":
        d_J = scale * (on.second_moments() - off.second_moments())
        same = st.node_of[:, None] == st.node_of[None, :]
        d_J[same] = 0.0
    elif couplings == "legs":
        pairs = pairs_of_legs(st, idx.tolist())
        if refused and pairs.size:
            node_pair = [tuple(sorted((int(st.node_of[a]), int(st.node_of[b])))) for a, b in pairs]
            pairs = pairs[[e not in refused for e in node_pair]]
        if pairs.size:
            g = scale * (on.pair_moments(pairs) - off.pair_moments(pairs))
            d_J[pairs[:, 0], pairs[:, 1]] = g
            d_J[pairs[:, 1], pairs[:, 0]] = g
    elif couplings != "none":
        raise ValueError(f"couplings must be 'none', 'legs' or 'all', got {couplings!r}")
    return _finish(p, q, scale, d_h, d_J, model._exact_diag(), tuple(sorted(refused)))


_ZEROS: dict[int, np.ndarray] = {}


def _zeros(n: int) -> np.ndarray:
    """A shared read-only (n, n) zero matrix (the coupling gradient of a fields-only step)."""
    z = _ZEROS.get(n)
    if z is None:
        z = np.zeros((n, n))
        z.setflags(write=False)
        _ZEROS[n] = z
    return z


def _finish(p: float, q: float, scale: float, d_h: np.ndarray, d_J: np.ndarray, diag: InferenceDiagnostics,
            refused: tuple[Edge, ...] = ()) -> Gradient:
    bound = abs(p - q)
    tol = 1e-12 * max(1.0, bound)
    zero_j = d_J.base is None and not d_J.flags.writeable
    if not zero_j:
        np.fill_diagonal(d_J, 0.0)
    clipped = bool(np.any(np.abs(d_h) > bound + tol) or (not zero_j and np.any(np.abs(d_J) > bound + tol)))
    d_h = np.clip(d_h, -bound, bound)
    if not zero_j:
        d_J = np.clip(d_J, -bound, bound)
    return Gradient(price=p, target=q, loss=cross_entropy(q, p), scale=scale, d_h=d_h, d_J=d_J,
                    clipped=clipped, diagnostics=diag, refused=refused)


def ce_gradient(
    model: IsingModel,
    legs: Mapping[int, bool],
    target: float,
    *,
    couplings: CouplingScope = "legs",
    fields: FieldScope = "all",
    method: Method = "auto",
    strict: bool = True,
    refused: frozenset[Edge] = frozenset(),
) -> Gradient:
    """Gradient of CE(target, P_θ(legs)) with respect to (h, J): (p − q)/(1 − p) · (E[T | A] − E[T]).

    Under exact inference the expectations come from the exact engine, restricted to what the scopes
    need; couplings inside one node are never part of the gradient; ``refused`` node pairs (q < r) get no
    coupling gradient (the budget of :class:`CouplingBudget`)."""
    q = float(target)
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"target must lie in [0, 1], got {target}")
    idx, vals = normalize_legs(legs, model.n)
    if idx.size == 0:
        raise ValueError("the gradient needs at least one leg")
    if fields not in ("all", "legs", "nodes"):
        raise ValueError(f"fields must be 'all', 'legs' or 'nodes', got {fields!r}")
    if couplings not in ("none", "legs", "all"):
        raise ValueError(f"couplings must be 'none', 'legs' or 'all', got {couplings!r}")
    if model._resolve(method) == "exact":
        return _exact_gradient(model, idx, vals, q, couplings, fields, refused)
    cond = model.conditional_moments(legs, method, strict=strict)
    base = model.moments(method, strict=strict)
    p = float(np.exp(cond.log_probability))
    scale = (p - q) / max(1.0 - p, 1e-300)
    d_h = scale * (cond.mean - base.mean)
    d_J = scale * (cond.second - base.second)
    np.fill_diagonal(d_J, 0.0)
    if fields in ("legs", "nodes"):  # unconstrained model: a node is its variable
        keep = np.zeros(model.n, dtype=bool)
        keep[idx] = True
        d_h = np.where(keep, d_h, 0.0)
    if couplings == "none":
        d_J = np.zeros_like(d_J)
    elif couplings == "legs":
        mask = np.zeros((model.n, model.n), dtype=bool)
        mask[np.ix_(idx, idx)] = True
        for a, b in refused:
            mask[a, b] = mask[b, a] = False
        d_J = np.where(mask, d_J, 0.0)
    return _finish(p, q, scale, d_h, d_J, cond.diagnostics, tuple(sorted(refused)))


class CouplingBudget:
    """Admits new node-pair couplings only while the coupling graph stays junction-tree exact (see the module
    docstring): ``max_clique_states`` bounds the largest clique of its min-fill triangulation."""

    def __init__(self, structure: Structure, max_clique_states: float, hub_nodes: int = 2) -> None:
        self.structure = structure
        self.max_clique_states = float(max_clique_states)
        sizes = structure.sizes
        self.sizes = tuple(int(s) for s in sizes)
        candidates = [q for q in np.argsort(-sizes, kind="stable").tolist() if sizes[q] >= 3][:max(0, hub_nodes)]
        reserved = {tuple(sorted((h, r))) for h in candidates for r in range(structure.n_nodes) if r != h}
        self.notes: list[str] = []
        if reserved and triangulation_size(self.sizes, sorted(reserved), self.max_clique_states) is None:
            self.notes.append(f"hub reservation dropped: the hubs alone exceed {self.max_clique_states:.0f} states")
            reserved = set()
        self.hubs = tuple(candidates) if reserved else ()
        self.admitted: set[Edge] = set(reserved)  # type: ignore[arg-type]
        self.refused: set[Edge] = set()
        self.refusals = 0  # refused (event, pair) occurrences

    def check(self, model: IsingModel, legs: Sequence[int]) -> frozenset[Edge]:
        """The node pairs among ``legs`` (variable indices) that may not be coupled (refused)."""
        st = self.structure
        nodes = sorted({int(st.node_of[i]) for i in legs})
        wanted = [(a, b) for t, a in enumerate(nodes) for b in nodes[t + 1:]]
        if not wanted:
            return frozenset()
        current = model.engine().edges
        out = set()
        for e in wanted:
            if e in self.admitted or e in current:
                continue
            if e not in self.refused:
                candidate = self.admitted | set(current) | {e}
                if triangulation_size(self.sizes, sorted(candidate), self.max_clique_states) is not None:
                    self.admitted.add(e)
                    continue
                self.refused.add(e)
            out.add(e)
        self.refusals += len(out)
        return frozenset(out)


# ----------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class LearnerConfig:
    """Step sizes, scopes and execution setting of the online learner (see the module docstring)."""

    eta_h: float = 0.1
    eta_J: float = 0.1
    parlay_couplings: Literal["legs", "all"] = "legs"
    fields: FieldScope = "all"
    base_fields: FieldScope | None = None  # field scope of single-node observations (None: ``fields``)
    max_clique_states: float | None = None  # coupling budget (None: every pair of legs is coupled)
    hub_nodes: int = 2
    precondition_fields: bool = True  # structured nodes: correlation-preconditioned field steps
    lazy_books: bool = False
    l2_J: float = 0.0
    max_abs_J: float | None = 10.0
    target_eps: float = 1e-6  # targets are clipped into [eps, 1 − eps] (LMSR prices must stay inside (0, 1))
    method: Method = "auto"
    lmsr_b: float = 100.0
    setting: Literal["amm", "standalone"] = "amm"
    on_not_converged: Literal["raise", "skip"] = "raise"

    def __post_init__(self) -> None:
        if self.eta_h < 0 or self.eta_J < 0:
            raise ValueError("step sizes must be ≥ 0")
        if self.l2_J < 0:
            raise ValueError("l2_J must be ≥ 0")
        if self.max_abs_J is not None and self.max_abs_J <= 0:
            raise ValueError("max_abs_J must be > 0 or None")
        if not 0.0 < self.target_eps < 0.5:
            raise ValueError("target_eps must lie in (0, 0.5)")
        if self.lmsr_b <= 0:
            raise ValueError("lmsr_b must be > 0")
        if self.setting not in ("amm", "standalone"):
            raise ValueError(f"setting must be 'amm' or 'standalone', got {self.setting!r}")
        if self.max_clique_states is not None and self.max_clique_states < 2:
            raise ValueError("max_clique_states must be ≥ 2 or None")


def sgd_step(
    model: IsingModel, legs: Mapping[int, bool], target: float, config: LearnerConfig, *,
    refused: frozenset[Edge] = frozenset(),
) -> tuple[IsingModel, Gradient]:
    """One SGD step θ ← θ − η ∇CE: fields with η_h; couplings with η_J for legs on two or more nodes."""
    idx, _ = normalize_legs(legs, model.n)
    node_count = len({int(model.nodes.node_of[i]) for i in idx.tolist()})
    scope: CouplingScope = config.parlay_couplings if node_count >= 2 else "none"
    fields = config.base_fields if node_count == 1 and config.base_fields is not None else config.fields
    grad = ce_gradient(model, legs, target, couplings=scope, fields=fields, method=config.method, refused=refused)
    step = grad.d_h
    if config.precondition_fields and model.structured and grad.diagnostics.exact:
        step = precondition_fields(model, step)
    h = model.h - config.eta_h * step
    J = model.J
    if scope != "none":
        J = np.array(model.J)
        J -= config.eta_J * (grad.d_J + config.l2_J * J)
        if config.max_abs_J is not None:
            np.clip(J, -config.max_abs_J, config.max_abs_J, out=J)
        np.fill_diagonal(J, 0.0)
    return model.with_parameters(h, J), grad


def node_preconditioner(node_marginal: np.ndarray) -> np.ndarray:
    """P = V·diag(min(1, 1/λ))·Vᵀ for the correlation matrix C = V·diag(λ)·Vᵀ of a node's nested thresholds
    y_k = [s ≥ k] under its marginal law: the step along the collective shift of the thresholds (λ up to
    about K) is cut back to what one free binary's step would do, and no direction is ever amplified.
    A one-threshold node gets P = 1."""
    p = np.asarray(node_marginal, dtype=np.float64)
    tails = np.cumsum(p[::-1])[::-1][1:]  # P(s ≥ k), k = 1 … K
    K = tails.size
    if K < 2:
        return np.ones((K, K))
    k = np.arange(K)
    cov = tails[np.maximum.outer(k, k)] - np.outer(tails, tails)
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    ok = sd > 1e-9
    C = np.eye(K)
    C[np.ix_(ok, ok)] = cov[np.ix_(ok, ok)] / np.outer(sd[ok], sd[ok])
    lam, V = np.linalg.eigh(0.5 * (C + C.T))
    return (V * np.minimum(1.0, 1.0 / np.maximum(lam, 1e-12))) @ V.T


def precondition_fields(model: IsingModel, d_h: np.ndarray) -> np.ndarray:
    """The field step with every multi-threshold node's block multiplied by :func:`node_preconditioner`."""
    out = np.array(d_h, dtype=np.float64)
    st = model.nodes
    base = model.engine().query(None)
    for q in np.unique(st.node_of[np.flatnonzero(out)]).tolist():
        members = list(st.nodes[q])
        if len(members) >= 2:
            out[members] = node_preconditioner(base.node(q)) @ out[members]
    return out


# ----------------------------------------------------------------------------- initialization & targets
def initial_fields(mid_prices: Sequence[Sequence[float]], first: int = 30, eps: float = 1e-3) -> np.ndarray:
    """Per leg: the median log-odds of its first ``first`` mid-prices (each clipped into [eps, 1 − eps])."""
    out = np.empty(len(mid_prices))
    for i, series in enumerate(mid_prices):
        p = np.asarray(series, dtype=np.float64)[:first]
        p = p[np.isfinite(p)]
        if p.size == 0:
            raise ValueError(f"leg {i} has no finite mid-price to initialize from")
        out[i] = float(np.median(logit(np.clip(p, eps, 1.0 - eps))))
    return out


def initial_node_fields(structure: Structure, observations: Sequence[tuple[int, np.ndarray, float]],
                        eps: float = 1e-3, sweeps: int = 500, tol: float = 1e-10) -> np.ndarray:
    """Fields of independent nodes (J = 0) whose laws match observed market mids.

    ``observations``: (node, mask of the market's YES states, mid). Each node's law is the maximum-entropy
    law on its states with those probabilities (iterative proportional fitting from the uniform law; mids
    clipped into [eps, 1 − eps]; inconsistent mids end at a compromise), floored at ``eps`` per state; then
    h_k = log π_k − log π_{k−1}. A node without observations gets the uniform law; a two-state node observed
    at mid m gets logit(m), the free-variable rule."""
    by_node: dict[int, list[tuple[np.ndarray, float]]] = {}
    for q, mask, m in observations:
        if np.isfinite(m):
            by_node.setdefault(int(q), []).append((np.asarray(mask, dtype=bool), float(np.clip(m, eps, 1.0 - eps))))
    h = np.zeros(structure.n)
    for q, members in enumerate(structure.nodes):
        size = len(members) + 1
        pi = np.full(size, 1.0 / size)
        obs = [(mk, m) for mk, m in by_node.get(q, []) if mk.any() and not mk.all()]
        for _ in range(sweeps if obs else 0):
            before = pi.copy()
            for mk, m in obs:
                a = float(pi[mk].sum())
                pi[mk] *= m / a
                pi[~mk] *= (1.0 - m) / (1.0 - a)
            if float(np.max(np.abs(pi - before))) < tol:
                break
        pi = np.maximum(pi, eps)
        pi /= pi.sum()
        h[list(members)] = np.log(pi[1:]) - np.log(pi[:-1])
    return h


def initial_model(
    mid_prices: Sequence[Sequence[float]], first: int = 30, eps: float = 1e-3, **model_kwargs: object
) -> IsingModel:
    """Fields from :func:`initial_fields`, couplings zero."""
    h = initial_fields(mid_prices, first, eps)
    return IsingModel(h, np.zeros((h.size, h.size)), **model_kwargs)  # type: ignore[arg-type]


def flow_target(price: float, side: Side, shares: float, b: float) -> float:
    """Target implied by order flow at an LMSR book at ``price``: σ(logit p ± shares/b)."""
    if shares < 0:
        raise ValueError(f"shares must be ≥ 0, got {shares}")
    if side not in ("yes", "no"):
        raise ValueError(f"side must be 'yes' or 'no', got {side!r}")
    z = float(logit(price)) + (shares if side == "yes" else -shares) / b
    return float(1.0 / (1.0 + np.exp(-z)))


def all_yes_target(
    observed_price: float,
    yes_legs: Iterable[int],
    no_legs: Iterable[int],
    price_of: Callable[[frozenset[int]], float],
) -> float:
    """Fee-bias correction: the all-YES target implied by an observed mixed YES/NO price.

    P(Y ∧ ¬N) = Σ_{T ⊆ N} (−1)^{|T|} P(Y ∪ T all YES) (inclusion–exclusion), solved for the T = N term:
    P(Y ∪ N) = (−1)^{|N|} · (observed − Σ_{T ⊊ N} (−1)^{|T|} P(Y ∪ T)). ``price_of`` gives all-YES prices of
    the smaller sets (P(∅) = 1 is supplied here). E.g. P(A ∧ B) = P(A) − price(A ∧ ¬B).

    Fees: if the observed price and every ``price_of`` quote carry the same additive markup f (YES legs
    present), the result is P(Y ∪ N) + f·(1 + (−1)^{|N|}) — the markup cancels exactly for an odd number
    of NO legs (the one-NO-leg case above included) and leaves +2f for an even number, so callers should
    subtract that residue when they know f. The raw value is returned (it can leave [0, 1] under noise).
    """
    yes = frozenset(int(i) for i in yes_legs)
    no = tuple(sorted(int(i) for i in no_legs))
    if yes & set(no):
        raise ValueError("a leg cannot be on both sides")
    if not no:
        return float(observed_price)
    acc = float(observed_price)
    for r in range(len(no)):
        for subset in combinations(no, r):
            legs = yes | frozenset(subset)
            acc -= (-1) ** r * (1.0 if not legs else float(price_of(legs)))
    return (-1) ** len(no) * acc


# ----------------------------------------------------------------------------- the learner
@dataclass(frozen=True, eq=False)
class UpdateResult:
    """What one observation did. ``prices`` holds the new model price of every booked contract and of the
    observed one; ``shadow_cost`` sums the costs of the shadow trades (positive = the books collected)."""

    contract: Contract
    target: float
    price_before: float
    price_after: float
    prices: dict[Contract, float]
    real_trade: LMSRTrade | None
    shadow_trades: dict[Contract, LMSRTrade]
    shadow_cost: float
    gradient: Gradient | None
    skipped: str | None = None  # why the model was not updated (non-converged inference, "skip" policy)


@dataclass(frozen=True)
class Settlement:
    """Book accounting at resolution. ``real_pnl`` is the market maker's profit against counterparties;
    ``book_loss`` sums payout − collections over every book (real and shadow shares), bounded by
    ``worst_case_bound`` = Σ b·ln(1/min(p_open, 1 − p_open))."""

    real_collected: float
    real_payout: float
    shadow_collected: float
    shadow_payout: float
    book_loss: float
    worst_case_bound: float

    @property
    def real_pnl(self) -> float:
        return self.real_collected - self.real_payout


class OnlineLearner:
    """Holds the current model and one LMSR book per contract; :meth:`observe` learns from one signal."""

    def __init__(
        self,
        model: IsingModel,
        config: LearnerConfig | None = None,
        contracts: Iterable[Contract | Mapping[int, bool]] = (),
    ) -> None:
        self.config = config or LearnerConfig()
        self._model = model
        self.books: dict[Contract, LMSRBook] = {}
        self.updates = 0
        self.skipped = 0
        self.budget = (CouplingBudget(model.nodes, self.config.max_clique_states, self.config.hub_nodes)
                       if self.config.max_clique_states is not None else None)
        for c in contracts:
            self.register(c)

    @property
    def refused_pairs(self) -> frozenset[Edge]:
        """Node pairs whose coupling the budget refused (empty without a budget)."""
        return frozenset(self.budget.refused) if self.budget is not None else frozenset()

    @property
    def model(self) -> IsingModel:
        return self._model

    def _books_allowed(self, contract: Contract) -> bool:
        return self.config.setting == "amm" or contract.is_parlay

    def register(self, contract: Contract | Mapping[int, bool]) -> Contract:
        """Open a book for ``contract`` at the current model price (standalone: parlays only)."""
        c = Contract.of(contract)
        if not self._books_allowed(c):
            raise ValueError("standalone market maker: base markets stay on Kalshi and get no book")
        if c not in self.books:
            self.books[c] = LMSRBook(self.config.lmsr_b, self._clip(self.price(c)))
        return c

    def _clip(self, p: float) -> float:
        eps = self.config.target_eps
        return float(min(max(p, eps), 1.0 - eps))

    def price(self, contract: Contract | Mapping[int, bool], model: IsingModel | None = None) -> float:
        """Coherent price (YES) of ``contract`` under ``model`` (default: the current model)."""
        c = Contract.of(contract)
        m = model or self._model
        if m.structured and m._resolve(self.config.method) == "exact":  # exact: coherent without clipping
            return float(m.joint_probability(c.as_mapping(), "exact"))
        return quote(m, c.as_mapping(), self.config.method).yes

    def prices(self) -> dict[Contract, float]:
        return {c: self.price(c) for c in self.books}

    def observe(
        self, contract: Contract | Mapping[int, bool], target: float, *, trade: bool = True
    ) -> UpdateResult:
        """Learn from one signal on ``contract`` with target price ``target``.

        With ``trade`` (and a book for the contract — opened on first sight unless the standalone setting
        forbids it), the real trade moves the contract's book to the target. Then one SGD step, then
        shadow trades move every book to its new model price.

        Every model computation happens before any book changes. If inference does not converge, the
        ``"raise"`` policy re-raises :class:`NotConvergedError`; ``"skip"`` drops the observation entirely
        (no trade, no update — the market maker cannot quote in that state) and returns ``skipped``.
        """
        c = Contract.of(contract)
        q = self._clip(float(target))
        lazy = self.config.lazy_books
        try:
            price_before = self.price(c)
            legs = c.as_mapping()
            refused = self.budget.check(self._model, list(legs)) if self.budget is not None else frozenset()
            new_model, grad = sgd_step(self._model, legs, q, self.config, refused=refused)
            booked = [] if lazy else list(self.books)
            if trade and self._books_allowed(c) and c not in self.books and not lazy:
                booked.append(c)
            new_prices = {bc: self._clip(self.price(bc, new_model)) for bc in booked}
            price_after = new_prices[c] if c in new_prices else self.price(c, new_model)
        except NotConvergedError as err:
            if self.config.on_not_converged == "raise":
                raise
            self.skipped += 1
            return UpdateResult(contract=c, target=q, price_before=float("nan"), price_after=float("nan"),
                                prices={}, real_trade=None, shadow_trades={}, shadow_cost=0.0, gradient=None,
                                skipped=str(err))
        real: LMSRTrade | None = None
        shadows: dict[Contract, LMSRTrade] = {}
        if trade and self._books_allowed(c):
            if c not in self.books:
                self.books[c] = LMSRBook(self.config.lmsr_b, self._clip(price_before))
            elif lazy:  # bring the book to the price it would show had it followed every update
                sync = self._move(c, self._clip(price_before))
                if sync is not None:
                    shadows[c] = sync
            real = self.books[c].move_to(q, "real")
        self._model = new_model
        self.updates += 1
        for bc, price in new_prices.items():
            book = self.books.get(bc)
            if book is not None and abs(book.price() - price) > 1e-15:
                shadows[bc] = book.move_to(price, "shadow")
        prices = dict(new_prices)
        prices.setdefault(c, price_after)
        return UpdateResult(contract=c, target=q, price_before=price_before, price_after=price_after,
                            prices=prices, real_trade=real, shadow_trades=shadows,
                            shadow_cost=sum(t.cost for t in shadows.values()), gradient=grad)

    def _move(self, c: Contract, price: float) -> LMSRTrade | None:
        book = self.books[c]
        if abs(book.price() - price) <= 1e-15:
            return None
        return book.move_to(price, "shadow")

    def sync_books(self) -> dict[Contract, LMSRTrade]:
        """Move every book to the current model price (shadow trades); a no-op for eager books."""
        out = {}
        for c in self.books:
            t = self._move(c, self._clip(self.price(c)))
            if t is not None:
                out[c] = t
        return out

    def observe_batch(
        self, items: Sequence[tuple[Contract | Mapping[int, bool], float]], *, trade: bool = True
    ) -> list[UpdateResult]:
        """Learn from simultaneous observations of single-node contracts (a minute's base-market mids).

        With ``base_fields="nodes"`` on an exact structured model the batch is one step: observations on the
        same node are applied one after the other *exactly* — changing only node q's fields multiplies the
        joint law by exp(Δu_q(s_q)), so q's marginal law becomes π·exp(Δu)/Z with no other inference —
        while observations on different nodes all start from the batch's model (a Jacobi step across nodes:
        what one node learns reaches the others' marginals at the next batch). Each result is what
        :meth:`observe` reports for its observation; books (lazy) trade as in :meth:`observe`. Otherwise (eager
        books, fields beyond the node, approximate inference) the items are observed one by one."""
        model = self._model
        cfg = self.config
        contracts = [(Contract.of(c), float(q)) for c, q in items]
        st = model.nodes
        events = [st.event(c.legs) for c, _ in contracts]
        if (cfg.base_fields != "nodes" or not cfg.lazy_books or model._resolve(cfg.method) != "exact"
                or any(len(e.masks) != 1 or e.empty for e in events)):
            return [self.observe(c, q, trade=trade) for c, q in contracts]
        base = model.engine().query(None)
        local: dict[int, np.ndarray] = {}
        h = np.array(model.h)
        diag = model._exact_diag()
        out: list[UpdateResult] = []
        pending: list[tuple[Contract, float, float]] = []
        for (c, target), ev in zip(contracts, events, strict=True):
            ((node, mask),) = ev.masks.items()
            pi = local.get(node)
            if pi is None:
                pi = local[node] = np.array(base.node(node))
            q = self._clip(target)
            p = float(pi[mask].sum())
            scale = (p - q) / max(1.0 - p, 1e-300)
            cond = np.where(mask, pi, 0.0) / p
            bound = abs(p - q)
            g = np.clip(scale * (_tails(cond) - _tails(pi)), -bound, bound)
            step = node_preconditioner(pi) @ g if (cfg.precondition_fields and g.size > 1) else g
            members = list(st.nodes[node])
            dh = -cfg.eta_h * step
            h[members] += dh
            pi = pi * np.exp(np.concatenate([[0.0], np.cumsum(dh)]))
            pi /= pi.sum()
            local[node] = pi
            after = float(pi[mask].sum())
            d_h = np.zeros(model.n)
            d_h[members] = g
            grad = Gradient(price=p, target=q, loss=cross_entropy(q, p), scale=scale, d_h=d_h, d_J=_zeros(model.n),
                            clipped=False, diagnostics=diag)
            pending.append((c, p, after))
            out.append(UpdateResult(contract=c, target=q, price_before=p, price_after=after, prices={c: after},
                                    real_trade=None, shadow_trades={}, shadow_cost=0.0, gradient=grad))
        self._model = model.with_parameters(h, model.J)
        self.updates += len(out)
        if trade:
            for k, ((c, before, _), res) in enumerate(zip(pending, out, strict=True)):
                if not self._books_allowed(c):
                    continue
                shadows: dict[Contract, LMSRTrade] = {}
                if c not in self.books:
                    self.books[c] = LMSRBook(cfg.lmsr_b, self._clip(before))
                else:
                    sync = self._move(c, self._clip(before))
                    if sync is not None:
                        shadows[c] = sync
                real = self.books[c].move_to(res.target, "real")
                out[k] = replace(res, real_trade=real, shadow_trades=shadows,
                                 shadow_cost=sum(t.cost for t in shadows.values()))
        return out

    def observe_flow(
        self, contract: Contract | Mapping[int, bool], side: Side, shares: float
    ) -> UpdateResult:
        """Standalone signal: a buy of ``shares`` of ``side`` at the contract's book. The target is the price
        the LMSR moves to under that flow (:func:`flow_target`); the real trade is exactly that buy."""
        c = self.register(contract)
        if self.config.lazy_books:
            self._move(c, self._clip(self.price(c)))
        q = self._clip(flow_target(self.books[c].price(), side, shares, self.config.lmsr_b))
        return self.observe(c, q, trade=True)

    def settle(self, outcomes: Mapping[int, bool]) -> Settlement:
        """Resolve every book given each leg's outcome."""
        rc = rp = sc = sp = loss = bound = 0.0
        for c, book in self.books.items():
            yes = all(bool(outcomes[i]) == s for i, s in c.legs)
            rc += book.collected["real"]
            sc += book.collected["shadow"]
            rp += book.payout(yes, "real")
            sp += book.payout(yes, "shadow")
            loss += book.loss(yes)
            bound += book.worst_case_loss
        return Settlement(real_collected=rc, real_payout=rp, shadow_collected=sc, shadow_payout=sp,
                          book_loss=loss, worst_case_bound=bound)
