"""The Ising law on feasible states (nested thresholds), checked against brute force over feasible states.

Brute force here enumerates node states with itertools and sums h·y + Σ_{i<j} J_ij y_i y_j with plain
loops: it shares nothing with the engine (no cumulative sums, no junction tree)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.pricing import InferenceConfig, IsingModel, LearnerConfig, OnlineLearner, ce_gradient, cross_entropy
from models.pricing.learning import CouplingBudget, sgd_step
from models.pricing.structure import NodeEvent, Structure


def structured_model(rng: np.random.Generator, axes: list[int], density: float = 0.6, scale: float = 1.0,
                     config: InferenceConfig | None = None) -> IsingModel:
    """Nodes of the given threshold counts (1 = a free binary), random fields, random couplings between
    variables of different nodes only (within-node couplings are not part of the family)."""
    nodes, i = [], 0
    for k in axes:
        nodes.append(tuple(range(i, i + k)))
        i += k
    n = i
    structure = Structure(n, tuple(nodes))
    J = np.triu(rng.normal(0.0, scale, (n, n)) * (rng.random((n, n)) < density), 1)
    J[structure.node_of[:, None] == structure.node_of[None, :]] = 0.0
    J = J + J.T
    return IsingModel(rng.normal(0.0, 1.0, n), J, config or InferenceConfig(), structure)


def feasible(model: IsingModel) -> tuple[np.ndarray, np.ndarray]:
    """(every feasible y (m, n), its probability) by plain enumeration."""
    st = model.nodes
    ys, energies = [], []
    for states in itertools.product(*[range(int(s)) for s in st.sizes]):
        y = [0.0] * st.n
        for q, members in enumerate(st.nodes):
            for k, i in enumerate(members, start=1):
                y[i] = 1.0 if states[q] >= k else 0.0
        e = sum(model.h[i] * y[i] for i in range(st.n))
        e += sum(model.J[i, j] * y[i] * y[j] for i in range(st.n) for j in range(i + 1, st.n))
        ys.append(y)
        energies.append(e)
    energy = np.array(energies)
    w = np.exp(energy - energy.max())
    return np.array(ys), w / w.sum()


def hits(ys: np.ndarray, legs: dict[int, bool]) -> np.ndarray:
    ok = np.ones(ys.shape[0], dtype=bool)
    for i, v in legs.items():
        ok &= ys[:, i] == float(v)
    return ok


axes_strategy = st.lists(st.integers(1, 4), min_size=2, max_size=5)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), axes=axes_strategy)
def test_joint_probabilities_equal_brute_force_over_feasible_states(seed: int, axes: list[int]) -> None:
    rng = np.random.default_rng(seed)
    model = structured_model(rng, axes)
    ys, p = feasible(model)
    for _ in range(6):
        k = int(rng.integers(1, min(model.n, 6) + 1))
        legs = {int(i): bool(rng.random() < 0.5) for i in rng.choice(model.n, size=k, replace=False)}
        truth = float(p[hits(ys, legs)].sum())
        got = float(model.joint_probability(legs, "exact"))
        if truth == 0.0:
            assert got == 0.0  # an impossible combination is exactly 0
        else:
            assert got == pytest.approx(truth, rel=1e-9, abs=1e-12)
    assert model.log_partition("exact").exact


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), axes=axes_strategy)
def test_moments_and_conditional_moments_equal_brute_force(seed: int, axes: list[int]) -> None:
    rng = np.random.default_rng(seed)
    model = structured_model(rng, axes)
    ys, p = feasible(model)
    m = model.moments("exact")
    np.testing.assert_allclose(m.mean, ys.T @ p, atol=1e-12)
    np.testing.assert_allclose(m.second, ys.T @ (ys * p[:, None]), atol=1e-12)
    np.testing.assert_allclose(model.marginals(), ys.T @ p, atol=1e-12)
    i, j = (int(x) for x in rng.choice(model.n, size=2, replace=False))
    legs = {i: True, j: bool(rng.random() < 0.5)}
    sel = hits(ys, legs)
    if not sel.any():
        with pytest.raises(ValueError, match="impossible"):
            model.conditional_moments(legs, "exact")
        return
    pc = np.where(sel, p, 0.0) / p[sel].sum()
    c = model.conditional_moments(legs, "exact")
    np.testing.assert_allclose(c.mean, ys.T @ pc, atol=1e-12)
    np.testing.assert_allclose(c.second, ys.T @ (ys * pc[:, None]), atol=1e-12)
    assert np.exp(c.log_probability) == pytest.approx(p[sel].sum(), rel=1e-10)


def test_node_events_and_masks() -> None:
    rng = np.random.default_rng(3)
    model = structured_model(rng, [4, 3, 1])
    ys, p = feasible(model)
    st_ = model.nodes
    # a bracket (cells 2 and 3 of node 0) and NO on it, and a two-run mask on node 1
    states0 = ys[:, :4].sum(axis=1)
    states1 = ys[:, 4:7].sum(axis=1)
    bracket = NodeEvent({0: np.array([False, False, True, True, False])})
    no_bracket = NodeEvent({0: ~bracket.masks[0]})
    both = NodeEvent({0: bracket.masks[0], 1: np.array([True, False, False, True])})
    assert float(model.probability(bracket)) == pytest.approx(p[np.isin(states0, [2, 3])].sum(), rel=1e-12)
    assert float(model.probability(no_bracket)) + float(model.probability(bracket)) == pytest.approx(1.0, abs=1e-14)
    truth = p[np.isin(states0, [2, 3]) & np.isin(states1, [0, 3])].sum()
    assert float(model.probability(both)) == pytest.approx(truth, rel=1e-12)
    assert float(model.probability(NodeEvent({0: np.zeros(5, dtype=bool)}))) == 0.0
    # literals: y_{0,3} ⇒ y_{0,1}; "over the 3rd ∧ not over the 1st" is empty
    assert st_.event({2: True, 0: False}).empty
    assert float(model.joint_probability({2: True, 0: False})) == 0.0
    assert float(model.joint_probability({2: True, 0: True})) == pytest.approx(
        float(model.joint_probability({2: True})), abs=1e-15)


def test_mixed_structured_and_free_binary_cluster_and_its_variable_ids() -> None:
    ids = ["G:margin#2", "G:home_win", "G:margin#1", "G:total#1", "G:margin#3", "G:total#2", "G:x"]
    st_ = Structure.from_variable_ids(ids)
    assert st_.nodes == ((2, 0, 4), (1,), (3, 5), (6,))  # an axis in threshold order, free binaries apart
    rng = np.random.default_rng(8)
    n = len(ids)
    J = np.triu(rng.normal(0.0, 1.0, (n, n)), 1)
    J[st_.node_of[:, None] == st_.node_of[None, :]] = 0.0
    model = IsingModel(rng.normal(0.0, 1.0, n), J + J.T, InferenceConfig(), st_)
    ys, p = feasible(model)
    assert np.all(ys[:, 0] <= ys[:, 2]) and np.all(ys[:, 4] <= ys[:, 0])  # margin#3 ⇒ #2 ⇒ #1
    for legs in ({0: True, 1: False}, {4: True, 3: False, 6: True}, {2: False, 5: True}, {0: True, 2: False}):
        assert float(model.joint_probability(legs)) == pytest.approx(float(p[hits(ys, legs)].sum()), abs=1e-13)


def _loss(model: IsingModel, h: np.ndarray, J: np.ndarray, legs: dict[int, bool], q: float) -> float:
    return cross_entropy(q, float(IsingModel(h, J, model.config, model.nodes).joint_probability(legs, "exact")))


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), q=st.floats(0.05, 0.95))
def test_learning_gradient_equals_finite_differences_on_the_constrained_law(seed: int, q: float) -> None:
    rng = np.random.default_rng(seed)
    model = structured_model(rng, [3, 2, 1, 2], density=0.7)
    st_ = model.nodes
    ys, p = feasible(model)
    legs = {}
    while not legs or p[hits(ys, legs)].sum() == 0.0:
        k = int(rng.integers(1, 4))
        legs = {int(i): bool(rng.random() < 0.6) for i in rng.choice(model.n, size=k, replace=False)}
    grad = ce_gradient(model, legs, q, couplings="all", fields="all", method="exact")
    eps = 1e-5
    for i in range(model.n):
        e = np.zeros(model.n)
        e[i] = eps
        fd = (_loss(model, model.h + e, model.J, legs, q) - _loss(model, model.h - e, model.J, legs, q)) / (2 * eps)
        assert grad.d_h[i] == pytest.approx(fd, abs=1e-6)
    for i, j in itertools.combinations(range(model.n), 2):
        if st_.node_of[i] == st_.node_of[j]:
            assert grad.d_J[i, j] == 0.0  # within a node: not a parameter of the family
            continue
        E = np.zeros((model.n, model.n))
        E[i, j] = E[j, i] = eps
        fd = (_loss(model, model.h, model.J + E, legs, q) - _loss(model, model.h, model.J - E, legs, q)) / (2 * eps)
        assert grad.d_J[i, j] == pytest.approx(fd, abs=1e-6)
    # the "legs" scope takes exactly the legs' cross-node coordinates of the full gradient
    scoped = ce_gradient(model, legs, q, couplings="legs", fields="nodes", method="exact")
    idx = sorted(legs)
    for i, j in itertools.combinations(idx, 2):
        assert scoped.d_J[i, j] == pytest.approx(grad.d_J[i, j], abs=1e-13)
    touched = {int(st_.node_of[i]) for i in idx}
    for i in range(model.n):
        expect = grad.d_h[i] if st_.node_of[i] in touched else 0.0
        assert scoped.d_h[i] == pytest.approx(expect, abs=1e-13)


def test_exact_samples_follow_the_constrained_law() -> None:
    rng = np.random.default_rng(11)
    model = structured_model(rng, [3, 2, 1, 3, 1])
    ys, p = feasible(model)
    draws = model.sample(40_000, np.random.default_rng(5))
    assert np.all(model.feasible(draws))
    keys = {tuple(row): k for k, row in enumerate(ys.astype(np.int8).tolist())}
    counts = np.bincount([keys[tuple(r)] for r in draws.tolist()], minlength=len(p))
    freq = counts / counts.sum()
    sd = np.sqrt(p * (1 - p) / counts.sum())
    assert np.all(np.abs(freq - p) <= 5 * sd + 1e-4)


def test_junction_tree_enumeration_and_table_agree() -> None:
    rng = np.random.default_rng(2)
    model = structured_model(rng, [3, 2, 2, 1, 3, 2], density=0.9)
    jt = IsingModel(model.h, model.J, InferenceConfig(), model.nodes)
    table = IsingModel(model.h, model.J, InferenceConfig(clique_max_states=2), model.nodes)
    enum = IsingModel(model.h, model.J, InferenceConfig(clique_max_states=2, table_max_n=0), model.nodes)
    assert jt.engine().plan.max_clique_states < 1000 and not jt.engine().plan.enumerated
    assert not table.engine().plan.enumerated and table.engine().plan.oversized_states > 0
    assert enum.engine().plan.enumerated
    for legs in ({0: True, 4: False}, {1: True, 9: True, 12: False}, {7: False}):
        ref = float(jt.joint_probability(legs, "exact"))
        assert float(table.joint_probability(legs, "exact")) == pytest.approx(ref, rel=1e-11)
        assert float(enum.joint_probability(legs, "exact")) == pytest.approx(ref, rel=1e-11)
    np.testing.assert_allclose(enum.moments("exact").second, jt.moments("exact").second, atol=1e-12)
    draws = enum.sample(20_000, np.random.default_rng(0))
    assert np.abs(draws.mean(axis=0) - jt.marginals()).max() < 0.02 and np.all(enum.feasible(draws))


def test_derived_models_reuse_only_untouched_messages() -> None:
    rng = np.random.default_rng(4)
    model = structured_model(rng, [3, 2, 2, 1, 3, 2, 1], density=0.4)
    legs = {0: True, 5: False, 11: True}
    model.joint_probability(legs)
    model.node_marginals()
    h = np.array(model.h)
    h[7] += 0.8  # one node's fields
    J = np.array(model.J)
    derived = model.with_parameters(h, model.J)
    fresh = IsingModel(h, model.J, model.config, model.nodes)
    assert float(derived.joint_probability(legs)) == pytest.approx(float(fresh.joint_probability(legs)), rel=1e-12)
    np.testing.assert_allclose(derived.marginals(), fresh.marginals(), atol=1e-13)
    J[0, 5] = J[5, 0] = J[0, 5] + 0.5
    derived2 = derived.with_parameters(h, J)
    fresh2 = IsingModel(h, J, model.config, model.nodes)
    np.testing.assert_allclose(derived2.moments().second, fresh2.moments().second, atol=1e-13)


def test_bp_refuses_structured_models_and_auto_never_returns_an_unflagged_approximation() -> None:
    rng = np.random.default_rng(1)
    model = structured_model(rng, [3, 2])
    with pytest.raises(ValueError, match="structured"):
        model.joint_probability({0: True}, "bp")
    tiny = IsingModel(model.h, model.J, InferenceConfig(clique_max_states=0, exact_max_n=0, exact_limit_n=0),
                      model.nodes)
    from models.pricing import NotConvergedError

    with pytest.raises(NotConvergedError):
        tiny.joint_probability({0: True})


def test_coupling_budget_refuses_pairs_that_would_break_the_junction_tree_budget() -> None:
    # two hubs of 8 states and six 3-state nodes: hub × hub × node = 192 states fits 200, two minor nodes more
    axes = [7, 7, 2, 2, 2, 2, 2, 2]
    rng = np.random.default_rng(0)
    model = structured_model(rng, axes, density=0.0)
    budget = CouplingBudget(model.nodes, 200.0, hub_nodes=2)
    assert budget.hubs == (0, 1)
    first = lambda q: model.nodes.nodes[q][0]  # noqa: E731
    assert budget.check(model, [first(0), first(3)]) == frozenset()  # reserved hub pair
    assert budget.check(model, [first(2), first(3)]) == frozenset({(2, 3)})  # 8·8·3·3 > 200
    learner = OnlineLearner(model, LearnerConfig(eta_J=1.0, max_clique_states=200.0))
    learner.observe({first(2): True, first(3): True, first(0): True}, 0.3, trade=False)
    J = learner.model.J
    a, b = model.nodes.nodes[2], model.nodes.nodes[3]
    assert np.all(J[np.ix_(a, b)] == 0.0)  # refused: no coupling
    assert np.any(J[np.ix_(model.nodes.nodes[0], a)] != 0.0)  # the hub pair learned
    assert learner.refused_pairs == frozenset({(2, 3)})
    assert learner.model.engine().plan.max_clique_states <= 200.0


def test_fields_scope_nodes_moves_only_the_observed_node() -> None:
    rng = np.random.default_rng(6)
    model = structured_model(rng, [3, 2, 2], density=0.8)
    cfg = LearnerConfig(eta_h=1.0, fields="all", base_fields="nodes")
    new, grad = sgd_step(model, {1: True}, 0.9, cfg)
    moved = np.flatnonzero(new.h != model.h)
    assert set(moved.tolist()) <= set(model.nodes.nodes[0]) and moved.size > 0
    assert grad.price == pytest.approx(float(model.joint_probability({1: True})), rel=1e-12)


def test_a_batch_of_observations_on_one_node_is_exactly_the_sequential_updates() -> None:
    rng = np.random.default_rng(9)
    model = structured_model(rng, [4, 2, 3], density=0.7)
    cfg = LearnerConfig(eta_h=1.5, base_fields="nodes", lazy_books=True)
    items = [({0: True}, 0.8), ({2: True}, 0.3), ({1: True, 3: False}, 0.25), ({0: True}, 0.7)]  # node 0 only
    seq = OnlineLearner(model, cfg)
    seq_results = [seq.observe(legs, q) for legs, q in items]
    batch = OnlineLearner(model, cfg)
    batch_results = batch.observe_batch(items)
    np.testing.assert_allclose(batch.model.h, seq.model.h, atol=1e-12)
    for a, b in zip(seq_results, batch_results, strict=True):
        assert b.price_before == pytest.approx(a.price_before, abs=1e-12)
        assert b.price_after == pytest.approx(a.price_after, abs=1e-12)
        assert b.real_trade.cost == pytest.approx(a.real_trade.cost, abs=1e-9)
    # on different nodes the batch starts every node from the batch's model (a Jacobi step)
    two = [({0: True}, 0.8), ({4: True}, 0.2)]
    jac = OnlineLearner(model, cfg).observe_batch(two)
    assert jac[1].price_before == pytest.approx(float(model.joint_probability({4: True})), abs=1e-12)
