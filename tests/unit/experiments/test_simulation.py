"""The market makers as the paper defines them, and the loss accounting of one batch of runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.experiments.makers import (
    ALL_MAKERS,
    DEFINITIONS,
    MAKERS,
    Batch,
    IsingSettings,
    build_maker,
    ising_prior_prices,
)
from models.experiments.market import MarketConfig, MarketRun
from models.experiments.simulation import RunResult, SimulationConfig, simulate, trade_losses
from models.pricing import IsingModel, LMSRBook
from models.pricing.baselines import PairwiseOracle, all_yes_probabilities


def _batch(cfg: MarketConfig, seed: int = 0, runs: int = 2) -> Batch:
    return Batch.of([MarketRun.generate(cfg, seed, r) for r in range(runs)])


def _play(batch: Batch, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prices before round 0, posted prices of every round, prices after the last round)."""
    mm = build_maker(key, batch)
    draws = np.array([m.draws for m in batch.markets])
    targets = np.array([m.targets for m in batch.markets])
    T = batch.markets[0].config.rounds
    start = mm.prices(0)
    posted = np.array([mm.trade(t, draws[:, t], targets[:, t]) for t in range(T)]).T
    return start, posted, mm.prices(T)


@settings(max_examples=80, deadline=None)
@given(p=st.floats(0.01, 0.99), q=st.floats(0.01, 0.99), pays=st.booleans(), b=st.floats(0.5, 50.0))
def test_trade_loss_is_the_lmsr_book_loss(p: float, q: float, pays: bool, b: float) -> None:
    book = LMSRBook(b, p)
    book.move_to(q, "real")
    assert float(trade_losses(np.array([p]), np.array([q]), float(pays), b)[0]) == pytest.approx(
        book.loss(pays), rel=1e-9, abs=1e-9)


def test_every_maker_has_a_one_line_definition() -> None:
    assert MAKERS == ("true_oracle", "ising_amm", "independent_lmsr", "pairwise_oracle", "gaussian_oracle")
    assert set(DEFINITIONS) == set(ALL_MAKERS)
    assert all(v and "\n" not in v for v in DEFINITIONS.values())


def test_oracles_do_not_move_after_the_start() -> None:
    """Issue 9: the pairwise oracle was refitted to the current law every round and the Gaussian oracle copied
    every base-market target; the paper's oracles are fixed at the start."""
    batch = _batch(MarketConfig(n=4, rounds=120, noise=0.2))
    for key in ("pairwise_oracle", "gaussian_oracle"):
        start, posted, end = _play(batch, key)
        np.testing.assert_array_equal(end, start, err_msg=key)
        draws = np.array([m.draws for m in batch.markets])
        np.testing.assert_array_equal(posted, np.take_along_axis(start, draws, axis=1), err_msg=key)
    for r, market in enumerate(batch.markets):
        oracle, exact0 = market.truth(0)
        fitted = all_yes_probabilities(PairwiseOracle.from_table(oracle.table()).table())[market.config.masks]
        np.testing.assert_allclose(_play(batch, "pairwise_oracle")[0][r], fitted, atol=1e-9)
        np.testing.assert_allclose(_play(batch, "gaussian_oracle")[0][r], exact0, atol=1e-9)


def test_the_true_oracle_follows_the_moving_truth() -> None:
    batch = _batch(MarketConfig(n=3, rounds=80))
    start, posted, end = _play(batch, "true_oracle")
    market = batch.markets[0]
    np.testing.assert_allclose(posted[0], market.drawn_truth, atol=1e-12)
    np.testing.assert_allclose(end[0], market.truth(79)[1], atol=1e-10)
    assert np.abs(end - start).max() > 0.02


def test_independent_books_open_at_the_ising_prior() -> None:
    """Issue 9: independent books opened at 0.5 while the Ising AMM opened at its 0.5^k prior."""
    batch = _batch(MarketConfig(n=4, rounds=10))
    prior = ising_prior_prices(batch.space)
    masks = batch.space.masks
    legs0 = IsingModel(np.zeros(4), np.zeros((4, 4)))
    expected = [float(legs0.joint_probability({j: True for j in range(4) if m >> j & 1})) for m in masks]
    np.testing.assert_allclose(prior, expected, atol=1e-12)
    ising = _play(batch, "ising_amm")[0]
    for key in ("independent_lmsr", "independent_product"):
        np.testing.assert_allclose(_play(batch, key)[0], ising, atol=1e-12, err_msg=key)
    np.testing.assert_allclose(ising[0], 0.5 ** np.array([int(m).bit_count() for m in masks]), atol=1e-12)


def test_independent_books_move_only_by_their_own_trades() -> None:
    batch = _batch(MarketConfig(n=3, rounds=60))
    start, _, end = _play(batch, "independent_lmsr")
    market = batch.markets[0]
    last = dict(zip(market.draws.tolist(), market.targets.tolist(), strict=True))  # last target per contract
    for k in range(market.config.contracts):
        assert end[0, k] == pytest.approx(last.get(k, start[0, k]))
    # the product variant prices every parlay at the product of its legs' live base prices
    _, _, prod_end = _play(batch, "independent_product")
    masks = market.config.masks.tolist()
    base = {j: prod_end[0, masks.index(1 << j)] for j in range(3)}
    assert prod_end[0, masks.index(0b111)] == pytest.approx(base[0] * base[1] * base[2])


