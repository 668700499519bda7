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
