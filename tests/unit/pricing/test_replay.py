"""Replay fitting and the market → literal mapping (models.pricing.replay)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.pricing.ising import InferenceConfig, IsingModel
from models.pricing.replay import ClusterEvent, FitConfig, event_probability, fit_cluster, literal_map


def lit(var: str, index: int, negated: bool = False) -> dict[str, object]:
    return {"variable_id": var, "variable_index": index, "negated": negated, "threshold": None}


ROWS = [
    # a game: home win is variable 0, the away moneyline is its negation; a total axis with two cells
    {"market_ticker": "HOME", "cluster_id": "G", "literals": [lit("home", 0)], "complement_ticker": "AWAY"},
    {"market_ticker": "AWAY", "cluster_id": "G", "literals": [lit("home", 0, True)], "complement_ticker": "HOME"},
    {"market_ticker": "OVER200", "cluster_id": "G", "literals": [lit("total#1", 1)]},
    {"market_ticker": "OVER210", "cluster_id": "G", "literals": [lit("total#2", 2)]},
    {"market_ticker": "T200_210", "cluster_id": "G", "literals": [lit("total#1", 1), lit("total#2", 2, True)]},
    {"market_ticker": "OTHER", "cluster_id": "H", "literals": [lit("x", 0)]},
]
LITERALS = literal_map(pd.DataFrame(ROWS))


def brute_force(model: IsingModel, accept) -> float:  # type: ignore[no-untyped-def]
    n = model.n
    weights, hits = 0.0, 0.0
    for bits in itertools.product([0, 1], repeat=n):
        x = np.array(bits, dtype=float)
        w = float(np.exp(model.h @ x + 0.5 * x @ model.J @ x))
        weights += w
        hits += w if accept(bits) else 0.0
    return hits / weights


def test_literal_map_orders_variables_and_joins_clusters() -> None:
    assert LITERALS.variables == {"G": ("home", "total#1", "total#2"), "H": ("x",)}
    assert LITERALS.cluster_of("OTHER") == "H"


def test_both_moneylines_are_impossible_and_a_bracket_no_is_an_exclusion() -> None:
    assert LITERALS.event([("HOME", "yes"), ("AWAY", "yes")]).impossible
    assert not LITERALS.event([("HOME", "yes"), ("AWAY", "no")]).impossible
    # over 210 implies over 200 (a nested axis): "over 210 and not over 200" cannot happen
    assert LITERALS.event([("OVER210", "yes"), ("OVER200", "no")]).impossible
    ev = LITERALS.event([("HOME", "yes"), ("T200_210", "no")])
    (g,) = ev.clusters
    assert g.required == ((0, True),) and g.excluded == (((1, True), (2, False)),)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3),
       st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3),
       st.sampled_from(["yes", "no"]), st.sampled_from(["yes", "no"]))
def test_event_probability_equals_brute_force(h, j, side_home, side_bracket) -> None:  # type: ignore[no-untyped-def]
    J = np.zeros((3, 3))
    J[0, 1], J[0, 2], J[1, 2] = j
    J = J + J.T
    model = IsingModel(np.array(h), J, InferenceConfig())
    ev = LITERALS.event([("HOME", side_home), ("T200_210", side_bracket)])
    (g,) = ev.clusters

    def accept(bits) -> bool:  # type: ignore[no-untyped-def]
        home_ok = bits[0] == (1 if side_home == "yes" else 0)
        in_bracket = bits[1] == 1 and bits[2] == 0
        return home_ok and (in_bracket if side_bracket == "yes" else not in_bracket)

    assert event_probability(model, g, "exact") == pytest.approx(brute_force(model, accept), abs=1e-10)


def test_a_conflicting_event_is_zero() -> None:
    model = IsingModel(np.zeros(3), np.zeros((3, 3)), InferenceConfig())
    assert event_probability(model, ClusterEvent("G", ((0, True),), (), True)) == 0.0


def _minutes(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2026-03-07 23:00", periods=n, freq="1min", tz="UTC")


def test_fit_initializes_from_median_mids_and_tracks_moving_markets() -> None:
    idx = _minutes(120)
    path = np.r_[np.full(40, 0.30), np.linspace(0.30, 0.70, 80)]
    mids = pd.DataFrame({"a": path, "b": np.full(120, 0.6)}, index=idx)
    empty = pd.DataFrame(columns=["ts", "legs", "target"])
    checkpoints = [idx[10], idx[35], idx[-1]]
    r = fit_cluster("G", ["a", "b"], mids, empty, FitConfig(eta_h=2.0, min_mid_change=0.0),
                    checkpoints=checkpoints)
    p0 = r.initial_model.marginals("exact")
    assert p0 == pytest.approx([0.30, 0.60], abs=1e-6)  # median of the first 30 mids
    assert r.model.marginals("exact")[0] == pytest.approx(0.70, abs=0.03)  # followed the market up
    assert r.converged and r.metrics.n_parlay_updates == 0 and r.metrics.n_couplings == 0
    # a snapshot at minute 10 would hold fields from mids up to minute 29 (known at minute 30): not kept
    assert [t for t, _ in r.snapshots] == checkpoints[1:]
    assert any("not kept" in n for n in r.notes), r.notes
    early, late = (m.marginals("exact")[0] for _, m in r.snapshots)
    assert early == pytest.approx(0.30, abs=0.02)  # a mid is known a minute after its label: nothing moved yet
    assert late == pytest.approx(0.70, abs=0.04)


def test_parlay_targets_learn_the_coupling() -> None:
    """A joint target above the independence price (0.25) pulls the coupling up (and the fields with it)."""
    idx = _minutes(60)
    mids = pd.DataFrame({"a": np.full(60, 0.5), "b": np.full(60, 0.5)}, index=idx)
    targets = pd.DataFrame({"ts": idx[30:], "legs": [{"a": True, "b": True}] * 30, "target": [0.40] * 30})
    r = fit_cluster("G", ["a", "b"], mids, targets, FitConfig(eta_h=0.5, eta_J=1.0))
    assert r.model.J[0, 1] > 0.3
    assert float(r.model.joint_probability({0: True, 1: True}, "exact")) == pytest.approx(0.40, abs=0.03)
    assert r.metrics.final_mae < r.metrics.initial_mae
    assert r.metrics.n_parlay_updates == 30


def test_fits_use_the_same_exact_inference_as_quotes_beyond_twelve_variables() -> None:
    """Issue 8, finding 4: fits enumerated only up to n = 12 and took gradients from BP above."""
    from models.pricing.replay import default_fit_inference

    assert default_fit_inference() == InferenceConfig()
    idx = _minutes(40)
    names = [f"v{i}" for i in range(16)]
    rng = np.random.default_rng(0)
    mids = pd.DataFrame({v: np.clip(0.5 + 0.1 * np.cumsum(rng.normal(0, 0.1, 40)), 0.05, 0.95) for v in names},
                        index=idx)
    targets = pd.DataFrame({"ts": idx[20:30], "legs": [{"v0": True, "v5": True, "v9": False}] * 10,
                            "target": [0.2] * 10})
    r = fit_cluster("G", names, mids, targets, FitConfig(eta_J=1.0))
    assert r.diagnostics is not None and r.diagnostics.method == "exact"
    assert r.model.joint_probability({0: True, 5: True}).diagnostics.method == "exact"


def test_snapshots_at_t_do_not_change_when_every_later_event_does() -> None:
    """Point in time: perturb every mid and every parlay target stamped after T; the snapshots at or before T are
    the same models, the later ones are not."""
    idx = _minutes(120)
    rng = np.random.default_rng(3)
    a = np.clip(0.4 + np.cumsum(rng.normal(0, 0.01, 120)), 0.05, 0.95)
    b = np.clip(0.6 + np.cumsum(rng.normal(0, 0.01, 120)), 0.05, 0.95)
    mids = pd.DataFrame({"a": a, "b": b}, index=idx)
    ts = idx[5::7] + pd.Timedelta(seconds=20)
    targets = pd.DataFrame({"ts": ts, "legs": [(("a", True), ("b", True))] * len(ts),
                            "target": np.clip(a[5::7] * b[5::7] + 0.05, 0.01, 0.99)})
    T = idx[75]
    later = idx > T - pd.Timedelta(minutes=1)  # a minute's mid is known at its end: minute T−1 is known at T
    mids2 = mids.copy()
    mids2.loc[later, "a"] = 0.9
    mids2.loc[later, "b"] = 0.1
    targets2 = targets.copy()
    targets2.loc[targets2["ts"] > T, "target"] = 0.5
    cps = [idx[45], idx[60], T, idx[90], idx[-1]]
    cfg = FitConfig(min_mid_change=0.0)
    r1 = fit_cluster("G", ["a", "b"], mids, targets, cfg, checkpoints=cps)
    r2 = fit_cluster("G", ["a", "b"], mids2, targets2, cfg, checkpoints=cps)
    assert [t for t, _ in r1.snapshots] == cps == [t for t, _ in r2.snapshots]
    for (t, m1), (_, m2) in zip(r1.snapshots, r2.snapshots, strict=True):
        same = np.array_equal(m1.h, m2.h) and np.array_equal(m1.J, m2.J)
        assert same == (t <= T), t
