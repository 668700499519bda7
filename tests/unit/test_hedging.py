"""Delta formula against finite differences on an Ising model; hedge planning properties."""

from __future__ import annotations

import itertools
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.hedging import (
    Ask,
    HedgeConfig,
    Leg,
    OpenBet,
    Position,
    book_exposure,
    independent_joint,
    parlay_deltas,
    plan_hedges,
)
from models.pricing import IsingModel


def random_model(rng: np.random.Generator, n: int) -> IsingModel:
    h = rng.normal(0, 0.8, n)
    J = np.triu(rng.normal(0, 0.6, (n, n)), 1)
    return IsingModel(h, J + J.T)


def ising_joint(model: IsingModel, names: list[str]):  # type: ignore[no-untyped-def]
    idx = {n: i for i, n in enumerate(names)}
    return lambda outcomes: float(model.joint_probability({idx[m]: v for m, v in outcomes.items()}, "exact"))


def brute_force_hedge(model: IsingModel, legs: dict[int, bool], markets: list[int]) -> np.ndarray:
    """The minimum-variance linear hedge by weighted least squares over every state of the model."""
    n = model.h.shape[0]
    states = np.array(list(itertools.product([0, 1], repeat=n)), dtype=float)
    e = states @ model.h + 0.5 * np.einsum("si,ij,sj->s", states, model.J, states)
    w = np.exp(e - e.max())
    w /= w.sum()
    a = np.all([states[:, i] == v for i, v in legs.items()], axis=0).astype(float)
    X = np.column_stack([np.ones(len(states)), states[:, markets]])
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(X * sw[:, None], a * sw, rcond=None)
    return coef[1:]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), sides=st.lists(st.booleans(), min_size=1, max_size=4))
def test_parlay_deltas_equal_the_brute_force_minimum_variance_hedge(seed: int, sides: list[bool]) -> None:
    rng = np.random.default_rng(seed)
    n = 6
    model = random_model(rng, n)
    names = [f"M{i}" for i in range(n)]
    legs = {i: s for i, s in enumerate(sides)}
    got = parlay_deltas(ising_joint(model, names), [Leg(names[i], "yes" if s else "no") for i, s in legs.items()])
    want = brute_force_hedge(model, legs, sorted(legs))
    for i, w in zip(sorted(legs), want, strict=True):
        assert abs(got[names[i]] - w) < 1e-8


# the correlated 3-leg case: A YES, B YES, C NO with couplings
THREE = IsingModel(np.array([-1.0, -1.2, 0.3]), np.array([[0, 2.0, -0.8], [2.0, 0, -0.6], [-0.8, -0.6, 0]]))
THREE_LEGS = [Leg("A", "yes"), Leg("B", "yes"), Leg("C", "no")]


def test_correlated_three_legs_per_leg_ratio_over_hedges() -> None:
    joint = ising_joint(THREE, ["A", "B", "C"])
    d = parlay_deltas(joint, THREE_LEGS)
    p = THREE.marginals("exact")
    P = joint({"A": True, "B": True, "C": False})
    old = {"A": P / p[0], "B": P / p[1], "C": -P / (1 - p[2])}  # the per-leg ∂P/∂p_i the hedge used before
    assert [round(old[m], 3) for m in "ABC"] == [0.487, 0.507, -0.329]
    assert [round(d[m], 3) for m in "ABC"] == [0.285, 0.327, -0.192]
    want = brute_force_hedge(THREE, {0: True, 1: True, 2: False}, [0, 1, 2])
    assert np.allclose([d[m] for m in "ABC"], want, atol=1e-10)
    # effective hedge fraction of a nominal 35 % hedge: its covariance with the payoff over the best hedge's
    states = np.array(list(itertools.product([0, 1], repeat=3)), dtype=float)
    e = states @ THREE.h + 0.5 * np.einsum("si,ij,sj->s", states, THREE.J, states)
    w = np.exp(e - e.max())
    w /= w.sum()
    m = states - w @ states
    sigma = (m * w[:, None]).T @ m
    best = np.array([d[k] for k in "ABC"])
    bad = np.array([old[k] for k in "ABC"])
    effective_old = 0.35 * float(bad @ sigma @ best) / float(best @ sigma @ best)
    assert effective_old > 0.55  # the nominal 35 % acted like about 60 %


