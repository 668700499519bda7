"""Nodes, feasible states and events of a cluster: the structure the Ising law lives on.

The binary variables of a cluster are grouped into *nodes*. A node is an axis of the structural layer
(``models.structural``): variables ``y_1 … y_K`` with ``y_k = [cell ≥ k]``, nested ``y_{k+1} ⇒ y_k``. Its
feasible assignments are the thermometer codes: node state ``s ∈ {0 … K}`` sets ``y_k(s) = [s ≥ k]``, so a
node has ``K + 1`` states instead of ``2^K``. A variable without axis is a node with ``K = 1`` (two
states); a structure where every node has two states is the free binary model.

**Energy on node states.** For a feasible ``y`` the Ising energy ``h·y + Σ_{i<j} J_ij y_i y_j`` splits into
node terms ``u_q(s_q) = Σ_{k ≤ s_q} h_{q,k} + Σ_{k<l ≤ s_q} J_{qk,ql}`` (cumulative sums of the fields along
the axis; couplings inside a node only ever act as fields) and pair terms
``E_qr(s_q, s_r) = Σ_{k ≤ s_q, l ≤ s_r} J_{qk,rl}`` (2-D cumulative sums of a coupling block). Both come out of
one vectorised transform (:meth:`Structure.state_energies`).

**Events** are per-node masks of allowed states (:class:`NodeEvent`): a literal ``y_{q,k}`` allows
``s ≥ k``, its negation ``s < k``; a leg on a bracket allows one state, its NO the others. A conjunction of
legs is the AND of masks; it is empty, hence impossible, exactly when some node has no allowed state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["NodeEvent", "Structure", "axis_position"]


def axis_position(variable_id: str) -> tuple[str, int] | None:
    """``("<axis>", j)`` for a variable id ``<axis>#j`` of the structural layer, else None."""
    axis, sep, j = variable_id.rpartition("#")
    if not sep or not j.isdigit() or not axis:
        return None
    return axis, int(j)


@dataclass(frozen=True, eq=False)
class NodeEvent:
    """A conjunction of per-node state restrictions: node → boolean mask of allowed states.

    Nodes not listed are unrestricted. ``empty`` is True when some listed mask allows no state (the
    event is logically impossible and has probability exactly 0)."""

    masks: Mapping[int, np.ndarray]

    @property
    def empty(self) -> bool:
        return any(not m.any() for m in self.masks.values())

    @property
    def nodes(self) -> tuple[int, ...]:
        return tuple(sorted(self.masks))

    def key(self) -> tuple[tuple[int, bytes], ...]:
        """A hashable identity (for caches)."""
        return tuple((q, np.packbits(self.masks[q]).tobytes() + bytes([self.masks[q].size])) for q in self.nodes)

    def restrict(self, node: int, mask: np.ndarray) -> NodeEvent:
        """This event with ``node`` further restricted to ``mask``."""
        out = dict(self.masks)
        out[node] = out[node] & mask if node in out else np.asarray(mask, dtype=bool)
        return NodeEvent(out)

    def and_(self, other: NodeEvent) -> NodeEvent:
        out = dict(self.masks)
        for q, m in other.masks.items():
            out[q] = out[q] & m if q in out else m
        return NodeEvent(out)


