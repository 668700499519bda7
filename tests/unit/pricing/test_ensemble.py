"""The ensemble pricer: coherent quotes, impossible legs priced 0, members combined as documented."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.pricing.coherence import check_quote_coherence
from models.pricing.ensemble import EnsembleConfig, EnsemblePricer, synthetic_pricer
from models.pricing.quotes import UnknownMarket

PRICER = synthetic_pricer(n_clusters=2, markets_per_cluster=9, mean_degree=4.0, seed=5, coupling_scale=0.8)
TICKERS = sorted(PRICER.markets())


@st.composite
def parlays(draw: st.DrawFn) -> list[tuple[str, str]]:
    tickers = draw(st.lists(st.sampled_from(TICKERS), min_size=1, max_size=6, unique=True))
    return [(t, draw(st.sampled_from(["yes", "no"]))) for t in tickers]


@settings(max_examples=150, deadline=None)
@given(parlays())
def test_every_quote_is_within_the_frechet_bounds_of_its_legs(legs: list[tuple[str, str]]) -> None:
    q = PRICER.quote(legs)
    assert check_quote_coherence(q) is None, (legs, q)
    assert q.frechet_lower - 1e-12 <= q.probability <= q.frechet_upper + 1e-12
    assert q.uncertainty >= PRICER.config.min_uncertainty


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(TICKERS))
def test_yes_and_no_of_one_market_sum_to_one(ticker: str) -> None:
    yes, no = PRICER.quote([(ticker, "yes")]), PRICER.quote([(ticker, "no")])
    assert yes.probability + no.probability == pytest.approx(1.0, abs=1e-12)


def test_both_sides_of_one_market_are_impossible_and_priced_zero() -> None:
    q = PRICER.quote([(TICKERS[0], "yes"), (TICKERS[0], "no")])
    assert q.impossible and q.probability == 0.0 and q.members == ()


def test_unknown_market_is_refused_with_a_reason() -> None:
    with pytest.raises(UnknownMarket, match="not in the quotable set"):
        PRICER.quote([("NOPE", "yes")])


def test_ising_only_ensemble_equals_the_exact_joint() -> None:
    only = EnsemblePricer(PRICER.clusters, PRICER.literals, config=EnsembleConfig(
        ising_weight=1.0, copula_weight=0.0, catboost_weight=0.0, independence_weight=0.0))
    legs = [(TICKERS[0], "yes"), (TICKERS[1], "no"), (TICKERS[2], "yes")]
    cm = next(iter(only.clusters.values()))
    idx = {f"KXSYN-{cm.cluster_id}-M{i:03d}": i for i in range(cm.model.n)}
    exact = cm.model.joint_probability({idx[t]: s == "yes" for t, s in legs}, "exact")
    q = only.quote(legs)
    assert q.probability == pytest.approx(float(exact), abs=1e-9)
    assert q.uncertainty == pytest.approx(only.config.min_uncertainty + only.config.frechet_width_share
                                          * (q.frechet_upper - q.frechet_lower), abs=1e-12)


def test_members_disagreeing_widen_the_uncertainty() -> None:
    legs = [(TICKERS[0], "yes"), (TICKERS[3], "yes"), (TICKERS[5], "yes")]
    q = PRICER.quote(legs)
    names = {m.name for m in q.members}
    assert {"ising", "copula", "independence"} <= names
    spread = max(m.probability for m in q.members) - min(m.probability for m in q.members)
    floor = PRICER.config.min_uncertainty + PRICER.config.frechet_width_share * (q.frechet_upper - q.frechet_lower)
    assert (q.uncertainty > floor) == (spread > 1e-12)


def test_cross_cluster_parlays_multiply() -> None:
    a = next(t for t in TICKERS if "SYN00" in t)
    b = next(t for t in TICKERS if "SYN01" in t)
    qa, qb, both = PRICER.quote([(a, "yes")]), PRICER.quote([(b, "no")]), PRICER.quote([(a, "yes"), (b, "no")])
    ising = {m.name: m.probability for m in both.members}["ising"]
    assert ising == pytest.approx(qa.probability * qb.probability, abs=1e-12)


# ----------------------------------------------------------------------------- structured clusters
def _ladder_pricer(classifier=None):  # type: ignore[no-untyped-def]
    """One game: a total axis with thresholds 210/220/230 (over markets) and brackets on the same cuts,
    a margin axis with the moneyline and one spread, and a free prop; couplings between the axes."""
    import numpy as np

    from models.pricing.baselines import nearest_correlation
    from models.pricing.ensemble import ClusterModel
    from models.pricing.ising import InferenceConfig, IsingModel
    from models.pricing.replay import literal_map

    ids = ["G:total#1", "G:total#2", "G:total#3", "G:margin#1", "G:margin#2", "G:prop"]
    rows = []

    def lit(i: int, neg: bool = False) -> dict[str, object]:
        return {"variable_id": ids[i], "variable_index": i, "negated": neg}

    for t, i in (("O210", 0), ("O220", 1), ("O230", 2)):
        rows.append({"market_ticker": t, "cluster_id": "G", "literals": [lit(i)]})
    rows.append({"market_ticker": "U210", "cluster_id": "G", "literals": [lit(0, True)]})
    rows.append({"market_ticker": "B210", "cluster_id": "G", "literals": [lit(0), lit(1, True)]})
    rows.append({"market_ticker": "B220", "cluster_id": "G", "literals": [lit(1), lit(2, True)]})
    rows.append({"market_ticker": "HOME", "cluster_id": "G", "literals": [lit(3)], "complement_ticker": "AWAY"})
    rows.append({"market_ticker": "AWAY", "cluster_id": "G", "literals": [lit(3, True)], "complement_ticker": "HOME"})
    rows.append({"market_ticker": "HOME5", "cluster_id": "G", "literals": [lit(4)]})
    rows.append({"market_ticker": "PROP", "cluster_id": "G", "literals": [lit(5)]})
    lits = literal_map(rows)
    rng = np.random.default_rng(0)
    J = np.zeros((6, 6))
    for a, b in ((0, 3), (1, 4), (2, 5), (3, 5), (0, 5)):
        J[a, b] = J[b, a] = rng.normal(0.0, 0.8)
    model = IsingModel(np.array([0.8, -0.3, -0.5, 0.1, -1.0, 0.2]), J, InferenceConfig(),
                       lits.structure("G"))
    corr = nearest_correlation(np.clip(np.eye(6) + 0.3 * rng.normal(size=(6, 6)), -0.9, 0.9))
    cm = ClusterModel("G", tuple(ids), model, corr)
    return EnsemblePricer({"G": cm}, lits, classifier=classifier, version="ladder")


def test_every_member_respects_implication_and_single_node_events_agree() -> None:
    pricer = _ladder_pricer()
    p = {t: pricer.quote([(t, "yes")]).probability for t in ("O210", "O220", "O230", "B210", "B220", "U210")}
    assert p["O210"] >= p["O220"] >= p["O230"]
    for legs, expect in (
        ([("O210", "yes"), ("O230", "yes")], p["O230"]),  # nested pair = the stronger leg
        ([("O230", "yes"), ("O220", "yes"), ("O210", "yes")], p["O230"]),
        ([("O210", "yes"), ("B210", "yes")], p["B210"]),  # a bracket with the ladder leg it implies
        ([("B220", "no")], 1.0 - p["B220"]),
        ([("O210", "no")], p["U210"]),
    ):
        q = pricer.quote(legs)
        for m in q.members:  # every member on the canonical event, not only the ensemble
            assert m.probability == pytest.approx(expect, abs=1e-12), (legs, m)
        assert q.probability == pytest.approx(expect, abs=1e-12)
    # P(over 210) = P(bracket 210–220) + P(bracket 220–230) + P(over 230); the family sums to 1
    assert p["O210"] == pytest.approx(p["B210"] + p["B220"] + p["O230"], abs=1e-12)
    assert p["U210"] + p["B210"] + p["B220"] + p["O230"] == pytest.approx(1.0, abs=1e-12)
    assert pricer.quote([("O230", "yes"), ("O210", "no")]).impossible
    assert pricer.quote([("B210", "yes"), ("B220", "yes")]).impossible
    assert pricer.quote([("HOME", "yes"), ("AWAY", "yes")]).impossible


def test_independence_and_copula_are_exact_within_a_node_and_combine_across_nodes() -> None:
    pricer = _ladder_pricer()
    cm = pricer.clusters["G"]
    q = pricer.quote([("O220", "yes"), ("HOME5", "yes"), ("O210", "yes")])
    members = {m.name: m.probability for m in q.members}
    p_total = float(cm.node_marginals[0][2:].sum())  # O220 ∧ O210 = O220
    p_margin = float(cm.node_marginals[1][2:].sum())
    assert members["independence"] == pytest.approx(p_total * p_margin, abs=1e-12)
    exact = float(cm.model.joint_probability({1: True, 4: True}, "exact"))
    assert members["ising"] == pytest.approx(exact, abs=1e-12)
    lo, hi = max(0.0, p_total + p_margin - 1.0), min(p_total, p_margin)
    assert lo <= members["copula"] <= hi
    assert pricer.joint({"O220": True, "HOME5": True, "O210": True}) == pytest.approx(exact, abs=1e-12)
    assert pricer.joint({"O230": True, "O210": False}) == 0.0


def test_an_inference_failure_refuses_the_quote_instead_of_a_fallback_price() -> None:
    import numpy as np

    from models.pricing.ensemble import ClusterModel
    from models.pricing.ising import IsingModel
    from models.pricing.quotes import ModelNotConverged
    from models.pricing.results import InferenceDiagnostics, NotConvergedError

    class FailingJoints(IsingModel):
        """Marginals fine, every joint query fails as a non-converged BP would."""

        def probability(self, event, method="auto", *, strict=True):  # type: ignore[no-untyped-def]
            if len(event.masks) >= 2:
                raise NotConvergedError("bp did not converge", InferenceDiagnostics("bp", False))
            return super().probability(event, method, strict=strict)

    base = PRICER.clusters["SYN00"]
    failing = FailingJoints(base.model.h, base.model.J, base.model.config)
    clusters = dict(PRICER.clusters)
    clusters["SYN00"] = ClusterModel("SYN00", base.variables, failing, np.eye(base.model.n))
    pricer = EnsemblePricer(clusters, PRICER.literals)
    a, b = [t for t in TICKERS if "SYN00" in t][:2]
    assert pricer.quote([(a, "yes")]).probability == pytest.approx(PRICER.quote([(a, "yes")]).probability)
    with pytest.raises(ModelNotConverged, match="SYN00") as info:
        pricer.quote([(a, "yes"), (b, "no")])
    assert info.value.code == "model_not_converged"
