"""The batched exact Ising learner against the gradient formula evaluated with IsingModel."""

from __future__ import annotations

import numpy as np
import pytest

from models.experiments.exact_ising import IsingLearner, StateSpace
from models.pricing import IsingModel


def _reference_step(h: np.ndarray, J: np.ndarray, mask: int, q: float, eta_h: float, eta_J: float,
                    max_abs_J: float) -> tuple[np.ndarray, np.ndarray, float]:
    """MISSION §2: θ ← θ − η·(p − q)/(1 − p)·(E[T | A] − E[T]); couplings only among a parlay's legs."""
    n = h.size
    legs = {j: True for j in range(n) if mask >> j & 1}
    model = IsingModel(h, J)
    p = float(model.joint_probability(legs))
    cond, base = model.conditional_moments(legs), model.moments()
    scale = (p - q) / (1.0 - p)
    h = h - eta_h * scale * (np.asarray(cond.mean) - np.asarray(base.mean))
    if len(legs) >= 2:
        d_J = scale * (np.asarray(cond.second) - np.asarray(base.second))
        keep = np.zeros((n, n), dtype=bool)
        idx = list(legs)
        keep[np.ix_(idx, idx)] = True
        np.fill_diagonal(keep, False)
        J = np.clip(J - eta_J * np.where(keep, d_J, 0.0), -max_abs_J, max_abs_J)
        np.fill_diagonal(J, 0.0)
    return h, J, p


def test_state_space_tables() -> None:
    sp = StateSpace.build(3, np.arange(1, 8))
    assert sp.dim == 3 + 3
    assert sp.member[sp.masks.tolist().index(0b101)].tolist() == [s & 0b101 == 0b101 for s in range(8)]
    # a base market moves the fields only; the parlay on legs 0 and 2 also the pair (0, 2)
    assert sp.scope[sp.masks.tolist().index(0b010)].tolist() == [True, True, True, False, False, False]
    assert sp.scope[sp.masks.tolist().index(0b101)].tolist() == [True, True, True, False, True, False]
    with pytest.raises(ValueError):
        StateSpace.build(3, np.array([0, 1]))


@pytest.mark.parametrize("n", [3, 5])
def test_learner_follows_the_gradient_formula_step_by_step(n: int) -> None:
    rng = np.random.default_rng(n)
    masks = np.arange(1, 1 << n)
    sp = StateSpace.build(n, masks)
    runs = 3
    learner = IsingLearner(sp, runs, eta_h=0.9, eta_J=0.7, max_abs_J=2.0)
    ref = [(np.zeros(n), np.zeros((n, n))) for _ in range(runs)]
    for _ in range(40):
        k = rng.integers(0, masks.size, runs)
        q = rng.uniform(0.02, 0.98, runs)
        p = learner.step(k, q)
        for r in range(runs):
            h, J, p_ref = _reference_step(*ref[r], int(masks[k[r]]), float(q[r]), 0.9, 0.7, 2.0)
            assert p[r] == pytest.approx(p_ref, abs=1e-12)
            ref[r] = (h, J)
    for r in range(runs):
        h, J = learner.fields_and_couplings(r)
        np.testing.assert_allclose(h, ref[r][0], atol=1e-10)
        np.testing.assert_allclose(J, ref[r][1], atol=1e-10)
        model = IsingModel(h, J)
        prices = learner.prices()[r]
        for i, m in enumerate(masks):
            legs = {j: True for j in range(n) if m >> j & 1}
            assert prices[i] == pytest.approx(float(model.joint_probability(legs)), abs=1e-12)
    assert np.abs(learner.theta[:, n:]).max() <= 2.0


def test_runs_of_a_batch_do_not_interact() -> None:
    sp = StateSpace.build(4, np.arange(1, 16))
    rng = np.random.default_rng(0)
    k = rng.integers(0, 15, (30, 2))
    q = rng.uniform(0.05, 0.95, (30, 2))
    both = IsingLearner(sp, 2, eta_h=1.0, eta_J=1.0)
    alone = IsingLearner(sp, 1, eta_h=1.0, eta_J=1.0)
    for t in range(30):
        both.step(k[t], q[t])
        alone.step(k[t, 1:], q[t, 1:])
    np.testing.assert_allclose(both.theta[1], alone.theta[0], atol=1e-13)
