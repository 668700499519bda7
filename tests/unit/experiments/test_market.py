"""The synthetic market: configuration, determinism and common random numbers, and the exact truth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.special import expit, logit, ndtr

from models.experiments.market import DEFAULT_HORIZON, MarketConfig, MarketRun
from models.pricing.baselines import bivariate_normal_cdf


def test_the_default_setting_is_the_papers_moving_truth() -> None:
    """Issue 9: every experiment ran with horizon 0 (one fixed law), not the paper's score process."""
    cfg = MarketConfig()
    assert DEFAULT_HORIZON > 0.0 and cfg.horizon == DEFAULT_HORIZON
    assert not cfg.static and "Brownian" in cfg.setting
    static = MarketConfig(horizon=0.0)
    assert static.static and "static truth" in static.setting


def test_the_truth_moves_with_a_positive_horizon_and_is_fixed_when_static() -> None:
    moving = MarketRun.generate(MarketConfig(n=4, rounds=200), 2, 0)
    every = np.arange(0, 201, 20)
    prices = moving.truth_prices(every)
    assert np.all(np.abs(np.diff(prices, axis=0)).max(axis=1) > 1e-4)  # moves between every pair of marks
    assert np.abs(prices[-1] - prices[0]).max() > 0.05
    static = MarketRun.generate(MarketConfig(n=4, rounds=200, horizon=0.0), 2, 0)
    fixed = static.truth_prices(every)
    np.testing.assert_array_equal(fixed, np.broadcast_to(fixed[0], fixed.shape))
    np.testing.assert_array_equal(static.thresholds, moving.thresholds)  # same market, only time differs


def test_config_validation() -> None:
    for bad in ({"rho": 1.0}, {"rho": -0.1}, {"noise": 1.5}, {"regime": "parlays"}, {"horizon": 1.0},
                {"rounds": 0}, {"n": 0}, {"marginal_range": (0.0, 0.5)}, {"b": 0.0}):
        with pytest.raises(ValueError):
            MarketConfig(**bad)  # type: ignore[arg-type]


def test_contract_sets() -> None:
    complete = MarketConfig(n=4)
    masks = complete.masks
    assert complete.contracts == 15
    assert sorted(masks.tolist()) == list(range(1, 16))
    base = MarketConfig(n=4, regime="base-only")
    assert base.masks.tolist() == [1, 2, 4, 8]


def _arrays(run: MarketRun) -> list[np.ndarray]:
    return [run.thresholds, run.times, run.path, run.final, run.draws, run.noisy, run.shocks]


def test_generation_is_deterministic_by_seed() -> None:
    cfg = MarketConfig(n=4, rounds=50, noise=0.3, horizon=0.5)
    a, b = MarketRun.generate(cfg, 3, 1), MarketRun.generate(cfg, 3, 1)
    for x, y in zip(_arrays(a), _arrays(b), strict=True):
        np.testing.assert_array_equal(x, y)
    c = MarketRun.generate(cfg, 4, 1)
    assert not np.array_equal(a.thresholds, c.thresholds)
    d = MarketRun.generate(cfg, 3, 2)
    assert not np.array_equal(a.final, d.final)


def test_common_random_numbers_across_noise_and_regime() -> None:
    cfg = MarketConfig(n=5, rounds=200, noise=0.2)
    a = MarketRun.generate(cfg, 0, 0)
    b = MarketRun.generate(dataclasses.replace(cfg, noise=0.4), 0, 0)
    c = MarketRun.generate(dataclasses.replace(cfg, regime="base-only"), 0, 0)
    for other in (b, c):
        np.testing.assert_array_equal(a.thresholds, other.thresholds)
        np.testing.assert_array_equal(a.final, other.final)
        np.testing.assert_array_equal(a.shocks, other.shocks)
    np.testing.assert_array_equal(a.draws, b.draws)
    assert np.all(b.noisy[a.noisy])  # noisy at φ = 0.2 ⇒ noisy at φ = 0.4
    assert b.noisy.sum() > a.noisy.sum()
    assert c.draws.max() < 5


def test_static_truth_is_the_gaussian_threshold_law() -> None:
    cfg = MarketConfig(n=4, rounds=30, rho=0.4, marginal_range=(0.3, 0.7), horizon=0.0)
    run = MarketRun.generate(cfg, 1, 0)
    prices = run.truth(0)[1]
    np.testing.assert_array_equal(prices, run.truth(29)[1])
    p0 = ndtr(-run.thresholds)
    assert np.all((p0 >= 0.3) & (p0 <= 0.7))
    masks = cfg.masks.tolist()
    for i in range(4):
        assert prices[masks.index(1 << i)] == pytest.approx(p0[i], abs=1e-12)
    # P(S_0(1) > c_0, S_1(1) > c_1) = Φ₂(−c_0, −c_1; ρ).
    pair = bivariate_normal_cdf(-run.thresholds[0], -run.thresholds[1], 0.4)
    assert prices[masks.index(0b11)] == pytest.approx(pair, abs=1e-10)
    bits = (cfg.masks[:, None] >> np.arange(4)) & 1
    expected = np.all((bits == 0) | run.outcomes[None, :], axis=1)
    np.testing.assert_array_equal(run.contract_outcomes, expected)


def test_moving_truth_conditions_on_the_score_path() -> None:
    cfg = MarketConfig(n=3, rounds=40, horizon=0.8)
    run = MarketRun.generate(cfg, 2, 0)
    t = 30
    s = run.times[t]
    assert s == pytest.approx(0.8 * 30 / 40)
    oracle, prices = run.truth(t)
    np.testing.assert_allclose(oracle.marginals(), ndtr((run.path[t] - run.thresholds) / np.sqrt(1 - s)))
    assert not np.allclose(prices, run.truth(0)[1])
    np.testing.assert_array_equal(run.path[0], np.zeros(3))


def test_targets_of_informed_and_noise_traders() -> None:
    cfg = MarketConfig(n=3, rounds=300, noise=0.5, noise_sd=0.7)
    run = MarketRun.generate(cfg, 5, 0)
    for t in range(0, 300, 7):
        pi, q = run.drawn_truth[t], run.targets[t]
        assert pi == pytest.approx(run.truth(t)[1][run.draws[t]], abs=1e-10)
        if run.noisy[t]:
            assert q == pytest.approx(float(expit(logit(pi) + 0.7 * run.shocks[t])))
        else:
            assert q == pi
    assert 100 < run.noisy.sum() < 200


def test_outcomes_follow_the_truth_on_average() -> None:
    """Averaged over many markets, an outcome's indicator minus its exact probability has mean zero."""
    cfg = MarketConfig(n=3, rounds=1, rho=0.6, horizon=0.0)
    resid_single, resid_all = [], []
    for run_index in range(1000):
        run = MarketRun.generate(cfg, 11, run_index)
        prices = run.truth(0)[1]
        resid_single.append(float(run.contract_outcomes[0]) - prices[0])
        resid_all.append(float(run.contract_outcomes[-1]) - prices[-1])
    for resid in (np.array(resid_single), np.array(resid_all)):
        assert abs(resid.mean()) < 4 * resid.std() / np.sqrt(resid.size)