def test_independent_legs_delta_is_product_of_the_others() -> None:
    marg = {"A": 0.5, "B": 0.4, "C": 0.8}
    d = parlay_deltas(independent_joint(marg), [Leg("A", "yes"), Leg("B", "yes"), Leg("C", "yes")])
    expected = {"A": 0.4 * 0.8, "B": 0.5 * 0.8, "C": 0.5 * 0.4}
    assert d.keys() == expected.keys() and all(abs(d[k] - v) < 1e-12 for k, v in expected.items())
    d_no = parlay_deltas(independent_joint(marg), [Leg("A", "yes"), Leg("B", "no")])
    assert abs(d_no["B"] - (-0.5)) < 1e-12 and abs(d_no["A"] - 0.6) < 1e-12


def test_book_exposure_nets_across_bets() -> None:
    marg = {"A": 0.5, "B": 0.5}
    bets = [OpenBet("1", (Leg("A", "yes"), Leg("B", "yes")), Decimal(100), 0.25),
            OpenBet("2", (Leg("A", "no"),), Decimal(10), 0.5)]
    got = book_exposure(bets, independent_joint(marg), {"A": "g1", "B": "g2"})
    assert got.keys() == {"A", "B"}
    assert abs(got["A"] - (100 * 0.5 - 10 * 1.0)) < 1e-9 and abs(got["B"] - 100 * 0.5) < 1e-9


def test_hedge_ratio_is_held_to_thirty_to_forty_percent_unless_overridden() -> None:
    import pytest

    with pytest.raises(ValueError, match="outside"):
        HedgeConfig(ratio=0.6)
    assert HedgeConfig(ratio=0.6, ratio_override=True).ratio == 0.6
    with pytest.raises(ValueError):
        HedgeConfig(ratio=1.0, ratio_override=True)


exposures = st.dictionaries(st.sampled_from(["A", "B", "C", "D"]), st.floats(-5000, 5000), min_size=1)
positions = st.dictionaries(
    st.sampled_from(["A", "B", "C", "D"]),
    st.builds(Position, yes=st.integers(0, 2000).map(Decimal), no=st.integers(0, 2000).map(Decimal)),
)


@settings(max_examples=200, deadline=None)
@given(exposure=exposures, pos=positions, ratio=st.floats(0.3, 0.4))
def test_plans_never_over_hedge_and_reach_the_target(exposure, pos, ratio) -> None:
    cfg = HedgeConfig(ratio=ratio)
    asks = {m: Ask(Decimal("0.55"), Decimal("0.47")) for m in "ABCD"}
    plan = plan_hedges(exposure, pos, asks, cfg, "k")
    for market, target in plan.targets.items():
        assert abs(target) <= abs(Decimal(repr(ratio * exposure.get(market, 0.0)))) + Decimal("1e-9")
        p = pos.get(market, Position())
        net = p.net_yes
        for o in (o for o in plan.orders if o.market_ticker == market):
            signed = Decimal(o.count) * (1 if (o.side == "yes") == (o.action == "buy") else -1)
            net += signed
            assert o.count >= cfg.min_contracts and Decimal("0") < o.limit_price < Decimal(1)
            if o.action == "sell":  # never sell more than held
                assert o.count <= (p.yes if o.side == "yes" else p.no)
        assert abs(net - target) < cfg.min_contracts or market in plan.skipped


def test_client_order_ids_are_deterministic_and_distinct() -> None:
    asks = {"A": Ask(Decimal("0.50"), Decimal("0.52")), "B": Ask(Decimal("0.50"), Decimal("0.52"))}
    a = plan_hedges({"A": 1000.0, "B": -500.0}, {}, asks, HedgeConfig(), "day1")
    b = plan_hedges({"A": 1000.0, "B": -500.0}, {}, asks, HedgeConfig(), "day1")
    assert [o.client_order_id for o in a.orders] == [o.client_order_id for o in b.orders]
    assert len({o.client_order_id for o in a.orders}) == len(a.orders) == 2
    assert [(o.side, o.action, o.count) for o in a.orders] == [("yes", "buy", 350), ("no", "buy", 175)]
    assert a.orders[0].limit_price == Decimal("0.52")  # ask 0.50 + 2¢ slippage


def test_missing_book_skips_with_a_reason() -> None:
    plan = plan_hedges({"A": 1000.0}, {}, {}, HedgeConfig(), "k")
    assert not plan.orders and "no YES ask" in plan.skipped["A"]
