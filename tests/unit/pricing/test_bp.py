"""Loopy BP: exact on trees, close on weakly loopy graphs, joint probabilities by clamping, cutset
conditioning, warm starts, and flagged non-convergence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.pricing import BPConfig, InferenceConfig, IsingModel, NotConvergedError
from tests.unit.pricing.helpers import frustrated_spin_glass, random_legs, random_model, random_tree


def _cfg(cutset: int, **kw: object) -> InferenceConfig:
    return InferenceConfig(bp=BPConfig(cutset=cutset, tol=1e-10, joint_tol=1e-10, **kw))  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 16), cutset=st.sampled_from([0, 2]))
def test_bp_is_exact_on_trees(seed: int, n: int, cutset: int) -> None:
    rng = np.random.default_rng(seed)
    model = random_tree(rng, n, scale=2.0, config=_cfg(cutset))
    assert model.log_partition("bp").value == pytest.approx(model.log_partition("exact").value, abs=1e-8)
    np.testing.assert_allclose(model.marginals("bp"), model.marginals("exact"), atol=1e-8)
    edges = model.J != 0
    np.testing.assert_allclose(
        model.pairwise_moments("bp")[edges], model.pairwise_moments("exact")[edges], atol=1e-8
    )
    legs = random_legs(rng, n, int(rng.integers(1, n + 1)))
    truth = float(model.joint_probability(legs, "exact"))
    assert float(model.joint_probability(legs, "bp")) == pytest.approx(truth, abs=1e-8)
    assert float(model.joint_probability(legs, "bp-chain")) == pytest.approx(truth, abs=1e-8)
    cond_bp, cond_ex = model.conditional_moments(legs, "bp"), model.conditional_moments(legs, "exact")
    np.testing.assert_allclose(cond_bp.mean, cond_ex.mean, atol=1e-8)
    np.testing.assert_allclose(cond_bp.second[edges], cond_ex.second[edges], atol=1e-8)
    assert cond_bp.log_probability == pytest.approx(cond_ex.log_probability, abs=1e-7)


@pytest.mark.parametrize("cutset", [0, 2])
def test_bp_is_close_on_small_loopy_graphs(cutset: int) -> None:
    rng = np.random.default_rng(42)
    errors_marg, errors_joint, errors_chain = [], [], []
    for _ in range(8):
        model = random_model(rng, 12, density=0.35, scale=0.4, config=_cfg(cutset))
        errors_marg.append(np.abs(model.marginals("bp") - model.marginals("exact")).max())
        for _ in range(10):
            legs = random_legs(rng, 12, int(rng.integers(2, 7)))
            truth = float(model.joint_probability(legs, "exact"))
            errors_joint.append(abs(float(model.joint_probability(legs, "bp")) - truth))
            errors_chain.append(abs(float(model.joint_probability(legs, "bp-chain")) - truth))
    assert max(errors_marg) < 5e-3
    assert max(errors_joint) < 5e-3
    assert max(errors_chain) < 5e-3


def test_cutset_repairs_symmetry_breaking_on_a_strong_ferromagnet() -> None:
    n = 10
    K = np.full((n, n), 0.5)
    np.fill_diagonal(K, 0.0)
    theta = np.zeros(n)
    plain = IsingModel.from_spins(theta, K, _cfg(0))
    conditioned = IsingModel.from_spins(theta, K, _cfg(1))
    exact = plain.marginals("exact")
    np.testing.assert_allclose(exact, 0.5, atol=1e-12)  # symmetric law
    # Plain BP from a slightly biased start settles in one magnetized phase.
    biased = plain.with_parameters(plain.h + 1e-3, plain.J)
    assert abs(biased.marginals("bp")[0] - 0.5) > 0.3
    # Conditioning on one spin mixes both phases with their weights: symmetric again.
    np.testing.assert_allclose(conditioned.marginals("bp"), 0.5, atol=1e-9)
    legs = {0: True, 1: True, 2: True}
    truth = float(plain.joint_probability(legs, "exact"))
    err_plain = abs(float(biased.joint_probability(legs, "bp")) - truth)
    err_cond = abs(float(conditioned.joint_probability(legs, "bp")) - truth)
    assert err_cond < 0.05 < err_plain


def test_warm_started_model_matches_a_cold_one() -> None:
    rng = np.random.default_rng(7)
    base = random_model(rng, 40, density=0.15, scale=0.5, config=_cfg(2))
    base.marginals("bp")
    J2 = base.J.copy()
    J2[0, 1] = J2[1, 0] = 0.7  # a new edge, as learning creates
    h2 = base.h + 0.05
    warm = base.with_parameters(h2, J2)
    cold = IsingModel(h2, J2, base.config)
    np.testing.assert_allclose(warm.marginals("bp"), cold.marginals("bp"), atol=1e-8)
    legs = random_legs(rng, 40, 6)
    assert float(warm.joint_probability(legs, "bp")) == pytest.approx(
        float(cold.joint_probability(legs, "bp")), rel=1e-7
    )
    assert warm.log_partition("bp").diagnostics.iterations <= cold.log_partition("bp").diagnostics.iterations


def test_loose_joint_tolerance_barely_moves_prices() -> None:
    rng = np.random.default_rng(8)
    model = random_model(rng, 60, density=0.15, scale=0.5)
    tight = IsingModel(model.h, model.J, InferenceConfig(bp=BPConfig(tol=1e-10, joint_tol=1e-10)))
    for _ in range(10):
        legs = random_legs(rng, 60, 8)
        assert float(model.joint_probability(legs, "bp")) == pytest.approx(
            float(tight.joint_probability(legs, "bp")), rel=1e-6, abs=1e-9
        )


def test_undamped_bp_oscillates_and_damping_retry_recovers() -> None:
    plain = frustrated_spin_glass(0, config=InferenceConfig(bp=BPConfig(cutset=0, attempts=((0.0, 200),))))
    diag = plain.log_partition("bp", strict=False).diagnostics
    assert not diag.converged and diag.max_residual > 1.0 and diag.iterations == 200

    retried = frustrated_spin_glass(0, config=InferenceConfig(bp=BPConfig(cutset=0)))
    diag = retried.log_partition("bp").diagnostics
    assert diag.converged and diag.attempts >= 2 and diag.damping > 0.0


def test_non_convergence_is_flagged_raised_or_falls_back() -> None:
    cfg = InferenceConfig(bp=BPConfig(cutset=0))
    model = frustrated_spin_glass(4, config=cfg)
    legs = {0: True, 3: False}
    with pytest.raises(NotConvergedError) as info:
        model.joint_probability(legs, "bp")
    assert not info.value.diagnostics.converged
    flagged = model.joint_probability(legs, "bp", strict=False)
    assert not flagged.diagnostics.converged
    with pytest.raises(NotConvergedError):
        model.marginals("bp")
    with pytest.raises(NotConvergedError):
        model.conditional_moments(legs, "bp")
    assert not model.log_partition("bp", strict=False).diagnostics.converged

    # "auto" on a model routed to BP (no junction tree, beyond 2^exact_max_n states) falls back to
    # enumeration when it is small enough.
    routed = IsingModel(model.h, model.J, InferenceConfig(exact_max_n=0, exact_limit_n=12, clique_max_states=0,
                                                          bp=cfg.bp))
    p = routed.joint_probability(legs)
    assert p.diagnostics.method == "exact" and p.diagnostics.fallback is not None
    assert float(p) == pytest.approx(float(model.joint_probability(legs, "exact")), abs=1e-12)
    assert routed.marginals() == pytest.approx(model.marginals("exact"))

    # No fallback available: auto raises too.
    stuck = IsingModel(model.h, model.J, InferenceConfig(exact_max_n=0, exact_limit_n=0, clique_max_states=0,
                                                         bp=cfg.bp))
    with pytest.raises(NotConvergedError):
        stuck.joint_probability(legs)


def test_gibbs_sampler_approximates_marginals() -> None:
    rng = np.random.default_rng(4)
    model = random_model(rng, 30, density=0.1, scale=0.5)
    draws = model.sample(4000, np.random.default_rng(1), method="gibbs", burn_in=60)
    target = model.marginals("bp")
    assert np.abs(draws.mean(axis=0) - target).max() < 0.04
