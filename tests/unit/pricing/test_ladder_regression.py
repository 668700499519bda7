"""Issue 8, finding 1: nested ladders must not be priced as free binary variables.

One total axis with two thresholds: y1 = [total > 220.5] (market OVER220), y2 = [total > 230.5] (OVER230),
y2 ⇒ y1, and the bracket (220.5, 230.5] = y1 ∧ ¬y2. Mids 0.60, 0.40 and 0.20 are consistent with one law
(0.40 above 230.5, 0.20 in the bracket, 0.40 below 220.5). A free-binary Ising fit gave marginals
0.544/0.455, P(both) 0.248, bracket 0.296 and 0.208 of the mass on the impossible state.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.pricing.replay import ClusterEvent, FitConfig, event_probability, fit_cluster, literal_map

VARIABLES = ["G:total#1", "G:total#2"]


def _fit():  # type: ignore[no-untyped-def]
    idx = pd.date_range("2026-03-07 23:00", periods=120, freq="1min", tz="UTC")
    mids = pd.DataFrame({"G:total#1": np.full(120, 0.60), "G:total#2": np.full(120, 0.40),
                         "BRACKET": np.full(120, 0.20)}, index=idx)
    empty = pd.DataFrame(columns=["ts", "legs", "target"])
    return fit_cluster("G", VARIABLES, mids, empty, FitConfig(min_mid_change=0.0),
                       conjunctions={"BRACKET": [("G:total#1", True), ("G:total#2", False)]})


def test_ladder_fit_respects_nesting() -> None:
    model = _fit().model
    p = model.marginals("exact")
    assert p[0] == pytest.approx(0.60, abs=0.01)
    assert p[1] == pytest.approx(0.40, abs=0.01)
    both = float(model.joint_probability({0: True, 1: True}, "exact"))
    assert both == pytest.approx(float(model.joint_probability({1: True}, "exact")), abs=1e-9)
    bracket = float(model.joint_probability({0: True, 1: False}, "exact"))
    assert bracket == pytest.approx(0.20, abs=0.01)
    assert float(model.joint_probability({0: False, 1: True}, "exact")) == 0.0  # exactly, not small


def test_ladder_fit_respects_nesting_through_literal_events() -> None:
    rows = [
        {"market_ticker": "OVER220", "cluster_id": "G",
         "literals": [{"variable_id": VARIABLES[0], "variable_index": 0, "negated": False}]},
        {"market_ticker": "OVER230", "cluster_id": "G",
         "literals": [{"variable_id": VARIABLES[1], "variable_index": 1, "negated": False}]},
        {"market_ticker": "B220_230", "cluster_id": "G",
         "literals": [{"variable_id": VARIABLES[0], "variable_index": 0, "negated": False},
                      {"variable_id": VARIABLES[1], "variable_index": 1, "negated": True}]},
    ]
    lits = literal_map(pd.DataFrame(rows))
    model = _fit().model
    (nested,) = lits.event([("OVER220", "yes"), ("OVER230", "yes")]).clusters
    (over230,) = lits.event([("OVER230", "yes")]).clusters
    assert event_probability(model, nested) == pytest.approx(event_probability(model, over230), abs=1e-9)
    # NO on the bracket is "below 220.5 or above 230.5": the complement of the bracket
    (no_bracket,) = lits.event([("B220_230", "no")]).clusters
    (bracket,) = lits.event([("B220_230", "yes")]).clusters
    assert event_probability(model, no_bracket) + event_probability(model, bracket) == pytest.approx(1.0, abs=1e-12)
    assert event_probability(model, ClusterEvent("G", ((0, False), (1, True)))) == 0.0
