"""The exact engine of a structured Ising model: junction trees where the node graph allows, chunked
enumeration of feasible states for components beyond the clique budget (see :mod:`models.pricing.junction`).

Every query is an event over node states (:class:`~models.pricing.structure.NodeEvent`); variable-level
answers (``E[y]``, ``E[y yᵀ]``) come from node answers by tail sums: ``P(y_{q,k} = 1) = P(s_q ≥ k)`` and
``E[y_{q,k} y_{r,l}] = P(s_q ≥ k, s_r ≥ l)``. Pairs of nodes that share a clique are read off its joint;
pairs in one tree that share none are conditioned on every state of one node at once (a batch of
evidence rows); nodes of different components are independent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.pricing import exact
from models.pricing.junction import Edge, JunctionState, Plan, plan
from models.pricing.structure import NodeEvent, Structure

__all__ = ["Budgets", "ExactEngine", "IntractableError"]


class IntractableError(ValueError):
    """The model is beyond every exact budget (a component's junction tree and its enumeration)."""


@dataclass(frozen=True)
class Budgets:
    clique: float  # largest junction-tree clique (joint states)
    table: float  # a component beyond the clique budget is one materialised table up to this many states
    enumeration: float  # … and is enumerated on demand up to this many


def _tail_sum(a: np.ndarray, axis: int) -> np.ndarray:
    return np.flip(np.cumsum(np.flip(a, axis=axis), axis=axis), axis=axis)


class _Query:
    """One event prepared on the engine: tree evidence with its message scratch, enumerated allowances."""

    def __init__(self, engine: ExactEngine, event: NodeEvent | None) -> None:
        self.engine = engine
        self.event = event
        masks = event.masks if event is not None else {}
        p = engine.plan
        self.tree_ev = {q: m.astype(np.float64) for q, m in masks.items() if q in p.home}
        self.ev = engine.state.prepare(self.tree_ev)
        self.tmp: dict = {}  # type: ignore[type-arg]
        self.enum_allowed: dict[int, list[np.ndarray] | None] = {}
        for k, comp in enumerate(p.enumerated):
            if any(q in masks for q in comp):
                self.enum_allowed[k] = [np.flatnonzero(masks[q]) if q in masks else np.arange(p.sizes[q])
                                        for q in comp]
        self._enum_summary: dict[int, exact.ExactSummary] = {}
        self._node: dict[int, np.ndarray] = {}
        self._clique: dict[int, np.ndarray] = {}
        self._log_p: float | None = None

    def clique(self, c: int) -> np.ndarray:
        """The (batch-1) joint of clique c's nodes under the event."""
        hit = self._clique.get(c)
        if hit is None:
            eng = self.engine
            p = eng.plan
            dirty = self.ev is not None and bool(p.tree_bits[p.tree_of[c]] & self.ev.bits)
            hit = eng.state.clique_marginal(c, self.ev if dirty else None, self.tmp if dirty else None)[0]
            self._clique[c] = hit
        return hit

    # ------------------------------------------------------------------ enumerated components
    def enum_summary(self, k: int) -> tuple[exact.ExactSummary, np.ndarray]:
        eng = self.engine
        if k not in self.enum_allowed:
            return eng.enum_base(k)
        hit = self._enum_summary.get(k)
        comp = eng.plan.enumerated[k]
        nodes = [eng.structure.nodes[q] for q in comp]
        if hit is None:
            hit, _ = exact.summarize_structured(eng.h, eng.J, nodes, self.enum_allowed[k], moments=True)
            self._enum_summary[k] = hit
        return hit, np.array([i for q in comp for i in eng.structure.nodes[q]], dtype=np.intp)

    # ------------------------------------------------------------------ answers
    def log_probability(self) -> float:
        if self._log_p is None:
            self._log_p = self._log_probability()
        return self._log_p

    def _log_probability(self) -> float:
        eng = self.engine
        if self.event is not None and self.event.empty:
            return -np.inf
        out = 0.0
        if self.ev is not None:
            out += float(eng.state.log_probability(self.tree_ev, self.tmp)[0])
        for k in self.enum_allowed:
            s, _ = self.enum_summary(k)
            out += s.log_z - eng.enum_base(k)[0].log_z
        return min(out, 0.0)

    def node(self, q: int) -> np.ndarray:
        """P(s_q | event) as (S_q,)."""
        hit = self._node.get(q)
        if hit is not None:
            return hit
        eng = self.engine
        p = eng.plan
        if q in p.home:
            c = p.home[q]
            b = self.clique(c)
            ax = p.axis[c][q] - 1
            other = tuple(a for a in range(b.ndim) if a != ax)
            out = b.sum(axis=other) if other else b
        else:
            _, k = p.component_of(q)
            s, order = self.enum_summary(k)
            members = eng.structure.nodes[q]
            pos = {int(i): t for t, i in enumerate(order)}
            tails = np.concatenate([[1.0], s.mean[[pos[i] for i in members]], [0.0]])  # type: ignore[index]
            out = np.clip(tails[:-1] - tails[1:], 0.0, 1.0)
        self._node[q] = out
        return out

    def pair(self, q: int, r: int) -> np.ndarray:
        """P(s_q, s_r | event) as (S_q, S_r), q ≠ r."""
        eng = self.engine
        p = eng.plan
        cq, cr = p.component_of(q), p.component_of(r)
        if cq != cr:
            return np.outer(self.node(q), self.node(r))
        if cq[0] == "tree":
            a, b = (q, r) if q < r else (r, q)
            c = p.pair_clique.get((a, b))
            if c is None:
                return self._conditioned_pair(q, r)
            bel = self.clique(c)
            ax_q, ax_r = p.axis[c][q] - 1, p.axis[c][r] - 1
            other = tuple(x for x in range(bel.ndim) if x not in (ax_q, ax_r))
            out = bel.sum(axis=other) if other else bel
            return out if ax_q < ax_r else out.T
        s, order = self.enum_summary(cq[1])
        pos = {int(i): t for t, i in enumerate(order)}
        a = [pos[i] for i in eng.structure.nodes[q]]
        b = [pos[i] for i in eng.structure.nodes[r]]
        tails = np.zeros((len(a) + 2, len(b) + 2))
        tails[0, 0] = 1.0
        tails[0, 1:-1] = s.mean[b]  # type: ignore[index]
        tails[1:-1, 0] = s.mean[a]  # type: ignore[index]
        tails[1:-1, 1:-1] = s.second[np.ix_(a, b)]  # type: ignore[index]
        joint = tails[:-1, :-1] - tails[1:, :-1] - tails[:-1, 1:] + tails[1:, 1:]
        return np.clip(joint, 0.0, 1.0)

    def _conditioned_pair(self, q: int, r: int) -> np.ndarray:
        """Two nodes of one tree without a common clique: condition on every state of q at once."""
        eng = self.engine
        size = int(eng.plan.sizes[q])
        rows = np.eye(size)
        if q in self.tree_ev:
            rows = rows * self.tree_ev[q][None, :]
        evidence = dict(self.tree_ev)
        evidence[q] = rows
        ev = eng.state.prepare(evidence)
        given = eng.state.node_marginal(r, ev, {})  # (S_q, S_r), rows of impossible states are 0/NaN
        given = np.nan_to_num(given, nan=0.0)
        return self.node(q)[:, None] * given

    def variable_marginals(self) -> np.ndarray:
        eng = self.engine
        return eng.structure.variable_marginals([self.node(q) for q in range(eng.structure.n_nodes)])

    def pair_moments(self, pairs: np.ndarray) -> np.ndarray:
        """E[y_a y_b | event] for variable pairs (m, 2)."""
        st = self.engine.structure
        out = np.empty(len(pairs))
        cache: dict[tuple[int, int], np.ndarray] = {}
        for t, (a, b) in enumerate(np.asarray(pairs, dtype=np.intp).reshape(-1, 2)):
            q, r = int(st.node_of[a]), int(st.node_of[b])
            ka, kb = int(st.position[a]), int(st.position[b])
            if q == r:
                out[t] = float(_tail_sum(self.node(q), -1)[max(ka, kb)])
                continue
            key = (q, r) if q < r else (r, q)
            tails = cache.get(key)
            if tails is None:
                tails = _tail_sum(_tail_sum(self.pair(*key), -2), -1)
                cache[key] = tails
            out[t] = float(tails[ka, kb] if q < r else tails[kb, ka])
        return out

    def second_moments(self) -> np.ndarray:
        """The full E[y yᵀ | event] (diagonal = E[y])."""
        st = self.engine.structure
        n, N = st.n, st.n_nodes
        mean = self.variable_marginals()
        second = np.empty((n, n))
        for q in range(N):
            a = list(st.nodes[q])
            tail = _tail_sum(self.node(q), -1)
            second[np.ix_(a, a)] = tail[np.maximum.outer(st.position[a], st.position[a])]
            for r in range(q + 1, N):
                b = list(st.nodes[r])
                tails = _tail_sum(_tail_sum(self.pair(q, r), -2), -1)[1:, 1:]
                second[np.ix_(a, b)] = tails
                second[np.ix_(b, a)] = tails.T
        np.fill_diagonal(second, mean)
        return second


class ExactEngine:
    """Exact inference of one parameter vector on one structure (built lazily by the model)."""

    def __init__(self, structure: Structure, h: np.ndarray, J: np.ndarray, budgets: Budgets,
                 parent: ExactEngine | None = None) -> None:
        self.structure = st = structure
        self.h, self.J = h, J
        self.budgets = budgets
        same_j = parent is not None and (parent.J is J or np.array_equal(parent.J, J))
        if same_j:
            self.E, self.edges = parent.E, parent.edges  # type: ignore[union-attr]
        else:
            self.E = st.pair_energies(J)
            block = np.triu(st.coupled_nodes(J), 1)
            self.edges = frozenset((int(a), int(b)) for a, b in zip(*np.nonzero(block), strict=True))
        self.u = st.unary_energies(h, self.E)
        if same_j and parent.budgets == budgets:  # type: ignore[union-attr]
            self.plan: Plan = parent.plan  # type: ignore[union-attr]
        else:
            self.plan = plan(st.sizes, self.edges, budgets.clique, budgets.enumeration, budgets.table)
        unary = [self.u[sl] for sl in st.slices]
        if same_j:
            pair = parent.state.pair  # type: ignore[union-attr]
        else:
            pair = {e: self.E[st.node_slice(e[0]), st.node_slice(e[1])] for e in self.edges}
        if parent is not None and parent.plan is self.plan:
            # the stacked cumulative sums differ in the last bits wherever an earlier node changed: compare
            # with a tolerance and keep the parent's energies (and tables) of the unchanged nodes
            diff = np.abs(self.u - parent.u) > 1e-12 * (1.0 + np.abs(parent.u))
            flags = np.logical_or.reduceat(diff, st.offsets)
            changed_nodes = [int(q) for q in np.flatnonzero(flags)]
            unary = [unary[q] if flags[q] else parent.state.unary[q] for q in range(st.n_nodes)]
            changed_pairs: list[Edge] | None = []
            if not same_j:
                changed_pairs = [e for e in self.edges if not np.array_equal(pair[e], parent.state.pair[e])]
            self.state = parent.state.derive(unary, pair, changed_nodes, changed_pairs)
        else:
            self.state = JunctionState(self.plan, unary, pair)
        self._enum: dict[int, tuple[exact.ExactSummary, np.ndarray]] = {}
        self._base: _Query | None = None
        self._recent: dict[tuple[tuple[int, bytes], ...], _Query] = {}

    @property
    def exact(self) -> bool:
        return self.plan.exact

    def enumerated_states(self) -> float:
        """Joint states of the largest enumerated component (0 when none)."""
        comps = self.plan.enumerated
        return max((float(np.prod([self.plan.sizes[q] for q in c], dtype=np.float64)) for c in comps), default=0.0)

    def enum_base(self, k: int) -> tuple[exact.ExactSummary, np.ndarray]:
        hit = self._enum.get(k)
        if hit is None:
            comp = self.plan.enumerated[k]
            hit = exact.summarize_structured(self.h, self.J, [self.structure.nodes[q] for q in comp], moments=True)
            self._enum[k] = hit
        return hit

    def _check(self) -> None:
        if self.plan.intractable:
            worst = max(float(np.prod([self.plan.sizes[q] for q in c], dtype=np.float64))
                        for c in self.plan.intractable)
            raise IntractableError(
                f"exact inference refused: a component of {worst:.3g} feasible states is beyond the clique "
                f"budget ({self.budgets.clique:.3g}) and the enumeration budget ({self.budgets.enumeration:.3g})")

    def query(self, event: NodeEvent | None) -> _Query:
        """The prepared query of an event (the last few are kept: a price and its gradient share one)."""
        self._check()
        if event is None or not event.masks:
            if self._base is None:
                self._base = _Query(self, None)
            return self._base
        key = event.key()
        hit = self._recent.get(key)
        if hit is None:
            hit = _Query(self, event)
            if len(self._recent) >= 4:
                self._recent.pop(next(iter(self._recent)))
            self._recent[key] = hit
        return hit

    def log_z(self) -> float:
        self._check()
        total = self.state.log_z()
        for k in range(len(self.plan.enumerated)):
            total += self.enum_base(k)[0].log_z
        return total

    # ------------------------------------------------------------------ sampling
    def sample_states(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Exact i.i.d. node states (count, N): forward sampling through each junction tree (root clique from
        its joint, every other clique given its separator), chunked enumeration for enumerated components."""
        self._check()
        st, p = self.structure, self.plan
        out = np.zeros((count, st.n_nodes), dtype=np.intp)
        done = np.zeros(st.n_nodes, dtype=bool)
        for root in p.roots:
            stack = [root]
            while stack:
                c = stack.pop()
                self._sample_clique(c, out, done, rng)
                stack.extend(x for x in p.neighbors[c] if x != p.parent[c])
        for comp in p.enumerated:
            self._sample_enumerated(comp, out, rng)
        return out

    def _sample_clique(self, c: int, out: np.ndarray, done: np.ndarray, rng: np.random.Generator) -> None:
        p = self.plan
        nodes = p.cliques[c]
        joint = self.state.clique_marginal(c)[0]
        known = [t for t, q in enumerate(nodes) if done[q]]
        free = [t for t, q in enumerate(nodes) if not done[q]]
        if not free:
            return
        table = np.transpose(joint, known + free)
        shape_known = table.shape[: len(known)]
        table = table.reshape(int(np.prod(shape_known, dtype=np.int64)), -1)
        count = out.shape[0]
        if known:
            rows = np.ravel_multi_index(tuple(out[:, nodes[t]] for t in known), shape_known)
        else:
            rows = np.zeros(count, dtype=np.intp)
        picked = np.empty(count, dtype=np.intp)
        u = rng.random(count)
        for r in np.unique(rows):
            sel = np.flatnonzero(rows == r)
            cdf = np.cumsum(table[r])
            picked[sel] = np.minimum(np.searchsorted(cdf, u[sel] * cdf[-1], side="right"), cdf.size - 1)
        free_shape = tuple(int(p.sizes[nodes[t]]) for t in free)
        states = np.unravel_index(picked, free_shape)
        for t, s in zip(free, states, strict=True):
            out[:, nodes[t]] = s
            done[nodes[t]] = True

    def _sample_enumerated(self, comp: tuple[int, ...], out: np.ndarray, rng: np.random.Generator) -> None:
        states = exact.sample_structured(self.h, self.J, [self.structure.nodes[q] for q in comp], out.shape[0], rng)
        out[:, list(comp)] = states


def pairs_of_legs(structure: Structure, variables: Sequence[int]) -> np.ndarray:
    """The variable pairs (a < b) among ``variables`` that lie on different nodes (the learnable couplings)."""
    v = sorted({int(i) for i in variables})
    out = [(a, b) for t, a in enumerate(v) for b in v[t + 1:] if structure.node_of[a] != structure.node_of[b]]
    return np.array(out, dtype=np.intp).reshape(-1, 2)
