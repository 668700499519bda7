"""The pricing checks can fail: ``quotes_coherent`` judges raw model outputs (every clip is a failure) and
``ensemble_calibrated`` never passes without data."""

from __future__ import annotations

import numpy as np
import pytest

from models.pricing.coherence import audit_quotes, check_quote_coherence
from models.pricing.ensemble import ClusterModel, EnsemblePricer, synthetic_pricer
from models.pricing.ising import IsingModel

PRICER = synthetic_pricer(n_clusters=1, markets_per_cluster=6, mean_degree=3.0, seed=3, coupling_scale=0.8)
TICKERS = sorted(PRICER.markets())


class Overpriced(IsingModel):
    """Single-node masses exact, every joint of two or more nodes 0.3 too high: an incoherent model output
    that the pricer's clipping into the Fréchet bounds would hide."""

    def probability(self, event, method="auto", *, strict=True):  # type: ignore[no-untyped-def]
        p = super().probability(event, method, strict=strict)
        return float(p) + 0.3 if len(event.masks) >= 2 else p


def _broken_pricer() -> EnsemblePricer:
    base = PRICER.clusters["SYN00"]
    bad = Overpriced(base.model.h, base.model.J, base.model.config)
    return EnsemblePricer({"SYN00": ClusterModel("SYN00", base.variables, bad, np.eye(base.model.n))}, PRICER.literals)


def test_a_clipped_quote_is_incoherent_even_though_its_price_is_inside_the_bounds() -> None:
    pricer = _broken_pricer()
    q = pricer.quote([(TICKERS[0], "yes"), (TICKERS[1], "yes")])
    assert q.frechet_lower - 1e-12 <= q.probability <= q.frechet_upper + 1e-12  # the quoted number looks fine
    assert q.clips, q  # … because it was clipped
    assert q.unclipped_probability is not None and q.unclipped_probability > q.frechet_upper
    problem = check_quote_coherence(q)
    assert problem is not None and "clip" in problem


def test_quotes_coherent_audit_fails_on_a_clipping_pricer_and_passes_on_a_coherent_one() -> None:
    bad = audit_quotes(_broken_pricer(), TICKERS)
    assert bad["violations"] > 0 and bad["clips"] > 0
    good = audit_quotes(PRICER, TICKERS)
    assert good["violations"] == 0 and good["clips"] == 0
    assert good["contracts_checked"] == bad["contracts_checked"] == 2 * 6 + 4 * 15 + 8 * 20


def test_ensemble_calibrated_without_held_back_parlays_is_a_failed_warning_not_a_pass() -> None:
    import dagster as dg

    from dagster_project.assets.pricing import calibration_result

    empty = calibration_result([])
    assert empty.passed is False
    assert empty.severity == dg.AssetCheckSeverity.WARN
    assert "no data" in str(empty.metadata["note"])
    worse = calibration_result([("ensemble", 40, 0.20, 0.6), ("independence", 40, 0.15, 0.5)])
    assert worse.passed is False
    fine = calibration_result([("ensemble", 40, 0.15, 0.5), ("independence", 40, 0.155, 0.5)])
    assert fine.passed is True


@pytest.mark.parametrize("legs", [[(TICKERS[0], "yes"), (TICKERS[2], "no")], [(TICKERS[3], "no")]])
def test_coherent_quotes_carry_no_clips(legs: list[tuple[str, str]]) -> None:
    q = PRICER.quote(legs)
    assert q.clips == () and check_quote_coherence(q) is None