@dataclass(frozen=True, eq=False)
class Structure:
    """Variables ``0 … n − 1`` grouped into nodes; each node lists its variables in threshold order.

    ``nodes`` must partition ``range(n)``. Derived arrays (read-only): ``node_of[i]`` and ``position[i]``
    (1-based threshold index of variable ``i`` within its node), ``sizes[q] = K_q + 1`` (state counts),
    ``order`` (variables node by node), ``offsets[q]`` (first row of node ``q`` in the stacked state
    vector of length ``sum(sizes)``).
    """

    n: int
    nodes: tuple[tuple[int, ...], ...]
    node_of: np.ndarray = field(init=False, repr=False)
    position: np.ndarray = field(init=False, repr=False)
    sizes: np.ndarray = field(init=False, repr=False)
    order: np.ndarray = field(init=False, repr=False)
    offsets: np.ndarray = field(init=False, repr=False)
    _rows_hi: np.ndarray = field(init=False, repr=False)
    _rows_lo: np.ndarray = field(init=False, repr=False)
    _node_rows: np.ndarray = field(init=False, repr=False)
    _slices: tuple[slice, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        nodes = tuple(tuple(int(i) for i in q) for q in self.nodes)
        flat = [i for q in nodes for i in q]
        if any(len(q) == 0 for q in nodes):
            raise ValueError("every node needs at least one variable")
        if sorted(flat) != list(range(self.n)):
            raise ValueError(f"the nodes must partition the variables 0 … {self.n - 1} (each exactly once)")
        node_of = np.empty(self.n, dtype=np.intp)
        position = np.empty(self.n, dtype=np.intp)
        for q, members in enumerate(nodes):
            for k, i in enumerate(members, start=1):
                node_of[i], position[i] = q, k
        sizes = np.array([len(q) + 1 for q in nodes], dtype=np.intp)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        starts = np.concatenate([[0], np.cumsum(sizes - 1)[:-1]]).astype(np.intp)
        # state row (q, s) of the thermometer transform: cs0[start_q + s] − cs0[start_q]
        node_rows = np.repeat(np.arange(len(nodes)), sizes)
        within = np.arange(int(sizes.sum())) - np.repeat(offsets, sizes)
        rows_lo = np.repeat(starts, sizes)
        rows_hi = rows_lo + within
        object.__setattr__(self, "_slices", tuple(slice(int(o), int(o + z)) for o, z in zip(offsets, sizes,
                                                                                            strict=True)))
        for name, value in (("nodes", nodes), ("node_of", node_of), ("position", position), ("sizes", sizes),
                            ("order", np.array(flat, dtype=np.intp)), ("offsets", offsets),
                            ("_rows_hi", rows_hi), ("_rows_lo", rows_lo), ("_node_rows", node_rows)):
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def free(cls, n: int) -> Structure:
        """Every variable its own two-state node (the unconstrained Ising model)."""
        return cls(n, tuple((i,) for i in range(n)))

    @classmethod
    def from_axes(cls, n: int, axes: Iterable[Sequence[int]]) -> Structure:
        """Nodes from ``axes`` (each the variable indices in threshold order); variables not named by any
        axis become two-state nodes of their own."""
        listed = [tuple(int(i) for i in a) for a in axes if len(a)]
        seen = {i for a in listed for i in a}
        rest = [(i,) for i in range(n) if i not in seen]
        return cls(n, tuple(listed) + tuple(rest))

    @classmethod
    def from_variable_ids(cls, variable_ids: Sequence[str]) -> Structure:
        """Nodes from structural-layer variable ids: the variables ``<axis>#j`` of one axis form a node in
        increasing ``j``; any other id is a two-state node. Nodes follow the first variable of each."""
        axes: dict[str, list[tuple[int, int]]] = {}
        first: dict[str, int] = {}
        singles: list[tuple[int, tuple[int, ...]]] = []
        for i, vid in enumerate(variable_ids):
            pos = axis_position(str(vid))
            if pos is None:
                singles.append((i, (i,)))
                continue
            axis, j = pos
            axes.setdefault(axis, []).append((j, i))
            first.setdefault(axis, i)
        grouped = [(first[a], tuple(i for _, i in sorted(members))) for a, members in axes.items()]
        for a, members in axes.items():
            js = [j for j, _ in members]
            if len(set(js)) != len(js):
                raise ValueError(f"axis {a!r} lists a threshold index twice: {sorted(js)}")
        nodes = tuple(m for _, m in sorted(grouped + singles))
        return cls(len(variable_ids), nodes)

    # ------------------------------------------------------------------ basics
    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_states(self) -> int:
        return int(self.sizes.sum())

    @property
    def is_free(self) -> bool:
        return bool(np.all(self.sizes == 2))

    def axes(self) -> tuple[tuple[int, ...], ...]:
        """The nodes with more than one variable (what ``structure=`` of a model needs)."""
        return tuple(q for q in self.nodes if len(q) > 1)

    def log_states(self) -> float:
        """log of the number of feasible joint states Π_q (K_q + 1)."""
        return float(np.log(self.sizes.astype(np.float64)).sum())

    def same_as(self, other: Structure) -> bool:
        return self is other or (self.n == other.n and self.nodes == other.nodes)

    # ------------------------------------------------------------------ potentials
    def thermometer(self, X: np.ndarray) -> np.ndarray:
        """Y @ X for the stacked thermometer matrix Y (sum(sizes) × n, variables in model order): row
        (q, s) of the result is the sum of the rows of ``X`` of node q's first s variables."""
        Xp = np.asarray(X, dtype=np.float64)[self.order]
        cs = np.concatenate([np.zeros((1, *Xp.shape[1:])), np.cumsum(Xp, axis=0)], axis=0)
        return cs[self._rows_hi] - cs[self._rows_lo]

    def state_energies(self, h: np.ndarray, J: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(u, E): ``u`` (sum(sizes),) the node energies u_q(s) stacked node by node (within-node couplings
        included), ``E`` (sum(sizes), sum(sizes)) with block (q, r) = E_qr(s_q, s_r) for q ≠ r."""
        E = self.pair_energies(J)
        return self.unary_energies(h, E), E

    def pair_energies(self, J: np.ndarray) -> np.ndarray:
        A = self.thermometer(J)  # (Ns, n)
        return self.thermometer(A.T)  # Y J Yᵀ, symmetric

    def unary_energies(self, h: np.ndarray, E: np.ndarray | None = None) -> np.ndarray:
        u = self.thermometer(np.asarray(h, dtype=np.float64))
        if E is not None:
            u = u + 0.5 * np.diagonal(E)
        return u

    def node_slice(self, q: int) -> slice:
        return self.slices[q]

    @property
    def slices(self) -> tuple[slice, ...]:
        """Per node, its rows of the stacked state vector."""
        return self._slices

    def coupled_nodes(self, J: np.ndarray) -> np.ndarray:
        """(N, N) boolean: node pairs q ≠ r with a non-zero coupling between their variables."""
        nz = (np.asarray(J) != 0.0)[np.ix_(self.order, self.order)]
        starts = (self.offsets - np.arange(self.n_nodes)).astype(np.intp)  # variable starts per node
        block = np.logical_or.reduceat(np.logical_or.reduceat(nz, starts, axis=0), starts, axis=1)
        np.fill_diagonal(block, False)
        return block

    def within_node_couplings(self, J: np.ndarray) -> float:
        """Largest |J_ij| between two variables of one node (they only ever act as fields)."""
        same = self.node_of[:, None] == self.node_of[None, :]
        np.fill_diagonal(same, False)
        return float(np.max(np.abs(np.asarray(J)[same]))) if same.any() else 0.0

    # ------------------------------------------------------------------ states and variables
    def y_of_states(self, states: np.ndarray) -> np.ndarray:
        """0/1 int8 variables (m, n) of node states (m, N)."""
        states = np.asarray(states)
        return (states[:, self.node_of] >= self.position[None, :]).astype(np.int8)

    def variable_marginals(self, node_marginals: Sequence[np.ndarray]) -> np.ndarray:
        """P(y_i = 1) for every variable from node state distributions (leading batch axes allowed):
        P(y_{q,k} = 1) = P(s_q ≥ k), one vectorised tail sum over the stacked states."""
        stacked = np.concatenate([np.asarray(p, dtype=np.float64) for p in node_marginals], axis=-1)
        cs = np.cumsum(stacked, axis=-1)
        before = np.concatenate([np.zeros((*cs.shape[:-1], 1)), cs], axis=-1)  # Σ over earlier states
        ends = self.offsets + self.sizes  # one past each node's last state
        total = before[..., ends] - before[..., self.offsets]  # (…, N): each node's mass (1)
        q, k = self.node_of, self.position
        tails = total[..., q] - (before[..., self.offsets[q] + k] - before[..., self.offsets[q]])
        return np.clip(tails, 0.0, 1.0)

    # ------------------------------------------------------------------ events
    def literal_mask(self, variable: int, value: bool) -> tuple[int, np.ndarray]:
        """(node, mask) of the literal ``y_variable = value``."""
        q = int(self.node_of[variable])
        k = int(self.position[variable])
        mask = np.arange(int(self.sizes[q])) >= k
        return q, mask if value else ~mask

    def event(self, legs: Mapping[int, bool] | Iterable[tuple[int, bool]]) -> NodeEvent:
        """The conjunction of literals ``y_i = v`` as node masks."""
        items = legs.items() if isinstance(legs, Mapping) else legs
        masks: dict[int, np.ndarray] = {}
        for i, v in items:
            q, m = self.literal_mask(int(i), bool(v))
            masks[q] = masks[q] & m if q in masks else m
        return NodeEvent(masks)

    def conjunction_mask(self, literals: Iterable[tuple[int, bool]]) -> tuple[int, np.ndarray] | None:
        """(node, mask) when every literal is on one node, else None."""
        ev = self.event(literals)
        if len(ev.masks) != 1:
            return None
        ((q, m),) = ev.masks.items()
        return q, m
