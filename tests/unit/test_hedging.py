"""Delta formula against finite differences on an Ising model; hedge planning properties."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.hedging import Ask, HedgeConfig, Leg, OpenBet, Position, book_exposure, leg_deltas, plan_hedges
from models.pricing import IsingModel


def random_model(rng: np.random.Generator, n: int) -> IsingModel:
    h = rng.normal(0, 0.8, n)
    J = np.triu(rng.normal(0, 0.6, (n, n)), 1)
    return IsingModel(h, J + J.T)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), sides=st.lists(st.booleans(), min_size=1, max_size=4))
def test_delta_equals_finite_difference_through_the_leg_field(seed: int, sides: list[bool]) -> None:
    rng = np.random.default_rng(seed)
    n = 6
    model = random_model(rng, n)
    legs_idx = {i: s for i, s in enumerate(sides)}
    names = {i: f"M{i}" for i in range(n)}
    p = model.marginals("exact")
    P = float(model.joint_probability(legs_idx, "exact"))
    deltas = leg_deltas(P, [Leg(names[i], "yes" if s else "no") for i, s in legs_idx.items()],
                        {names[i]: p[i] for i in range(n)})
    eps = 1e-6
    for i in legs_idx:
        h = model.h.copy()
        h[i] += eps
        bumped = IsingModel(h, model.J)
        dP = float(bumped.joint_probability(legs_idx, "exact")) - P
        dp = float(bumped.marginals("exact")[i]) - p[i]
        assert abs(deltas[names[i]] - dP / dp) < 1e-4 * max(1.0, abs(dP / dp))


def test_independent_legs_delta_is_product_of_the_others() -> None:
    marg = {"A": 0.5, "B": 0.4, "C": 0.8}
    P = 0.5 * 0.4 * 0.8
    d = leg_deltas(P, [Leg("A", "yes"), Leg("B", "yes"), Leg("C", "yes")], marg)
    expected = {"A": 0.4 * 0.8, "B": 0.5 * 0.8, "C": 0.5 * 0.4}
    assert d.keys() == expected.keys() and all(abs(d[k] - v) < 1e-12 for k, v in expected.items())
    P_no = 0.5 * (1 - 0.4)
    d_no = leg_deltas(P_no, [Leg("A", "yes"), Leg("B", "no")], marg)
    assert abs(d_no["B"] - (-0.5)) < 1e-12


def test_book_exposure_sums_bets() -> None:
    marg = {"A": 0.5, "B": 0.5}
    bets = [OpenBet("1", (Leg("A", "yes"), Leg("B", "yes")), Decimal(100), 0.25),
            OpenBet("2", (Leg("A", "no"),), Decimal(10), 0.5)]
    got = book_exposure(bets, marg)
    assert got.keys() == {"A", "B"}
    assert abs(got["A"] - (100 * 0.5 - 10 * 1.0)) < 1e-9 and abs(got["B"] - 100 * 0.5) < 1e-9


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
