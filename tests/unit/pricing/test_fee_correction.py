"""Fits learn from combo targets net of the estimated markup (issue 8, point 2), never from the
fee-inflated ``target_clipped``; independence-filled targets are left out with their reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from models import structural as S
from models.pricing.replay import cluster_targets, literal_map

T0 = datetime(2026, 3, 8, 1, 0, tzinfo=UTC)
MARKETS = ["MA", "MB", "MC"]
BID_ASK = {"MA": (0.58, 0.62), "MB": (0.44, 0.48), "MC": (0.30, 0.34)}


def _targets(spread: float | None = 0.03) -> pd.DataFrame:
    legs = pd.DataFrame(
        [
            ("C1", 0, "MA", "yes"),
            ("C1", 1, "MB", "yes"),
            ("C2", 0, "MA", "yes"),
            ("C2", 1, "MB", "no"),
            ("C4", 0, "MA", "yes"),
            ("C4", 1, "MB", "yes"),
            ("C4", 2, "MC", "no"),
            ("C5", 0, "MA", "yes"),
            ("C5", 1, "MC", "yes"),
            ("C5", 2, "MB", "no"),
        ],
        columns=["combo_ticker", "leg_index", "market_ticker", "side"],
    )
    structure = pd.DataFrame({"combo_ticker": ["C1", "C2", "C4", "C5"], "impossible": False, "impossible_reason": None})
    variables = pd.DataFrame({"market_ticker": MARKETS, "complement_ticker": [None] * 3})
    quotes = pd.DataFrame(
        [(m, T0 - timedelta(minutes=1), a, b) for m, (b, a) in BID_ASK.items()],
        columns=["market_ticker", "ts", "yes_ask", "yes_bid"],
    )
    trades = pd.DataFrame(
        [
            ("t1", "C1", T0, 0.40, 100.0),
            ("t2", "C2", T0 + timedelta(seconds=5), 0.25, 100.0),
            ("t4", "C4", T0 + timedelta(seconds=10), 0.20, 100.0),
            ("t5", "C5", T0 + timedelta(seconds=20), 0.15, 100.0),
        ],
        columns=["trade_id", "combo_ticker", "ts", "yes_price", "contracts"],
    )
    fees = {m: ("quadratic", 1.0) for m in MARKETS}
    return S.combo_targets(trades, legs, structure, variables, quotes, fees, combo_spread=spread).set_index("trade_id")


def _fee(p: float) -> float:
    return S.fee_per_contract(p, 100.0, 0.07)


def _mid(m: str) -> float:
    return sum(BID_ASK[m]) / 2


def test_learning_targets_are_net_of_the_estimated_markup_by_inclusion_exclusion() -> None:
    out = _targets()
    t1 = out.loc["t1"]  # all YES: the observed ask carries the whole markup m
    assert t1["target_clipped"] == pytest.approx(0.40)
    assert t1["markup_estimate"] == pytest.approx(_fee(0.40) + 0.03)
    assert t1["target_net_of_markup"] == pytest.approx(0.40 - _fee(0.40) - 0.03)
    assert t1["use_for_learning"] and pd.isna(t1["learning_excluded_reason"])
    t2 = out.loc["t2"]  # P(A ∧ B) = P(A) − P(A ∧ ¬B): the base term at its mid, the combo net of its markup
    assert t2["target_net_of_markup"] == pytest.approx(_mid("MA") - (0.25 - _fee(0.25) - 0.03))
    t4 = out.loc["t4"]  # P(A∧B∧C) = P(A∧B) − P(A∧B∧¬C), P(A∧B) from the earlier trade t1, net of its markup
    assert t4["target_net_of_markup"] == pytest.approx((0.40 - _fee(0.40) - 0.03) - (0.20 - _fee(0.20) - 0.03))
    assert t4["use_for_learning"]


def test_independence_filled_targets_are_not_learned_from_and_say_why() -> None:
    t5 = _targets().loc["t5"]  # P(A ∧ C) was never traded: filled with the product of the legs' prices
    assert t5["n_implied_terms"] == 1 and not t5["exact"]
    assert not t5["use_for_learning"]
    assert t5["learning_excluded_reason"] == "independence_filled"


def test_the_combo_spread_is_estimated_from_both_no_parities_of_one_contract() -> None:
    rows = [(("A", "B"), +1, 0.30 + 0.04)] * 6 + [(("A", "B"), -1, 0.30 - 0.04)] * 6
    rows += [(("A", "C"), +1, 0.20 + 0.04)] * 5 + [(("A", "C"), -1, 0.20 - 0.04)] * 7
    assert S.estimate_combo_spread(rows) == pytest.approx(0.04)
    assert S.estimate_combo_spread(rows[:6]) is None  # one parity only: nothing to compare
    estimated = _targets(spread=None)  # too few pairs in four trades: the default
    assert estimated.loc["t1", "markup_estimate"] == pytest.approx(_fee(0.40) + S.DEFAULT_COMBO_SPREAD)


def test_cluster_targets_learn_the_net_target_never_the_fee_inflated_one() -> None:
    lits = literal_map(
        [
            {
                "market_ticker": m,
                "cluster_id": "G",
                "literals": [{"variable_id": v, "variable_index": i, "negated": False}],
            }
            for i, (m, v) in enumerate(zip(MARKETS, ["a", "b", "c"], strict=True))
        ]
    )
    rows = pd.DataFrame(
        [
            {
                "ts": T0,
                "target_legs": ["MA", "MB"],
                "target_clipped": 0.40,
                "target_net_of_markup": 0.35,
                "use_for_learning": True,
            },
            {
                "ts": T0,
                "target_legs": ["MA", "MC"],
                "target_clipped": 0.15,
                "target_net_of_markup": 0.12,
                "use_for_learning": False,
            },
        ]
    )
    got = cluster_targets(rows, lits)["G"]
    assert list(got["target"]) == [pytest.approx(0.35)]


def test_ablation_fits_are_unbiased_with_the_correction_and_biased_without_it() -> None:
    """Simulated combo trades at the ask with a known markup (fee formula + 3¢ + U(0, 1¢)), fixed seed."""
    from models.pricing.bench import fee_correction_ablation

    out = fee_correction_ablation(seed=0, trades=600)
    corrected, uncorrected = out["corrected"]["mean_error"], out["uncorrected"]["mean_error"]
    assert uncorrected > 0.02  # the asks' markup inflates every fitted joint
    assert abs(corrected) < abs(uncorrected) / 3
    assert abs(corrected) < 0.005
    assert out["estimated_combo_spread"] == pytest.approx(out["true_combo_spread"], abs=0.005)


def test_a_cross_cluster_combo_teaches_only_clusters_holding_two_of_its_legs() -> None:
    """A 3-leg combo with one leg on G1 and two on G2: G2 learns q / P(G1's leg) (its coupling), G1 nothing."""
    lits = literal_map(
        [
            {"market_ticker": m, "cluster_id": g,
             "literals": [{"variable_id": v, "variable_index": i, "negated": False}]}
            for m, g, v, i in [("MA", "G1", "a", 0), ("MB", "G2", "b", 0), ("MC", "G2", "c", 1)]
        ]
    )
    panel = pd.DataFrame([{"market_ticker": m, "minute": T0 - timedelta(minutes=5), "mid": p}
                          for m, p in [("MA", 0.5), ("MB", 0.6), ("MC", 0.4)]])
    rows = pd.DataFrame([
        {"ts": T0, "target_legs": ["MA", "MB", "MC"], "target_net_of_markup": 0.10, "use_for_learning": True},
        {"ts": T0, "target_legs": ["MA", "MB"], "target_net_of_markup": 0.30, "use_for_learning": True},
    ])
    got = cluster_targets(rows, lits, panel)
    assert set(got) == {"G2"}
    assert list(got["G2"]["target"]) == [pytest.approx(0.10 / 0.5)]
    assert list(got["G2"]["legs"]) == [(("b", True), ("c", True))]
    # the rule is a parameter: with one leg enough, both clusters learn from both combos
    loose = cluster_targets(rows, lits, panel, min_cluster_legs=1)
    assert len(loose["G1"]) == 2 and len(loose["G2"]) == 2
