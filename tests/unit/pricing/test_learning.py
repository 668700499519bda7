"""Cross-entropy gradient, SGD, initialization, fee-bias targets and the online learner's books."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.pricing import (
    BPConfig,
    Contract,
    InferenceConfig,
    IsingModel,
    LearnerConfig,
    NotConvergedError,
    OnlineLearner,
    all_yes_target,
    ce_gradient,
    cross_entropy,
    flow_target,
    initial_fields,
    initial_model,
    move_cost,
    quote,
    sgd_step,
)
from tests.unit.pricing.helpers import (
    brute_force,
    event_mask,
    frustrated_spin_glass,
    random_legs,
    random_model,
)


def _loss(
    h: np.ndarray, J: np.ndarray, legs: dict[int, bool], q: float, config: InferenceConfig, method: str
) -> float:
    return cross_entropy(q, float(IsingModel(h, J, config).joint_probability(legs, method)))  # type: ignore[arg-type]


def _finite_difference(
    model: IsingModel, legs: dict[int, bool], q: float, method: str, pairs: Iterable[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    eps = 1e-5
    n = model.n
    d_h = np.zeros(n)
    for i in range(n):
        e = np.zeros(n)
        e[i] = eps
        d_h[i] = (_loss(model.h + e, model.J, legs, q, model.config, method)
                  - _loss(model.h - e, model.J, legs, q, model.config, method)) / (2 * eps)
    d_J = np.zeros((n, n))
    for i, j in pairs:
        E = np.zeros((n, n))
        E[i, j] = E[j, i] = eps
        d_J[i, j] = d_J[j, i] = (_loss(model.h, model.J + E, legs, q, model.config, method)
                                 - _loss(model.h, model.J - E, legs, q, model.config, method)) / (2 * eps)
    return d_h, d_J


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), q=st.floats(0.0, 1.0), n=st.integers(2, 6))
def test_gradient_equals_finite_differences_exact(seed: int, q: float, n: int) -> None:
    rng = np.random.default_rng(seed)
    model = random_model(rng, n, density=0.7, scale=1.0)
    legs = random_legs(rng, n, int(rng.integers(1, n + 1)))
    grad = ce_gradient(model, legs, q, couplings="all", method="exact")
    d_h, d_J = _finite_difference(model, legs, q, "exact", itertools.combinations(range(n), 2))
    np.testing.assert_allclose(grad.d_h, d_h, atol=1e-6)
    np.testing.assert_allclose(grad.d_J, d_J, atol=1e-6)
    assert not grad.clipped
    p = float(model.joint_probability(legs, "exact"))
    assert grad.price == pytest.approx(p)
    assert grad.loss == pytest.approx(cross_entropy(q, p))
    assert grad.scale == pytest.approx((p - q) / (1 - p))


def test_gradient_has_the_bounded_complement_form() -> None:
    """∇CE = (p − q)/(1 − p)(E[T|A] − E[T]) = (p − q)(E[T|A] − E[T|¬A]), checked by brute force."""
    rng = np.random.default_rng(3)
    model = random_model(rng, 5, density=0.8, scale=1.5)
    legs = {0: True, 3: False}
    q = 0.2
    outcomes, p_all, _ = brute_force(model)
    mask = event_mask(outcomes, legs)
    p = p_all[mask].sum()
    e_not = (outcomes[~mask].T @ p_all[~mask]) / (1 - p)
    e_a = (outcomes[mask].T @ p_all[mask]) / p
    grad = ce_gradient(model, legs, q, couplings="all", method="exact")
    np.testing.assert_allclose(grad.d_h, (p - q) * (e_a - e_not), atol=1e-12)
    assert np.all(np.abs(grad.d_h) <= abs(p - q) + 1e-15)


def test_bp_gradient_equals_finite_differences_of_bp_prices() -> None:
    """At a BP fixed point d log Z_B/dθ are the beliefs, so the BP gradient is exact for BP prices."""
    rng = np.random.default_rng(12)
    config = InferenceConfig(exact_max_n=0, bp=BPConfig(cutset=1, tol=1e-12, joint_tol=1e-12))
    model = random_model(rng, 14, density=0.3, scale=0.6, config=config)
    legs = {1: True, 4: False, 9: True}
    q = 0.35
    grad = ce_gradient(model, legs, q, couplings="all", method="bp")
    edges = [(i, j) for i, j in itertools.combinations(range(14), 2) if model.J[i, j] != 0]
    d_h, d_J = _finite_difference(model, legs, q, "bp", edges)
    np.testing.assert_allclose(grad.d_h, d_h, atol=1e-6)
    mask = model.J != 0
    np.testing.assert_allclose(grad.d_J[mask], d_J[mask], atol=1e-6)


def test_coupling_scopes() -> None:
    rng = np.random.default_rng(4)
    model = random_model(rng, 6, density=0.6)
    legs = {0: True, 2: True, 5: False}
    full = ce_gradient(model, legs, 0.6, couplings="all")
    scoped = ce_gradient(model, legs, 0.6, couplings="legs")
    none = ce_gradient(model, legs, 0.6, couplings="none")
    inside = np.zeros((6, 6), dtype=bool)
    inside[np.ix_([0, 2, 5], [0, 2, 5])] = True
    np.testing.assert_allclose(scoped.d_J[inside], full.d_J[inside])
    assert np.all(scoped.d_J[~inside] == 0.0)
    assert np.all(none.d_J == 0.0)
    np.testing.assert_allclose(scoped.d_h, full.d_h)
    only_legs = ce_gradient(model, legs, 0.6, fields="legs")
    assert np.all(only_legs.d_h[[1, 3, 4]] == 0.0)
    np.testing.assert_allclose(only_legs.d_h[[0, 2, 5]], full.d_h[[0, 2, 5]])
    with pytest.raises(ValueError):
        ce_gradient(model, legs, 1.5)


def test_base_market_steps_train_fields_only_and_parlays_train_couplings() -> None:
    model = IsingModel.independent(np.array([0.4, 0.5, 0.6]))
    config = LearnerConfig(eta_h=0.5, eta_J=0.5)
    after_base, g = sgd_step(model, {1: True}, 0.7, config)
    assert np.all(after_base.J == 0.0)
    assert after_base.h[1] > model.h[1] and g.price == pytest.approx(0.5)
    after_parlay, _ = sgd_step(model, {0: True, 2: True}, 0.4, config)
    assert after_parlay.J[0, 2] > 0.0 and after_parlay.J[0, 2] == after_parlay.J[2, 0]
    assert after_parlay.J[0, 1] == 0.0 and after_parlay.J[1, 2] == 0.0


def test_sgd_on_exact_targets_recovers_the_target_moments() -> None:
    rng = np.random.default_rng(0)
    n = 4
    target = random_model(rng, n, density=1.0, scale=1.0)
    pairs = itertools.combinations(range(n), 2)
    contracts = [{i: True} for i in range(n)] + [{i: True, j: True} for i, j in pairs]
    targets = [float(target.joint_probability(c)) for c in contracts]
    learner = OnlineLearner(IsingModel(np.zeros(n), np.zeros((n, n))),
                            LearnerConfig(eta_h=1.0, eta_J=1.0, max_abs_J=None))
    for _ in range(400):
        for k in rng.permutation(len(contracts)):
            learner.observe(contracts[k], targets[k], trade=False)
    np.testing.assert_allclose(learner.model.pairwise_moments(), target.pairwise_moments(), atol=2e-3)
    np.testing.assert_allclose(learner.model.J, target.J, atol=0.05)


def test_initial_fields_use_the_median_log_odds_of_the_first_30_mids() -> None:
    mids = [[0.2] * 10 + [0.3] * 21 + [0.99] * 100, [0.0, 1.0, 0.5], [0.6]]
    h = initial_fields(mids)
    assert h[0] == pytest.approx(np.log(0.3 / 0.7))  # later mids are ignored
    assert h[1] == pytest.approx(0.0)  # 0 and 1 clipped symmetrically
    assert h[2] == pytest.approx(np.log(0.6 / 0.4))
    model = initial_model(mids)
    assert np.all(model.J == 0.0)
    np.testing.assert_allclose(model.marginals(), [0.3, 0.5, 0.6], atol=1e-12)
    with pytest.raises(ValueError):
        initial_fields([[np.nan]])


def test_flow_target_is_where_the_book_moves() -> None:
    learner = OnlineLearner(IsingModel.independent(np.array([0.5, 0.4])),
                            LearnerConfig(setting="standalone", lmsr_b=20.0))
    c = learner.register({0: True, 1: True})
    before = learner.books[c].price()
    expected = flow_target(before, "yes", 5.0, 20.0)
    result = learner.observe_flow(c, "yes", 5.0)
    assert result.target == pytest.approx(expected)
    assert result.real_trade is not None and result.real_trade.shares == pytest.approx(5.0)
    assert result.real_trade.price_after == pytest.approx(expected)
    assert flow_target(0.3, "no", 0.0, 1.0) == pytest.approx(0.3)
    assert flow_target(0.3, "no", 10.0, 10.0) < 0.3


def test_all_yes_target_inverts_inclusion_exclusion_and_cancels_a_common_fee() -> None:
    rng = np.random.default_rng(2)
    model = random_model(rng, 5, density=0.8)

    def price_of(s: frozenset[int]) -> float:
        return float(model.joint_probability(dict.fromkeys(s, True)))

    observed = float(model.joint_probability({0: True, 1: False, 3: False}))
    truth = price_of(frozenset({0, 1, 3}))
    assert all_yes_target(observed, [0], [1, 3], price_of) == pytest.approx(truth, abs=1e-12)
    fee = 0.03

    def with_fee(s: frozenset[int]) -> float:
        return price_of(s) + fee

    # Even number of NO legs: a common markup leaves +2f.
    assert all_yes_target(observed + fee, [0], [1, 3], with_fee) == pytest.approx(truth + 2 * fee, abs=1e-12)
    # Odd number: it cancels exactly.
    simple = float(model.joint_probability({0: True, 1: False}))
    assert all_yes_target(simple, [0], [1], price_of) == pytest.approx(price_of(frozenset({0})) - simple)
    assert all_yes_target(simple + fee, [0], [1], with_fee) == pytest.approx(price_of(frozenset({0, 1})))
    three = float(model.joint_probability({0: True, 1: False, 2: False, 4: False}))
    assert all_yes_target(three + fee, [0], [1, 2, 4], with_fee) == pytest.approx(
        price_of(frozenset({0, 1, 2, 4})), abs=1e-12
    )
    assert all_yes_target(0.4, [0, 1], [], price_of) == 0.4


def test_amm_learner_books_follow_the_model_with_shadow_trades() -> None:
    rng = np.random.default_rng(6)
    model = random_model(rng, 6, density=0.5, scale=0.5)
    contracts = [{0: True}, {1: True}, {0: True, 1: True}, {2: False, 4: True, 5: True}]
    learner = OnlineLearner(model, LearnerConfig(eta_h=0.3, eta_J=0.3, lmsr_b=50.0), contracts)
    for c in contracts:
        assert learner.books[Contract.of(c)].price() == pytest.approx(quote(model, c).yes)
    for _ in range(15):
        c = contracts[int(rng.integers(len(contracts)))]
        book_before = learner.books[Contract.of(c)].price()
        target = float(rng.uniform(0.05, 0.95))
        result = learner.observe(c, target)
        assert result.real_trade is not None
        assert result.real_trade.cost == pytest.approx(move_cost(book_before, result.target, 50.0))
        assert result.real_trade.price_after == pytest.approx(result.target)
        for bc, book in learner.books.items():
            assert book.price() == pytest.approx(quote(learner.model, bc.as_mapping()).yes, abs=1e-12)
            assert result.prices[bc] == pytest.approx(book.price(), abs=1e-12)
        assert result.shadow_cost == pytest.approx(sum(t.cost for t in result.shadow_trades.values()))
        assert all(t.kind == "shadow" for t in result.shadow_trades.values())
    outcomes = {i: bool(rng.random() < 0.5) for i in range(6)}
    s = learner.settle(outcomes)
    payout, collected = s.real_payout + s.shadow_payout, s.real_collected + s.shadow_collected
    assert s.book_loss == pytest.approx(payout - collected)
    assert s.book_loss <= s.worst_case_bound
    assert s.real_pnl == pytest.approx(s.real_collected - s.real_payout)


def test_new_contract_and_untraded_observations() -> None:
    model = IsingModel.independent(np.array([0.5, 0.5, 0.5]))
    learner = OnlineLearner(model, LearnerConfig())
    result = learner.observe({0: True, 2: True}, 0.4)  # first sight opens a book at the model price
    assert Contract.of({0: True, 2: True}) in learner.books
    assert result.price_before == pytest.approx(0.25)
    assert 0.25 < result.price_after < 0.4
    quiet = learner.observe({1: True}, 0.6, trade=False)
    assert quiet.real_trade is None and Contract.of({1: True}) not in learner.books


def test_standalone_keeps_base_markets_off_our_books() -> None:
    learner = OnlineLearner(IsingModel.independent(np.array([0.5, 0.5])), LearnerConfig(setting="standalone"))
    with pytest.raises(ValueError, match="standalone"):
        learner.register({0: True})
    result = learner.observe({0: True}, 0.7)  # a candle mid: learn, no trade
    assert result.real_trade is None and not learner.books
    assert learner.model.marginals()[0] > 0.5


def test_learner_skips_or_raises_on_non_convergence() -> None:
    cfg = InferenceConfig(exact_max_n=0, exact_limit_n=0, clique_max_states=0, bp=BPConfig(cutset=0))
    model = frustrated_spin_glass(4, config=cfg)
    with pytest.raises(NotConvergedError):
        OnlineLearner(model, LearnerConfig()).observe({0: True}, 0.5, trade=False)
    learner = OnlineLearner(model, LearnerConfig(on_not_converged="skip"))
    with pytest.raises(NotConvergedError):  # a book cannot open without a price
        learner.register({0: True})
    result = learner.observe({0: True, 1: True}, 0.5)
    assert result.skipped and "did not converge" in result.skipped
    assert result.real_trade is None and not learner.books
    assert learner.model is model and learner.skipped == 1 and learner.updates == 0


def test_lazy_books_settle_exactly_like_eager_books() -> None:
    """The learner with lazy books (synced only before a real trade and at the end) has the real trades and
    the book P&L of the learner that re-posts every book after every update."""
    rng = np.random.default_rng(21)
    contracts = [{0: True}, {1: True}, {2: False}, {0: True, 1: True}, {1: True, 2: True}, {0: False, 2: True}]
    eager = OnlineLearner(IsingModel(np.zeros(3), np.zeros((3, 3))), LearnerConfig(eta_h=0.5, eta_J=0.5))
    lazy = OnlineLearner(IsingModel(np.zeros(3), np.zeros((3, 3))),
                         LearnerConfig(eta_h=0.5, eta_J=0.5, lazy_books=True))
    for _ in range(60):
        c = contracts[int(rng.integers(len(contracts)))]
        q = float(rng.uniform(0.05, 0.95))
        a, b = eager.observe(c, q), lazy.observe(c, q)
        assert (a.real_trade.shares, a.real_trade.cost) == pytest.approx((b.real_trade.shares, b.real_trade.cost))
        assert len(b.shadow_trades) <= 1 < len(eager.books) or len(eager.books) <= 1
    lazy.sync_books()
    for outcome in itertools.product((False, True), repeat=3):
        x = dict(enumerate(outcome))
        se, sl = eager.settle(x), lazy.settle(x)
        assert se.real_pnl == pytest.approx(sl.real_pnl, rel=1e-9, abs=1e-9)
        assert se.book_loss == pytest.approx(sl.book_loss, rel=1e-9, abs=1e-9)
        assert se.worst_case_bound == pytest.approx(sl.worst_case_bound)
    for c in eager.books:
        assert eager.books[c].price() == pytest.approx(lazy.books[c].price(), abs=1e-12)
