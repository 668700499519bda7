"""Exact inference on the node graph of a structured Ising model: junction trees with cached messages.

**Plan** (:func:`plan`, cached per (state counts, node edges, budget)). The node graph has an edge between
two nodes when some coupling joins their variables. Its connected components are independent. Each
component is triangulated by greedy weighted min-fill elimination (the cost of eliminating a node is
Σ S_a·S_b over the fill edges it adds, ties broken by the state count of the clique it creates, all
vectorised over an adjacency matrix); the elimination cliques, linked to the clique of their earliest
eliminated neighbour and with non-maximal cliques absorbed, form a junction tree. A component is *exact
by junction tree* when its largest clique has at most ``clique_budget`` joint states. A component beyond
the budget is *enumerated* (exact, by chunked enumeration of its feasible states, :mod:`models.pricing.exact`)
when it has at most ``enumeration_budget`` joint states; otherwise the plan is *intractable* and the model
must fall back to approximate inference (always flagged).

**Messages** (Shafer–Shenoy). A clique table is exp(Σ assigned node energies + Σ assigned pair energies −
offset) with a leading batch axis of size 1; the message c → d sums the product of c's table, every other
incoming message and any evidence homed at c over c's nodes outside the separator, and is renormalised to
max 1 with its log scale carried along, so every log partition function is exact in floating point. Messages
of the unconditioned model are computed lazily and cached; a query with evidence (node masks, or batches
of masks with a leading axis) recomputes only the messages whose source side holds evidence and takes the
rest from the cache. :meth:`JunctionState.derive` builds the state of new parameters and keeps every
cached message whose source side saw no changed table (a field update on one node invalidates only the
messages leading away from that node's home clique).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["JunctionState", "Plan", "plan", "triangulation_size"]

Edge = tuple[int, int]


# ----------------------------------------------------------------------------- triangulation
def _eliminate(sizes: np.ndarray, adj: np.ndarray, budget: float) -> tuple[list[int], list[np.ndarray]] | None:
    """Greedy weighted min-fill elimination of one component (adjacency ``adj`` over its nodes).

    Returns (elimination order, elimination cliques as index arrays), or None as soon as a clique would
    exceed ``budget`` joint states."""
    m = sizes.size
    A = adj.copy()
    np.fill_diagonal(A, False)
    s = sizes.astype(np.float64)
    logs = np.log(s)
    alive = np.ones(m, dtype=bool)
    fill = np.zeros(m)
    weight = np.zeros(m)

    def score(rows: np.ndarray) -> None:
        if rows.size == 0:
            return
        Af = A[rows].astype(np.float64)
        X = Af * s
        tot = X.sum(axis=1)
        sq = (X * s).sum(axis=1)
        inner = 0.5 * ((X @ A.astype(np.float64)) * X).sum(axis=1)
        fill[rows] = 0.5 * (tot * tot - sq) - inner
        weight[rows] = logs[rows] + Af @ logs

    score(np.arange(m))
    order: list[int] = []
    cliques: list[np.ndarray] = []
    log_budget = float(np.log(budget)) + 1e-9 if budget > 0 else -np.inf
    for _ in range(m):
        idx = np.flatnonzero(alive)
        f = fill[idx]
        best = idx[f == f.min()]
        v = int(best[np.argmin(weight[best])]) if best.size > 1 else int(best[0])
        if weight[v] > log_budget:
            return None
        nb = np.flatnonzero(A[v])
        order.append(v)
        cliques.append(np.concatenate([[v], nb]).astype(np.intp))
        if nb.size > 1:
            A[np.ix_(nb, nb)] = True
            A[nb, nb] = False
        A[v, :] = False
        A[:, v] = False
        alive[v] = False
        if nb.size:
            dirty = np.union1d(nb, np.flatnonzero(A[nb].any(axis=0)))
            score(dirty[alive[dirty]])
    return order, cliques


def _clique_tree(order: list[int], cliques: list[np.ndarray]) -> tuple[list[tuple[int, ...]], list[int]]:
    """Junction tree of one component from its elimination: (cliques as sorted local node tuples, parent
    index per clique, −1 for the root)."""
    position = {v: t for t, v in enumerate(order)}
    sets = {v: frozenset(int(x) for x in c) for v, c in zip(order, cliques, strict=True)}
    parent: dict[int, int | None] = {}
    for v in order:
        rest = sets[v] - {v}
        parent[v] = min(rest, key=position.__getitem__) if rest else None
    alias: dict[int, int] = {}

    def resolve(u: int | None) -> int | None:
        while u is not None and u in alias:
            u = alias[u]
        return u

    for v in order:
        p = resolve(parent[v])
        while p is not None and sets[p] <= sets[v]:  # p's clique is absorbed into its child v
            alias[p] = v
            p = resolve(parent[p])
        parent[v] = p
    kept = [v for v in order if v not in alias]
    index = {v: t for t, v in enumerate(kept)}
    out_cliques = [tuple(sorted(sets[v])) for v in kept]
    out_parent = [index[resolve(parent[v])] if resolve(parent[v]) is not None else -1 for v in kept]  # type: ignore[index]
    return out_cliques, out_parent


def _components(n_nodes: int, edges: Sequence[Edge]) -> list[np.ndarray]:
    if not edges:
        return [np.array([q], dtype=np.intp) for q in range(n_nodes)]
    e = np.array(edges, dtype=np.intp)
    g = csr_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n_nodes, n_nodes))
    k, labels = connected_components(g, directed=False)
    return [np.flatnonzero(labels == c) for c in range(k)]


def triangulation_size(sizes: Sequence[int], edges: Sequence[Edge], budget: float) -> float | None:
    """Largest clique (joint states) of the min-fill triangulation of the graph, or None when it exceeds
    ``budget`` (the check behind the learner's coupling admission)."""
    sz = np.asarray(sizes, dtype=np.intp)
    worst = 1.0
    for comp in _components(sz.size, list(edges)):
        if comp.size == 1:
            worst = max(worst, float(sz[comp[0]]))
            continue
        local = {int(q): t for t, q in enumerate(comp)}
        adj = np.zeros((comp.size, comp.size), dtype=bool)
        for a, b in edges:
            if a in local and b in local:
                adj[local[a], local[b]] = adj[local[b], local[a]] = True
        elim = _eliminate(sz[comp], adj, budget)
        if elim is None:
            return None
        for c in elim[1]:
            worst = max(worst, float(np.prod(sz[comp][c].astype(np.float64))))
    return worst


# ----------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class _MessageSpec:
    sum_axes: tuple[int, ...]  # axes of the source table (batch axis is 0) summed out
    out_shape: tuple[int, ...]  # broadcast shape in the receiving clique (without the batch axis)
    side: int  # bit set of cliques on the source side


@dataclass(frozen=True, eq=False)
class Plan:
    """Junction forest over the tractable components, plus the enumerated and intractable ones."""

    sizes: tuple[int, ...]
    edges: frozenset[Edge]
    clique_budget: float
    cliques: tuple[tuple[int, ...], ...]
    shapes: tuple[tuple[int, ...], ...]  # (1, *state counts) per clique
    neighbors: tuple[tuple[int, ...], ...]
    parent: tuple[int, ...]
    roots: tuple[int, ...]
    tree_of: tuple[int, ...]  # clique → index into roots
    tree_bits: tuple[int, ...]  # per root: bit set of its cliques
    home: Mapping[int, int]  # node → smallest clique holding it (tractable nodes only)
    axis: tuple[Mapping[int, int], ...]  # per clique: node → axis (batch axis is 0)
    unary_at: tuple[tuple[int, ...], ...]
    pairs_at: tuple[tuple[Edge, ...], ...]
    pair_clique: Mapping[Edge, int]  # (q < r) → a smallest clique holding both
    messages: Mapping[tuple[int, int], _MessageSpec]
    enumerated: tuple[tuple[int, ...], ...]  # components beyond the clique budget, within the enumeration budget
    intractable: tuple[tuple[int, ...], ...]  # components beyond both budgets
    max_clique_states: float
    total_states: float
    oversized_states: float  # largest component beyond the clique budget (tabled, enumerated or not), 0 if none

    @property
    def exact(self) -> bool:
        return not self.intractable

    def component_of(self, q: int) -> tuple[str, int]:
        """("tree", root index) | ("enumerated", k) | ("intractable", k) for node q."""
        if q in self.home:
            return "tree", self.tree_of[self.home[q]]
        for k, comp in enumerate(self.enumerated):
            if q in comp:
                return "enumerated", k
        for k, comp in enumerate(self.intractable):
            if q in comp:
                return "intractable", k
        raise KeyError(q)


_PLANS: OrderedDict[tuple[object, ...], Plan] = OrderedDict()
_PLANS_LOCK = threading.Lock()
_PLANS_MAX = 256


def plan(sizes: Sequence[int], edges: frozenset[Edge], clique_budget: float, enumeration_budget: float,
         table_budget: float = 0.0) -> Plan:
    """The (cached) inference plan of a node graph; ``edges`` are (q, r) pairs with q < r. A component
    beyond ``clique_budget`` with at most ``table_budget`` joint states becomes one clique (its whole
    probability table), else it is enumerated on demand (at most ``enumeration_budget`` states)."""
    key = (tuple(int(s) for s in sizes), edges, float(clique_budget), float(enumeration_budget),
           float(table_budget))
    with _PLANS_LOCK:
        hit = _PLANS.get(key)
        if hit is not None:
            _PLANS.move_to_end(key)
            return hit
    built = _build(key[0], edges, float(clique_budget), float(enumeration_budget), float(table_budget))
    with _PLANS_LOCK:
        _PLANS[key] = built
        if len(_PLANS) > _PLANS_MAX:
            _PLANS.popitem(last=False)
    return built


def _build(sizes: tuple[int, ...], edges: frozenset[Edge], budget: float, enum_budget: float,
           table_budget: float) -> Plan:
    sz = np.asarray(sizes, dtype=np.intp)
    n_nodes = sz.size
    edge_list = sorted(edges)
    cliques: list[tuple[int, ...]] = []
    parent: list[int] = []
    enumerated: list[tuple[int, ...]] = []
    intractable: list[tuple[int, ...]] = []
    adj_all: dict[int, set[int]] = {q: set() for q in range(n_nodes)}
    for a, b in edge_list:
        adj_all[a].add(b)
        adj_all[b].add(a)
    max_states = 1.0
    oversized = 0.0
    for comp in _components(n_nodes, edge_list):
        local = {int(q): t for t, q in enumerate(comp)}
        adj = np.zeros((comp.size, comp.size), dtype=bool)
        for q in comp:
            for r in adj_all[int(q)]:
                adj[local[int(q)], local[r]] = True
        if comp.size > 1:
            elim = _eliminate(sz[comp], adj, budget)
        else:
            elim = ([0], [np.array([0])]) if float(sz[comp[0]]) <= budget else None
        if elim is None:
            states = float(np.prod(sz[comp].astype(np.float64)))
            oversized = max(oversized, states)
            if states > table_budget:
                (enumerated if states <= enum_budget else intractable).append(tuple(int(q) for q in comp))
                continue
            local_cliques, local_parent = [tuple(range(comp.size))], [-1]
        else:
            local_cliques, local_parent = _clique_tree(*elim)
        base = len(cliques)
        for c, p in zip(local_cliques, local_parent, strict=True):
            cliques.append(tuple(sorted(int(comp[t]) for t in c)))
            parent.append(base + p if p >= 0 else -1)
            max_states = max(max_states, float(np.prod(sz[list(cliques[-1])].astype(np.float64))))
    k = len(cliques)
    neighbors: list[list[int]] = [[] for _ in range(k)]
    for c, p in enumerate(parent):
        if p >= 0:
            neighbors[c].append(p)
            neighbors[p].append(c)
    roots = [c for c in range(k) if parent[c] < 0]
    tree_of = [0] * k
    subtree = [1 << c for c in range(k)]
    tree_bits = []
    for t, r in enumerate(roots):  # iterative DFS: tree membership and subtree bit sets
        order = []
        stack = [r]
        while stack:
            c = stack.pop()
            order.append(c)
            tree_of[c] = t
            stack.extend(x for x in neighbors[c] if x != parent[c])
        for c in reversed(order):
            if parent[c] >= 0:
                subtree[parent[c]] |= subtree[c]
        tree_bits.append(subtree[r])
    shapes = tuple((1, *(int(sz[q]) for q in c)) for c in cliques)
    axis = tuple({q: a + 1 for a, q in enumerate(c)} for c in cliques)
    home: dict[int, int] = {}
    pair_clique: dict[Edge, int] = {}
    by_size = sorted(range(k), key=lambda c: float(np.prod(shapes[c], dtype=np.float64)))
    for c in by_size:
        for q in cliques[c]:
            home.setdefault(q, c)
        members = cliques[c]
        for i, q in enumerate(members):
            for r in members[i + 1:]:
                pair_clique.setdefault((q, r), c)
    unary_at: list[list[int]] = [[] for _ in range(k)]
    for q, c in home.items():
        unary_at[c].append(q)
    pairs_at: list[list[Edge]] = [[] for _ in range(k)]
    for e in edge_list:
        if e in pair_clique:
            pairs_at[pair_clique[e]].append(e)
    messages: dict[tuple[int, int], _MessageSpec] = {}
    for c in range(k):
        for d in neighbors[c]:
            sep = set(cliques[c]) & set(cliques[d])
            sum_axes = tuple(axis[c][q] for q in cliques[c] if q not in sep)
            out_shape = tuple(int(sz[q]) if q in sep else 1 for q in cliques[d])
            side = subtree[c] if parent[c] == d else tree_bits[tree_of[c]] & ~subtree[d]
            messages[(c, d)] = _MessageSpec(sum_axes, out_shape, side)
    total = float(sum(np.prod(s, dtype=np.float64) for s in shapes))
    return Plan(
        sizes=sizes, edges=edges, clique_budget=budget, cliques=tuple(cliques), shapes=shapes,
        neighbors=tuple(tuple(x) for x in neighbors), parent=tuple(parent), roots=tuple(roots),
        tree_of=tuple(tree_of), tree_bits=tuple(tree_bits), home=home, axis=axis,
        unary_at=tuple(tuple(sorted(u)) for u in unary_at), pairs_at=tuple(tuple(p) for p in pairs_at),
        pair_clique=pair_clique, messages=messages, enumerated=tuple(enumerated),
        intractable=tuple(intractable), max_clique_states=max_states, total_states=total,
        oversized_states=oversized,
    )


# ----------------------------------------------------------------------------- evidence
Evidence = Mapping[int, np.ndarray]  # node → (B, S) or (S,) float/bool weights of allowed states


@dataclass(frozen=True, eq=False)
class _Ev:
    """Evidence prepared for one plan: per clique the (node, broadcast weight) pairs homed there."""

    at: Mapping[int, tuple[np.ndarray, ...]]
    bits: int
    batch: int

    @classmethod
    def of(cls, p: Plan, evidence: Evidence | None) -> _Ev | None:
        if not evidence:
            return None
        at: dict[int, list[np.ndarray]] = {}
        bits = 0
        batch = 1
        for q, w in evidence.items():
            c = p.home[q]
            arr = np.asarray(w, dtype=np.float64)
            if arr.ndim == 1:
                arr = arr[None, :]
            batch = max(batch, arr.shape[0])
            shape = [arr.shape[0]] + [1] * (len(p.shapes[c]) - 1)
            shape[p.axis[c][q]] = arr.shape[1]
            at.setdefault(c, []).append(arr.reshape(shape))
            bits |= 1 << c
        return cls({c: tuple(v) for c, v in at.items()}, bits, batch)


# ----------------------------------------------------------------------------- state
class JunctionState:
    """Clique tables of one parameter vector and its lazily filled message cache.

    ``unary[q]`` (S_q,) and ``pair[(q, r)]`` (S_q, S_r) are node and pair energies (q < r)."""

    def __init__(self, p: Plan, unary: Sequence[np.ndarray], pair: Mapping[Edge, np.ndarray]) -> None:
        self.plan = p
        self.unary = unary
        self.pair = pair
        self.tables: list[np.ndarray] = []
        self.offsets = np.zeros(len(p.cliques))
        for c in range(len(p.cliques)):
            t, off = self._table(c)
            self.tables.append(t)
            self.offsets[c] = off
        self.cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._tree_log_z: dict[int, float] = {}
        self._beliefs: dict[int, np.ndarray] = {}

    def _table(self, c: int) -> tuple[np.ndarray, float]:
        p = self.plan
        shape = p.shapes[c]
        log = np.zeros(shape)
        axis = p.axis[c]
        for q in p.unary_at[c]:
            s = [1] * len(shape)
            s[axis[q]] = shape[axis[q]]
            log = log + self.unary[q].reshape(s)
        for q, r in p.pairs_at[c]:
            s = [1] * len(shape)
            s[axis[q]], s[axis[r]] = shape[axis[q]], shape[axis[r]]
            log = log + self.pair[(q, r)].reshape(s)
        off = float(log.max())
        return np.exp(log - off), off

    def derive(self, unary: Sequence[np.ndarray], pair: Mapping[Edge, np.ndarray],
               changed_nodes: Sequence[int] | None, changed_pairs: Sequence[Edge] | None) -> JunctionState:
        """The state of new energies on the same plan; ``changed_*`` None means everything changed."""
        if changed_nodes is None or changed_pairs is None:
            return JunctionState(self.plan, unary, pair)
        p = self.plan
        dirty = {p.home[q] for q in changed_nodes if q in p.home}
        dirty |= {p.pair_clique[e] for e in changed_pairs if e in p.pair_clique}
        new = object.__new__(JunctionState)
        new.plan, new.unary, new.pair = p, unary, pair
        new.tables = list(self.tables)
        new.offsets = self.offsets.copy()
        bits = 0
        for c in dirty:
            new.tables[c], new.offsets[c] = new._table(c)
            bits |= 1 << c
        new.cache = {k: v for k, v in self.cache.items() if not (p.messages[k].side & bits)}
        new._tree_log_z = {t: z for t, z in self._tree_log_z.items() if not (p.tree_bits[t] & bits)}
        new._beliefs = {}
        return new

    # ------------------------------------------------------------------ messages
    def _product(self, c: int, skip: int, ev: _Ev | None, tmp: dict) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
        """Table of c times every incoming message but the one from ``skip`` (and c's evidence), with the
        summed log scales. Messages of one shape (e.g. the separators of a hub's many children) are
        multiplied together first, so the full table is touched once per distinct shape."""
        p = self.plan
        log = np.full(1, self.offsets[c])
        groups: dict[tuple[int, ...], np.ndarray] = {}
        for e in p.neighbors[c]:
            if e == skip:
                continue
            m, lg = self._get(e, c, ev, tmp)
            log = log + lg
            g = groups.get(m.shape)
            groups[m.shape] = m if g is None else g * m
        if ev is not None and c in ev.at:
            for w in ev.at[c]:
                g = groups.get(w.shape)
                groups[w.shape] = w if g is None else g * w
        arr = self.tables[c]
        for g in groups.values():
            arr = arr * g
        return arr, log

    def _message(self, c: int, d: int, ev: _Ev | None, tmp: dict) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
        spec = self.plan.messages[(c, d)]
        arr, log = self._product(c, d, ev, tmp)
        out = arr.sum(axis=spec.sum_axes) if spec.sum_axes else arr
        out = out.reshape((out.shape[0], *spec.out_shape))
        scale = out.reshape(out.shape[0], -1).max(axis=1)
        ok = scale > 0.0
        safe = np.where(ok, scale, 1.0)
        out = out / safe.reshape((-1,) + (1,) * (out.ndim - 1))
        with np.errstate(divide="ignore"):
            log = log + np.where(ok, np.log(safe), -np.inf)
        return out, log

    def _get(self, c: int, d: int, ev: _Ev | None, tmp: dict) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
        dirty = ev is not None and bool(self.plan.messages[(c, d)].side & ev.bits)
        store = tmp if dirty else self.cache
        hit = store.get((c, d))
        if hit is None:
            self._fill(c, d, ev, tmp)
            hit = store[(c, d)]
        return hit

    def _fill(self, c0: int, d0: int, ev: _Ev | None, tmp: dict) -> None:  # type: ignore[type-arg]
        """Compute message c0 → d0 and everything it needs, leaves first (no recursion)."""
        p = self.plan
        order: list[tuple[int, int]] = []
        stack = [(c0, d0)]
        while stack:
            c, d = stack.pop()
            dirty = ev is not None and bool(p.messages[(c, d)].side & ev.bits)
            if (c, d) in (tmp if dirty else self.cache):
                continue
            order.append((c, d))
            stack.extend((e, c) for e in p.neighbors[c] if e != d)
        for c, d in reversed(order):
            dirty = ev is not None and bool(p.messages[(c, d)].side & ev.bits)
            store = tmp if dirty else self.cache
            if (c, d) not in store:
                store[(c, d)] = self._message(c, d, ev, tmp)

    def _belief(self, c: int, ev: _Ev | None, tmp: dict) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
        """(unnormalised product at clique c, its log scale (B,))."""
        return self._product(c, -1, ev, tmp)

    # ------------------------------------------------------------------ queries
    def tree_log_z(self, t: int) -> float:
        z = self._tree_log_z.get(t)
        if z is None:
            arr, log = self._belief(self.plan.roots[t], None, {})
            z = float(log[0] + np.log(arr.sum()))
            self._tree_log_z[t] = z
        return z

    def log_z(self) -> float:
        return float(sum(self.tree_log_z(t) for t in range(len(self.plan.roots))))

    def log_probability(self, evidence: Evidence, tmp: dict | None = None) -> np.ndarray:  # type: ignore[type-arg]
        """log P(evidence) per batch row: Σ over the trees holding evidence of log Z_t(ev) − log Z_t."""
        p = self.plan
        ev = _Ev.of(p, evidence)
        if ev is None:
            return np.zeros(1)
        tmp = {} if tmp is None else tmp
        out = np.zeros(ev.batch)
        for t in range(len(p.roots)):
            bits = p.tree_bits[t] & ev.bits
            if not bits:
                continue
            c = (bits & -bits).bit_length() - 1  # an evidence clique of this tree
            arr, log = self._belief(c, ev, tmp)
            total = arr.reshape(arr.shape[0], -1).sum(axis=1)
            with np.errstate(divide="ignore"):
                out = out + (log + np.log(total)) - self.tree_log_z(t)
        return np.minimum(out, 0.0)

    def clique_marginal(self, c: int, ev: _Ev | None = None, tmp: dict | None = None) -> np.ndarray:  # type: ignore[type-arg]
        """Normalised joint of clique c's nodes (B, *states)."""
        if ev is None:
            hit = self._beliefs.get(c)
            if hit is not None:
                return hit
        arr, _ = self._belief(c, ev, {} if tmp is None else tmp)
        total = arr.reshape(arr.shape[0], -1).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = arr / np.where(total > 0, total, 1.0).reshape((-1,) + (1,) * (arr.ndim - 1))
        if ev is None:
            self._beliefs[c] = out
        return out

    def node_marginal(self, q: int, ev: _Ev | None = None, tmp: dict | None = None) -> np.ndarray:  # type: ignore[type-arg]
        c = self.plan.home[q]
        b = self.clique_marginal(c, ev, tmp)
        ax = self.plan.axis[c][q]
        other = tuple(a for a in range(1, b.ndim) if a != ax)
        return b.sum(axis=other) if other else b

    def pair_marginal(self, q: int, r: int, ev: _Ev | None = None, tmp: dict | None = None) -> np.ndarray | None:  # type: ignore[type-arg]
        """(B, S_q, S_r) joint of two nodes of one clique (q ≠ r), or None if no clique holds both."""
        a, b = (q, r) if q < r else (r, q)
        c = self.plan.pair_clique.get((a, b))
        if c is None:
            return None
        bel = self.clique_marginal(c, ev, tmp)
        ax_q, ax_r = self.plan.axis[c][q], self.plan.axis[c][r]
        other = tuple(x for x in range(1, bel.ndim) if x not in (ax_q, ax_r))
        out = bel.sum(axis=other) if other else bel
        return out if ax_q < ax_r else np.swapaxes(out, 1, 2)

    def prepare(self, evidence: Evidence | None) -> _Ev | None:
        return _Ev.of(self.plan, evidence)
