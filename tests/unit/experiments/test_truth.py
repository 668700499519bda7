"""The vectorized exact probabilities against the reference TrueOracle (multivariate-normal law)."""

from __future__ import annotations

import numpy as np
import pytest

from models.experiments.market import MarketConfig, MarketRun
from models.experiments.truth import (
    all_yes_prices,
    all_yes_truth,
    contract_probabilities,
    factor_rule,
    outcome_tables,
)
from models.pricing.baselines import TrueOracle, all_yes_probabilities


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.5, 0.8])
def test_every_contract_matches_the_true_oracle(rho: float) -> None:
    rng = np.random.default_rng(7)
    n = 5
    cov = np.full((n, n), rho)
    np.fill_diagonal(cov, 1.0)
    worst = 0.0
    for _ in range(8):
        s = float(rng.uniform(0.0, 0.95))
        scores = rng.normal(0.0, np.sqrt(s), n)
        thresholds = rng.normal(0.0, 0.7, n)
        reference = all_yes_probabilities(TrueOracle.brownian(scores, s, thresholds, cov).table())
        a = (scores - thresholds) / np.sqrt(1.0 - s)
        masks = np.arange(1, 1 << n)
        worst = max(worst,
                    float(np.abs(all_yes_truth(a, rho) - reference).max()),
                    float(np.abs(all_yes_prices(outcome_tables(a, rho)) - reference).max()),
                    float(np.abs(contract_probabilities(np.broadcast_to(a, (masks.size, n)), masks, rho)
                                 - reference[1:]).max()))
    assert worst < 1e-9


def test_stacks_keep_their_shape_and_tables_are_distributions() -> None:
    a = np.random.default_rng(1).normal(size=(3, 4, 4))
    tables = outcome_tables(a, 0.5)
    assert tables.shape == (3, 4, 16)
    np.testing.assert_allclose(tables.sum(axis=-1), 1.0, atol=1e-12)
    assert np.all(tables >= 0.0)
    masks = np.full((3, 4), 0b1011)
    np.testing.assert_allclose(contract_probabilities(a, masks, 0.5), all_yes_truth(a, 0.5)[..., 0b1011], atol=1e-12)


def test_quadrature_rule_is_a_probability_rule() -> None:
    nodes, weights = factor_rule(0.5)
    assert weights.sum() == pytest.approx(1.0)
    assert float(weights @ nodes**2) == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError):
        factor_rule(1.0)
    with pytest.raises(ValueError):
        contract_probabilities(np.zeros((2, 3)), np.array([0, 1]), 0.5)


def test_market_run_probabilities_match_the_reference_every_round() -> None:
    run = MarketRun.generate(MarketConfig(n=4, rounds=40, horizon=0.7, rho=0.4), 3, 1)
    for t in (0, 9, 25, 39):
        _, prices = run.truth(t)
        assert run.drawn_truth[t] == pytest.approx(prices[run.draws[t]], abs=1e-10)
        np.testing.assert_allclose(run.truth_prices(np.array([t]))[0], prices, atol=1e-10)
    np.testing.assert_allclose(run.truth_table(0), run.truth(0)[0].table(), atol=1e-10)
