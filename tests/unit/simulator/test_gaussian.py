from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal, norm

from models.simulator.gaussian import box_probability, box_probability_batch

INF = math.inf


@settings(max_examples=60, deadline=None)
@given(
    mean=st.floats(-5, 5),
    sd=st.floats(0.1, 5),
    lo=st.floats(-10, 10),
    width=st.floats(0.0, 10),
    upper_open=st.booleans(),
)
def test_single_constraint_is_a_normal_cdf(mean: float, sd: float, lo: float, width: float,
                                           upper_open: bool) -> None:
    hi = INF if upper_open else lo + width
    p = box_probability(np.array([mean]), np.array([[sd]]), np.array([[1.0]]), np.array([lo]), np.array([hi]))
    want = norm.cdf(hi, mean, sd) - norm.cdf(lo, mean, sd)
    assert p == pytest.approx(want, abs=1e-12)


def _random_problem(seed: int, k: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    d = k + int(rng.integers(0, 3))
    factor = rng.normal(size=(d, d)) + 2.0 * np.eye(d)
    mean = rng.normal(size=d)
    weights = rng.normal(size=(k, d))
    lower = np.where(rng.random(k) < 0.5, -INF, rng.normal(size=k) * 2.0)
    upper = np.where(np.isinf(lower), rng.normal(size=k) * 2.0,
                     np.where(rng.random(k) < 0.5, INF, lower + 0.5 + 2.0 * rng.random(k)))
    return mean, factor, weights, lower, upper


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(2, 4))
def test_full_rank_boxes_match_scipy(seed: int, k: int) -> None:
    mean, factor, weights, lower, upper = _random_problem(seed, k)
    cov = weights @ factor @ factor.T @ weights.T
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    # Nearly parallel legs are checked against Monte Carlo elsewhere; here the legs are well apart.
    if np.abs(corr - np.eye(k)).max() > 0.98:
        return
    want = multivariate_normal.cdf(
        upper, mean=weights @ mean, cov=cov, lower_limit=lower, abseps=1e-7, releps=1e-7,
        maxpts=2_000_000, rng=np.random.default_rng(0),
    )
    got = box_probability(mean, factor, weights, lower, upper)
    assert got == pytest.approx(want, abs=3e-4)


@pytest.mark.parametrize("seed", range(6))
def test_linearly_dependent_legs_match_monte_carlo(seed: int) -> None:
    """Four thresholds on combinations of two scores (rank 2) and three on three scores built from two
    (e.g. margin, total and a team total)."""
    rng = np.random.default_rng(100 + seed)
    d = 2
    factor = rng.normal(size=(d, d)) + np.eye(d)
    mean = rng.normal(size=d)
    weights = np.vstack([rng.normal(size=(2, d)), [[0.5, 0.5], [0.5, -0.5]]])
    lower = rng.normal(size=4) - 1.0
    upper = np.full(4, INF)
    got = box_probability(mean, factor, weights, lower, upper)
    n = 400_000
    x = mean + rng.standard_normal((n, d)) @ factor.T
    y = x @ weights.T
    freq = np.mean(np.all((y > lower) & (y <= upper), axis=1))
    tol = 5.0 * math.sqrt(max(freq * (1 - freq), 1e-6) / n) + 1e-4
    assert abs(got - freq) < tol


def test_contradictory_parallel_legs_are_exactly_zero() -> None:
    factor = np.array([[12.0, 0.0], [1.0, 18.0]])
    mean = np.array([3.0, 220.0])
    # home wins (margin > 0) and away wins (−margin > 0)
    w = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert box_probability(mean, factor, w, np.array([0.0, 0.0]), np.array([INF, INF])) == 0.0
    # two disjoint brackets of the total
    w2 = np.array([[0.0, 1.0], [0.0, 2.0]])
    p = box_probability(mean, factor, w2, np.array([200.5, 2 * 210.5]), np.array([210.5, 2 * 220.5]))
    assert p == 0.0


def test_nested_thresholds_reduce_to_the_tighter_one() -> None:
    factor = np.array([[12.0, 0.0], [1.0, 18.0]])
    mean = np.array([3.0, 220.0])
    w = np.array([[1.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    p = box_probability(mean, factor, w, np.array([1.5, 7.5, 2 * 4.5]), np.array([INF, INF, INF]))
    assert p == pytest.approx(norm.sf(7.5, 3.0, 12.0), abs=1e-12)


def test_degenerate_states_are_indicators() -> None:
    factor = np.array([[12.0, 0.0], [1.0, 18.0]])
    means = np.array([[5.0, 230.0], [-5.0, 230.0], [5.0, 210.0]])
    w = np.array([[1.0, 0.0], [0.0, 1.0]])
    got = box_probability_batch(means, factor, np.zeros(3), w, np.array([0.0, 220.5]), np.array([INF, INF]))
    assert got.tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("seed", range(5))
def test_batches_and_leg_order_do_not_change_results(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d, k, b = 5, 3 + seed % 2, 7
    factor = rng.normal(size=(d, d)) + np.eye(d)
    means = rng.normal(size=(b, d))
    scales = rng.uniform(0.2, 1.0, size=b)
    w = rng.normal(size=(k, d))
    lower = rng.normal(size=k) - 0.5
    upper = np.full(k, INF)
    batch = box_probability_batch(means, factor, scales, w, lower, upper)
    for i in range(b):
        single = box_probability_batch(means[i:i + 1], factor, scales[i:i + 1], w, lower, upper)[0]
        assert single == pytest.approx(batch[i], abs=1e-14)
        perm = rng.permutation(k)
        shuffled = box_probability_batch(means[i:i + 1], factor, scales[i:i + 1], w[perm], lower[perm],
                                         upper[perm])[0]
        assert shuffled == pytest.approx(batch[i], abs=1e-6)


@pytest.mark.parametrize(("seed", "d", "tol"), [(s, 2, 1e-6) for s in range(4)] + [(s, 4, 3e-4) for s in range(4)])
def test_complement_rule_holds(seed: int, d: int, tol: float) -> None:
    """P(A ∧ B) = P(A ∧ B ∧ C) + P(A ∧ B ∧ ¬C), the identity the fee-bias correction relies on; with
    two latent scores the three legs have rank 2 (one-dimensional quadrature, near exact), with four
    they have rank 3 (quasi–Monte Carlo)."""
    rng = np.random.default_rng(50 + seed)
    factor = rng.normal(size=(d, d)) + np.eye(d)
    mean = rng.normal(size=d)
    w = rng.normal(size=(3, d))
    t = rng.normal(size=3)
    both = box_probability(mean, factor, w, np.array([t[0], t[1], t[2]]), np.array([INF, INF, INF]))
    not_c = box_probability(mean, factor, w, np.array([t[0], t[1], -INF]), np.array([INF, INF, t[2]]))
    ab = box_probability(mean, factor, w[:2], t[:2], np.array([INF, INF]))
    assert both + not_c == pytest.approx(ab, abs=tol)
