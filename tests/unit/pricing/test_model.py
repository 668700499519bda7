"""IsingModel validation, the legs contract, method selection and result types."""

from __future__ import annotations

import numpy as np
import pytest

from models.pricing import InferenceConfig, IsingModel, Probability
from tests.unit.pricing.helpers import random_model, random_tree


def test_rejects_malformed_parameters() -> None:
    with pytest.raises(ValueError, match="symmetric"):
        IsingModel(np.zeros(2), np.array([[0.0, 1.0], [0.5, 0.0]]))
    with pytest.raises(ValueError, match="zero diagonal"):
        IsingModel(np.zeros(2), np.array([[0.1, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="shape"):
        IsingModel(np.zeros(3), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        IsingModel(np.array([0.0, np.nan]), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        IsingModel(np.zeros(2), np.array([[0.0, np.inf], [np.inf, 0.0]]))
    with pytest.raises(ValueError, match="non-empty"):
        IsingModel(np.zeros(0), np.zeros((0, 0)))


def test_parameters_are_read_only_copies() -> None:
    h = np.zeros(3)
    model = IsingModel(h, np.zeros((3, 3)))
    h[0] = 5.0
    assert model.h[0] == 0.0
    with pytest.raises(ValueError):
        model.h[0] = 1.0


def test_legs_are_validated() -> None:
    model = IsingModel(np.zeros(3), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="out of range"):
        model.joint_probability({3: True})
    with pytest.raises(TypeError, match="bool"):
        model.joint_probability({0: "yes"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="int"):
        model.joint_probability({"0": True})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="Mapping"):
        model.joint_probability([(0, True)])  # type: ignore[arg-type]


def test_empty_legs_price_one_and_probability_is_a_float() -> None:
    model = IsingModel.independent(np.array([0.2, 0.7]))
    assert model.joint_probability({}) == 1.0
    p = model.joint_probability({0: True, 1: False})
    assert isinstance(p, float) and isinstance(p, Probability)
    assert p == pytest.approx(0.2 * 0.3)
    assert p.diagnostics.exact and p.diagnostics.converged
    assert p.log_value == pytest.approx(np.log(0.06))
    assert p + 0.0 == pytest.approx(0.06)


def test_independent_model_has_the_given_marginals() -> None:
    probs = np.array([0.05, 0.5, 0.93])
    np.testing.assert_allclose(IsingModel.independent(probs).marginals(), probs, atol=1e-12)
    with pytest.raises(ValueError):
        IsingModel.independent(np.array([0.0, 0.5]))


def test_auto_uses_exact_within_the_budgets_then_bp() -> None:
    rng = np.random.default_rng(0)
    small = random_model(rng, 8)
    assert small.joint_probability({0: True}).diagnostics.method == "exact"
    tree = random_tree(rng, 30)  # treewidth 1: exact by junction tree at any size
    p = tree.joint_probability({0: True, 5: False})
    assert p.diagnostics.method == "exact" and p.diagnostics.engine == "junction-tree"
    assert p.diagnostics.max_clique == 4.0 and tree.log_partition().exact
    dense = random_model(rng, 30, density=0.9)  # a clique of ~2^27 states: beyond every exact budget
    p = dense.joint_probability({0: True, 5: False})
    assert p.diagnostics.method == "bp" and p.diagnostics.converged
    assert not dense.log_partition().exact
    cfg = InferenceConfig(exact_max_n=3, exact_limit_n=10, clique_max_states=8)
    mid = IsingModel(small.h, small.J, cfg)  # its junction tree needs a clique of 2^4 states
    assert mid.joint_probability({0: True}).diagnostics.method == "bp"
    assert mid.joint_probability({0: True}, "exact").diagnostics.engine == "junction-tree"  # one table
    with pytest.raises(ValueError, match="exact inference refused"):
        IsingModel(dense.h, dense.J, cfg).joint_probability({0: True}, "exact")
    with pytest.raises(ValueError, match="unknown inference method"):
        small.joint_probability({0: True}, "magic")  # type: ignore[arg-type]


def test_inference_config_is_validated() -> None:
    with pytest.raises(ValueError):
        InferenceConfig(exact_max_n=22, exact_limit_n=20)
    with pytest.raises(ValueError):
        InferenceConfig(table_max_n=30)
