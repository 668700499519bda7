"""Baseline pricers: independence, Gaussian copula, pairwise (I-projection) oracle, true oracle, independent
LMSR books, and the outcome-table helpers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.special import ndtr, ndtri
from scipy.stats import multivariate_normal

from models.pricing import Contract, frechet_bounds, move_cost
from models.pricing.baselines import (
    GaussianCopula,
    IndependentLMSR,
    PairwiseOracle,
    TrueOracle,
    all_yes_probabilities,
    bivariate_normal_cdf,
    independence_price,
    nearest_correlation,
)
from tests.unit.pricing.helpers import brute_force, event_mask, random_model

probs = st.floats(0.02, 0.98)


def _legs_strategy(n: int) -> st.SearchStrategy[dict[int, bool]]:
    return st.dictionaries(st.integers(0, n - 1), st.booleans(), min_size=1, max_size=n)


def _random_corr(rng: np.random.Generator, n: int, rank: int | None = None) -> np.ndarray:
    a = rng.normal(size=(n, rank or n))
    c = a @ a.T + 1e-9 * np.eye(n)
    d = np.sqrt(np.diag(c))
    return c / np.outer(d, d)


# ----------------------------------------------------------------------------- independence
@settings(max_examples=60, deadline=None)
@given(p=st.lists(probs, min_size=1, max_size=8), data=st.data())
def test_independence_price_is_the_product_of_own_side_probabilities(
    p: list[float], data: st.DataObject
) -> None:
    sides = data.draw(st.lists(st.booleans(), min_size=len(p), max_size=len(p)))
    expected = 1.0
    for pi, s in zip(p, sides, strict=True):
        expected *= pi if s else 1.0 - pi
    assert independence_price(p, sides) == pytest.approx(expected, rel=1e-12, abs=1e-300)
    legs = data.draw(_legs_strategy(len(p)))
    by_map = math.prod(p[i] if s else 1.0 - p[i] for i, s in legs.items())
    assert independence_price(p, legs) == pytest.approx(by_map, rel=1e-12, abs=1e-300)


def test_independence_price_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        independence_price([0.5, 1.5], [True, True])
    with pytest.raises(ValueError):
        independence_price([0.5, 0.5], [True])
    with pytest.raises(ValueError):
        independence_price([0.5, 0.5], {3: True})


# ----------------------------------------------------------------------------- bivariate normal
@settings(max_examples=80, deadline=None)
@given(h=st.floats(-4, 4), k=st.floats(-4, 4), rho=st.floats(-0.99, 0.99))
def test_bivariate_closed_form_matches_scipy(h: float, k: float, rho: float) -> None:
    ref = multivariate_normal.cdf([h, k], mean=[0.0, 0.0], cov=[[1.0, rho], [rho, 1.0]])
    assert bivariate_normal_cdf(h, k, rho) == pytest.approx(float(ref), abs=1e-9)


def test_bivariate_closed_form_special_points() -> None:
    for rho in (-0.7, 0.0, 0.3, 0.95):
        assert bivariate_normal_cdf(0.0, 0.0, rho) == pytest.approx(0.25 + math.asin(rho) / (2 * math.pi))
        # h = 0 or k = 0 goes through the T(0, ±∞) = ±¼ limit; compare with Plackett's integral.
        for h, k in ((0.0, 0.8), (0.0, -0.8), (1.1, 0.0), (-1.1, 0.0)):
            plackett = ndtr(h) * ndtr(k) + integrate.quad(
                lambda r, h=h, k=k: math.exp(-(h * h - 2 * r * h * k + k * k) / (2 * (1 - r * r)))
                / (2 * math.pi * math.sqrt(1 - r * r)), 0.0, rho)[0]
            assert bivariate_normal_cdf(h, k, rho) == pytest.approx(plackett, abs=1e-10)
    assert bivariate_normal_cdf(0.3, -0.2, 1.0) == pytest.approx(float(ndtr(-0.2)))
    assert bivariate_normal_cdf(0.3, -0.2, -1.0) == pytest.approx(max(0.0, float(ndtr(0.3) + ndtr(-0.2) - 1)))
    # Tiny arguments of opposite sign (h·k underflows to 0): still the h = k = 0 value.
    assert bivariate_normal_cdf(4.3e-255, -4.3e-255, 0.0) == pytest.approx(0.25)
    assert bivariate_normal_cdf(-math.inf, 0.5, 0.2) == 0.0
    assert bivariate_normal_cdf(math.inf, 0.5, 0.2) == pytest.approx(float(ndtr(0.5)))
    with pytest.raises(ValueError):
        bivariate_normal_cdf(0.0, 0.0, 1.5)


# ----------------------------------------------------------------------------- Gaussian copula
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 7), data=st.data())
def test_copula_with_identity_correlation_is_independence(n: int, data: st.DataObject) -> None:
    p = np.array(data.draw(st.lists(probs, min_size=n, max_size=n)))
    legs = data.draw(_legs_strategy(n))
    cop = GaussianCopula(np.eye(n))
    assert cop.joint_probability(p, legs) == pytest.approx(independence_price(p, legs), abs=1e-12)
    table = cop.table(p)
    idx = np.arange(1 << n)
    bits = (idx[:, None] >> np.arange(n)) & 1
    product = np.prod(np.where(bits == 1, p, 1.0 - p), axis=1)
    np.testing.assert_allclose(table, product, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(p1=probs, p2=probs, rho=st.floats(-0.95, 0.95), s1=st.booleans(), s2=st.booleans())
def test_copula_two_legs_equal_scipy_bivariate_cdf(
    p1: float, p2: float, rho: float, s1: bool, s2: bool
) -> None:
    cop = GaussianCopula(np.array([[1.0, rho], [rho, 1.0]]))
    sign = np.array([1.0 if s1 else -1.0, 1.0 if s2 else -1.0])
    z = sign * ndtri(np.array([p1, p2]))
    r = sign[0] * sign[1] * rho
    ref = float(multivariate_normal.cdf(z, mean=[0.0, 0.0], cov=[[1.0, r], [r, 1.0]]))
    lower, upper = frechet_bounds([p1 if s1 else 1 - p1, p2 if s2 else 1 - p2])
    price = cop.joint_probability([p1, p2], {0: s1, 1: s2})
    assert price == pytest.approx(min(max(ref, lower), upper), abs=1e-9)
    # Sequence-of-pairs form gives the same number.
    assert cop.joint_probability([p1, p2], [(1, s2), (0, s1)]) == price


def _one_factor_reference(p: np.ndarray, loadings: np.ndarray, legs: dict[int, bool]) -> float:
    """P(legs) for Z_i = λ_i F + √(1 − λ_i²) ε_i, leg YES iff Z_i ≤ Φ⁻¹(p_i), by adaptive quadrature."""
    def integrand(f: float) -> float:
        out = math.exp(-0.5 * f * f) / math.sqrt(2 * math.pi)
        for i, yes in legs.items():
            c = float(ndtr((ndtri(p[i]) - loadings[i] * f) / math.sqrt(1 - loadings[i] ** 2)))
            out *= c if yes else 1.0 - c
        return out

    return integrate.quad(integrand, -10, 10, epsabs=1e-13, limit=200)[0]


def test_copula_three_or_more_legs_match_a_one_factor_integral() -> None:
    rng = np.random.default_rng(3)
    for trial in range(6):
        n = 5
        p = rng.uniform(0.1, 0.9, n)
        chosen = rng.choice(n, size=int(rng.integers(3, 6)), replace=False)
        legs = {int(i): bool(rng.random() < 0.6) for i in chosen}
        # Common ρ: the quadrature path.
        rho = float(rng.uniform(0.0, 0.9))
        eq = GaussianCopula.equicorrelated(n, rho)
        assert eq.joint_probability(p, legs) == pytest.approx(
            _one_factor_reference(p, np.full(n, math.sqrt(rho)), legs), abs=1e-9)
        # Distinct loadings: correlation λ_i λ_j is not one common value, so scipy's integration is used.
        lam = rng.uniform(-0.8, 0.9, n)
        corr = np.outer(lam, lam)
        np.fill_diagonal(corr, 1.0)
        cop = GaussianCopula(corr, seed=trial)
        assert not cop.repaired
        assert cop.joint_probability(p, legs) == pytest.approx(_one_factor_reference(p, lam, legs), abs=2e-5)


def test_copula_is_deterministic_for_a_fixed_seed() -> None:
    rng = np.random.default_rng(5)
    corr = _random_corr(rng, 6)
    p = rng.uniform(0.2, 0.8, 6)
    legs = {0: True, 2: False, 3: True, 5: True}
    a = GaussianCopula(corr, seed=11).joint_probability(p, legs)
    b = GaussianCopula(corr, seed=11).joint_probability(p, legs)
    assert a == b


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 6), rank=st.integers(1, 6), data=st.data())
def test_copula_quotes_lie_within_frechet_bounds(seed: int, n: int, rank: int, data: st.DataObject) -> None:
    rng = np.random.default_rng(seed)
    corr = _random_corr(rng, n, min(rank, n))
    p = np.array(data.draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    legs = data.draw(st.dictionaries(st.integers(0, n - 1), st.booleans(), min_size=1, max_size=min(n, 4)))
    cop = GaussianCopula(corr, seed=seed)
    price = cop.joint_probability(p, legs)
    clipped = np.clip(p, cop.eps, 1 - cop.eps)
    lower, upper = frechet_bounds([clipped[i] if s else 1 - clipped[i] for i, s in legs.items()])
    assert lower <= price <= upper


def test_copula_table_is_a_distribution_and_agrees_with_joint_probabilities() -> None:
    rng = np.random.default_rng(8)
    p = rng.uniform(0.15, 0.85, 4)
    for cop in (GaussianCopula.equicorrelated(4, 0.6), GaussianCopula(_random_corr(rng, 4), seed=1)):
        table = cop.table(p)
        assert table.min() >= 0.0
        assert table.sum() == pytest.approx(1.0)
        outcomes = np.array(list(itertools.product((0.0, 1.0), repeat=4)))[:, ::-1]  # row r = bits of r
        cases = ({0: True}, {1: False, 3: True}, {0: True, 1: True, 2: False},
                 {0: False, 1: True, 2: True, 3: False})
        for legs in cases:
            mass = float(table[event_mask(outcomes, legs)].sum())
            assert mass == pytest.approx(cop.joint_probability(p, legs), abs=5e-5)
        all_yes = all_yes_probabilities(table)
        assert all_yes[0b0101] == pytest.approx(cop.joint_probability(p, {0: True, 2: True}), abs=5e-5)


def test_nearest_correlation_repairs_and_leaves_valid_matrices_alone() -> None:
    rng = np.random.default_rng(2)
    valid = _random_corr(rng, 5)
    np.testing.assert_allclose(nearest_correlation(valid), valid, atol=1e-9)
    cop = GaussianCopula(valid)
    assert not cop.repaired
    bad = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])  # indefinite
    fixed = nearest_correlation(bad)
    assert np.linalg.eigvalsh(fixed).min() > 0.0
    np.testing.assert_allclose(np.diag(fixed), 1.0)
    np.testing.assert_allclose(fixed, fixed.T)
    assert np.abs(fixed - bad).max() < 0.5
    repaired = GaussianCopula(bad)
    assert repaired.repaired
    np.testing.assert_allclose(repaired.corr, fixed)
    p = [0.4, 0.5, 0.6]
    price = repaired.joint_probability(p, {0: True, 1: True, 2: True})
    assert 0.0 <= price <= 0.4
    with pytest.raises(ValueError):
        GaussianCopula(np.ones((2, 3)))
    with pytest.raises(ValueError):
        GaussianCopula(np.eye(3)).joint_probability([0.5, 0.5], {0: True})


def test_copula_clips_degenerate_marginals() -> None:
    cop = GaussianCopula.equicorrelated(3, 0.4, eps=1e-6)
    price = cop.joint_probability([0.0, 1.0, 0.5], {0: True, 1: True, 2: True})
    assert 0.0 <= price <= 1e-6


# ----------------------------------------------------------------------------- pairwise oracle
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 7))
def test_pairwise_oracle_recovers_an_ising_law_from_its_moments(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    truth = random_model(rng, n, density=0.7, scale=1.0)
    oracle = PairwiseOracle.fit(truth.marginals(), truth.pairwise_moments())
    fitted = oracle.model
    assert oracle.max_moment_error <= 1e-10
    np.testing.assert_allclose(fitted.marginals(), truth.marginals(), atol=1e-9)
    np.testing.assert_allclose(fitted.pairwise_moments(), truth.pairwise_moments(), atol=1e-9)
    # The I-projection of a pairwise law is that law itself.
    np.testing.assert_allclose(fitted.h, truth.h, atol=1e-5)
    np.testing.assert_allclose(fitted.J, truth.J, atol=1e-5)


def test_pairwise_oracle_reproduces_gaussian_moments_and_is_fixed() -> None:
    rng = np.random.default_rng(4)
    p = rng.uniform(0.25, 0.75, 6)
    table = GaussianCopula.equicorrelated(6, 0.5).table(p)
    oracle = PairwiseOracle.from_table(table)
    outcomes, probs_, _ = brute_force(oracle.model)
    for i in range(6):
        assert float(probs_[outcomes[:, i] == 1].sum()) == pytest.approx(p[i], abs=1e-8)
    pair = all_yes_probabilities(table)
    for i, j in itertools.combinations(range(6), 2):
        expected = pair[(1 << i) | (1 << j)]
        assert oracle.joint_probability({i: True, j: True}) == pytest.approx(expected, abs=1e-8)
    assert oracle.table().sum() == pytest.approx(1.0)
    # Higher-order contracts are approximated, not matched: the pairwise family is not the Gaussian copula.
    triple = oracle.joint_probability({0: True, 1: True, 2: True})
    assert abs(triple - pair[0b111]) < 0.02
    warm = PairwiseOracle.from_table(table, start=oracle.model)
    assert warm.iterations <= 1


def test_pairwise_oracle_rejects_unreachable_targets() -> None:
    with pytest.raises(ValueError):
        PairwiseOracle.fit([0.5, 1.0], np.array([[0.5, 0.5], [0.5, 1.0]]))
    with pytest.raises(ValueError):  # E[x0 x1] at its Fréchet upper bound
        PairwiseOracle.fit([0.5, 0.4], np.array([[0.5, 0.4], [0.4, 0.4]]))
    with pytest.raises(ValueError):
        PairwiseOracle.fit([0.5, 0.4], np.zeros((3, 3)))


# ----------------------------------------------------------------------------- true oracle
def test_true_oracle_is_the_threshold_law_of_its_gaussian() -> None:
    mean = np.array([0.3, -0.2, 0.5])
    cov = np.array([[1.0, 0.4, 0.2], [0.4, 2.0, -0.3], [0.2, -0.3, 0.5]])
    thr = np.array([0.0, 0.1, 0.9])
    oracle = TrueOracle(mean, cov, thr)
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(oracle.marginals(), ndtr((mean - thr) / sd))
    # P(X0 > c0, X1 ≤ c1) directly from the bivariate normal of (X0, X1).
    sub = cov[:2, :2]
    lower = multivariate_normal.cdf([-thr[0], thr[1]], mean=[-mean[0], mean[1]],
                                    cov=sub * np.outer([-1, 1], [-1, 1]))
    assert oracle.joint_probability({0: True, 1: False}) == pytest.approx(float(lower), abs=1e-8)
    table = oracle.table()
    assert table.sum() == pytest.approx(1.0)
    assert all_yes_probabilities(table)[0b111] == pytest.approx(
        oracle.joint_probability([(0, True), (1, True), (2, True)]), abs=5e-5)


def test_true_oracle_brownian_conditioning() -> None:
    cov_rate = np.array([[1.0, 0.5], [0.5, 1.0]])
    thr = np.array([0.2, -0.1])
    now = np.array([0.4, -0.6])
    oracle = TrueOracle.brownian(now, 0.75, thr, cov_rate, drift=np.array([0.2, 0.0]))
    np.testing.assert_allclose(oracle.mean, now + 0.25 * np.array([0.2, 0.0]))
    np.testing.assert_allclose(oracle.cov, 0.25 * cov_rate)
    np.testing.assert_allclose(oracle.marginals(), ndtr((oracle.mean - thr) / 0.5))
    with pytest.raises(ValueError):
        TrueOracle.brownian(now, 1.0, thr, cov_rate)


# ----------------------------------------------------------------------------- independent books
def test_independent_lmsr_moves_only_the_traded_book_and_settles_its_trades() -> None:
    books = IndependentLMSR(b=10.0, prior=lambda c: 0.5 ** len(c.legs))
    a = Contract.of({0: True})
    ab = Contract.of({0: True, 1: True})
    assert books.price(ab) == pytest.approx(0.25)
    t1 = books.trade(a, 0.7)
    assert books.price(a) == pytest.approx(0.7)
    assert books.price(ab) == pytest.approx(0.25)
    t2 = books.trade(ab, 0.4)
    t3 = books.trade(a, 0.6)
    assert t1.cost == pytest.approx(move_cost(0.5, 0.7, 10.0))
    assert t3.cost == pytest.approx(move_cost(0.7, 0.6, 10.0))
    # Outcome x0 = 1, x1 = 0: the YES shares of a pay, the NO shares of a pay nothing, ab pays NO.
    paid = t1.shares + 0.0 + 0.0
    collected = t1.cost + t2.cost + t3.cost
    assert books.settle({0: True, 1: False}) == pytest.approx(paid - collected)
    assert books.settle([True, False]) == pytest.approx(paid - collected)
    # Each trade's loss is the log-score improvement b·ln(q/p) (YES) or b·ln((1 − q)/(1 − p)) (NO).
    by_score = 10.0 * (math.log(0.7 / 0.5) + math.log(0.6 / 0.7) + math.log((1 - 0.4) / (1 - 0.25)))
    assert books.settle({0: True, 1: False}) == pytest.approx(by_score)