def test_lazy_accounting_equals_lmsr_books_with_shadow_trades() -> None:
    """Posted prices + closed-form settlement = real LMSR books, every one re-posted after every trade."""
    mc = MarketConfig(n=3, rounds=80, noise=0.3, b=7.0)
    cfg = SimulationConfig(mc, makers=("ising_amm",), ising=IsingSettings(eta_h=0.8, eta_J=0.6))
    (result,) = simulate(cfg, 4, [0])
    batch = _batch(mc, seed=4, runs=1)
    mm = build_maker("ising_amm", batch, IsingSettings(eta_h=0.8, eta_J=0.6))
    market = batch.markets[0]
    books = [LMSRBook(mc.b, float(p)) for p in mm.prices(0)[0]]
    shadow = 0
    for t in range(mc.rounds):
        k = int(market.draws[t])
        books[k].move_to(float(market.targets[t]), "real")
        mm.trade(t, market.draws[t : t + 1], market.targets[t : t + 1])
        for book, price in zip(books, mm.prices(t + 1)[0], strict=True):
            if abs(book.price() - price) > 1e-15:
                book.move_to(float(np.clip(price, mc.eps, 1 - mc.eps)), "shadow")
                shadow += 1
    pays = market.contract_outcomes
    real_pnl = sum(b.collected["real"] - b.payout(bool(y), "real") for b, y in zip(books, pays, strict=True))
    assert shadow > mc.rounds
    assert result.loss["ising_amm"] == pytest.approx(-real_pnl, rel=1e-8, abs=1e-9)


def _same(a: RunResult, b: RunResult, tol: float = 0.0) -> bool:
    fields = ("loss", "expected_loss", "regret", "cum_expected_loss", "mae")
    return all(
        all(np.allclose(getattr(a, f)[k], getattr(b, f)[k], rtol=0, atol=tol) for k in getattr(a, f))
        for f in fields
    ) and np.array_equal(a.marks, b.marks)


def test_simulation_is_deterministic_and_batching_does_not_change_a_run() -> None:
    cfg = SimulationConfig(MarketConfig(n=3, rounds=60, noise=0.2), mae_points=5)
    together = simulate(cfg, 7, [0, 1, 2])
    assert all(_same(x, y) for x, y in zip(together, simulate(cfg, 7, [0, 1, 2]), strict=True))
    for r in range(3):
        assert _same(together[r], simulate(cfg, 7, [r])[0], tol=1e-12)
    assert not _same(together[0], simulate(cfg, 8, [0])[0], tol=1e-12)


def test_losses_scale_exactly_with_liquidity() -> None:
    cfg = SimulationConfig(MarketConfig(n=3, rounds=60, noise=0.2))
    (one,) = simulate(cfg, 2, [0])
    (three,) = simulate(dataclasses.replace(cfg, market=dataclasses.replace(cfg.market, b=3.0)), 2, [0])
    for key in cfg.makers:
        assert three.loss[key] == pytest.approx(3.0 * one.loss[key], rel=1e-12, abs=1e-12)
        np.testing.assert_array_equal(three.mae[key], one.mae[key])


def test_true_oracle_loses_nothing_to_informed_traders_and_wins_from_noise() -> None:
    (res,) = simulate(SimulationConfig(MarketConfig(n=4, rounds=200)), 0, [0])
    assert res.loss["true_oracle"] == 0.0 and np.all(res.mae["true_oracle"] < 1e-12)
    for key in ALL_MAKERS:
        assert res.expected_loss[key] >= -1e-12 and res.regret[key] >= 0.0
    (noisy,) = simulate(SimulationConfig(MarketConfig(n=4, rounds=200, noise=0.4)), 0, [0])
    assert noisy.expected_loss["true_oracle"] < 0.0
    for key in ALL_MAKERS:
        assert noisy.expected_loss_informed[key] + noisy.expected_loss_noise[key] == pytest.approx(
            noisy.expected_loss[key])


def test_frozen_oracles_lose_more_when_the_truth_moves() -> None:
    static = SimulationConfig(MarketConfig(n=4, rounds=300, horizon=0.0), mae_points=4)
    moving = SimulationConfig(MarketConfig(n=4, rounds=300), mae_points=4)
    s = simulate(static, 1, [0, 1])
    m = simulate(moving, 1, [0, 1])
    for r in range(2):
        assert s[r].expected_loss["gaussian_oracle"] == pytest.approx(0.0, abs=1e-9)  # static: the exact law
        assert m[r].expected_loss["gaussian_oracle"] > 1.0
        assert m[r].mae["gaussian_oracle"][-1] > m[r].mae["gaussian_oracle"][0]


def test_simulation_config_validation() -> None:
    with pytest.raises(ValueError):
        SimulationConfig(makers=("ising_amm", "oracle"))
    with pytest.raises(ValueError):
        SimulationConfig(mae_points=1)
    with pytest.raises(ValueError):
        build_maker("nope", _batch(MarketConfig(n=2, rounds=5)))
