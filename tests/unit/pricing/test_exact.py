"""Exact enumeration equals brute force; chunking, tables and sampling behave."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.pricing import InferenceConfig, IsingModel, binary_to_spins, spins_to_binary
from models.pricing import exact as exact_mod
from tests.unit.pricing.helpers import brute_force, event_mask, random_legs, random_model


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 9), seed=st.integers(0, 10_000), scale=st.sampled_from([0.3, 1.0, 3.0]))
def test_exact_inference_equals_brute_force(n: int, seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    model = random_model(rng, n, density=0.6, scale=scale)
    outcomes, p, log_z = brute_force(model)

    assert model.log_partition("exact").value == pytest.approx(log_z, abs=1e-10)
    assert model.log_partition("exact").exact
    np.testing.assert_allclose(model.marginals("exact"), outcomes.T @ p, atol=1e-12)
    np.testing.assert_allclose(model.pairwise_moments("exact"), (outcomes.T * p) @ outcomes, atol=1e-12)

    k = int(rng.integers(1, n + 1))
    legs = random_legs(rng, n, k)
    mask = event_mask(outcomes, legs)
    p_legs = p[mask].sum()
    assert float(model.joint_probability(legs, "exact")) == pytest.approx(p_legs, abs=1e-12)

    cond = model.conditional_moments(legs, "exact")
    pc = np.where(mask, p, 0.0) / p_legs
    np.testing.assert_allclose(cond.mean, outcomes.T @ pc, atol=1e-10)
    np.testing.assert_allclose(cond.second, (outcomes.T * pc) @ outcomes, atol=1e-10)
    assert cond.log_probability == pytest.approx(np.log(p_legs), abs=1e-10)


def test_reduction_path_equals_table_path() -> None:
    rng = np.random.default_rng(5)
    with_table = random_model(rng, 14, density=0.5, scale=1.0)
    no_table = IsingModel(with_table.h, with_table.J, InferenceConfig(table_max_n=0))
    for _ in range(20):
        legs = random_legs(rng, 14, int(rng.integers(1, 8)))
        assert float(no_table.joint_probability(legs, "exact")) == pytest.approx(
            float(with_table.joint_probability(legs, "exact")), rel=1e-10, abs=1e-15
        )


def test_many_small_chunks_accumulate_like_one(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    model = random_model(rng, 10, density=0.7, scale=2.0, field_scale=3.0)
    outcomes, p, log_z = brute_force(model)
    monkeypatch.setattr(exact_mod, "LOW_BITS", 3)
    monkeypatch.setattr(exact_mod, "CHUNK_ELEMENTS", 16)  # 2 high rows per chunk → 64 chunks
    summary = exact_mod.summarize(model.h, model.J, moments=True)
    assert summary.log_z == pytest.approx(log_z, abs=1e-10)
    np.testing.assert_allclose(summary.second, (outcomes.T * p) @ outcomes, atol=1e-12)
    table = exact_mod.probability_table(model.h, model.J)
    index = (outcomes * (1 << np.arange(10))).sum(axis=1).astype(int)
    np.testing.assert_allclose(table[index], p, atol=1e-14)


def test_large_energies_stay_finite() -> None:
    n = 12
    J = np.full((n, n), 40.0)
    np.fill_diagonal(J, 0.0)
    model = IsingModel(np.full(n, -200.0), J)
    m = model.marginals("exact")
    assert np.all(np.isfinite(m))
    assert np.isfinite(model.log_partition("exact").value)


def test_exact_samples_have_the_model_frequencies() -> None:
    rng = np.random.default_rng(3)
    model = random_model(rng, 4, density=1.0, scale=1.5)
    _, p, _ = brute_force(model)
    draws = model.sample(200_000, np.random.default_rng(9), method="exact")
    assert draws.shape == (200_000, 4)
    assert set(np.unique(draws)) <= {0, 1}
    index = (draws * (1 << np.arange(4))[::-1]).sum(axis=1)  # outcomes are itertools order (bit 0 first)
    freq = np.bincount(index, minlength=16) / draws.shape[0]
    sigma = np.sqrt(p * (1 - p) / draws.shape[0])
    assert np.all(np.abs(freq - p) < 5 * sigma + 1e-12)


def test_spin_conversions_preserve_energies_up_to_a_constant() -> None:
    rng = np.random.default_rng(2)
    model = random_model(rng, 6, density=0.8)
    theta, K, const = binary_to_spins(model.h, model.J)
    for x in itertools.product((0.0, 1.0), repeat=6):
        xa = np.array(x)
        s = 2 * xa - 1
        spin_energy = theta @ s + 0.5 * s @ K @ s
        assert model.energy(xa) == pytest.approx(const + spin_energy, abs=1e-10)
    h2, J2, _ = spins_to_binary(theta, K)
    np.testing.assert_allclose(h2, model.h, atol=1e-12)
    np.testing.assert_allclose(J2, model.J, atol=1e-12)
    back = IsingModel.from_spins(theta, K)
    np.testing.assert_allclose(back.marginals("exact"), model.marginals("exact"), atol=1e-12)
