"""Fit diagnostics a quant can trust (issue 14): prequential scores, and a blocking check that fails when
learning made the predictions worse than the prior model's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.pricing.learning import cross_entropy
from models.pricing.replay import FitConfig, fit_cluster, prequential_regression


def _minutes(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2026-03-07 23:00", periods=n, freq="1min", tz="UTC")


def _fit(targets: list[float], **config: float):  # type: ignore[no-untyped-def]
    idx = _minutes(60)
    mids = pd.DataFrame({"a": np.full(60, 0.5), "b": np.full(60, 0.5)}, index=idx)
    frame = pd.DataFrame(
        {"ts": idx[30 : 30 + len(targets)], "legs": [{"a": True, "b": True}] * len(targets), "target": targets}
    )
    return fit_cluster("G", ["a", "b"], mids, frame, FitConfig(**config))  # type: ignore[arg-type]


def test_final_scores_are_prequential_each_target_scored_by_the_model_just_before_it() -> None:
    r = _fit([0.40] * 30, eta_h=0.5, eta_J=1.0)
    parlay = r.trajectory[r.trajectory["kind"] == "parlay"]
    # the final CE is the mean of the losses before each update, never the end-of-day model on seen targets
    assert r.metrics.final_ce == pytest.approx(float(parlay["loss_before"].mean()), abs=1e-12)
    assert r.metrics.final_mae == pytest.approx(float((parlay["price_before"] - parlay["target"]).abs().mean()))
    end_of_day = float(r.model.joint_probability({0: True, 1: True}, "exact"))
    assert r.metrics.final_mae > abs(end_of_day - 0.40)  # in-sample would flatter the fit
    # the initial CE is the prior model (independence, 0.25) on every target
    assert r.metrics.initial_ce == pytest.approx(cross_entropy(0.40, 0.25), abs=1e-9)
    assert r.metrics.final_ce < r.metrics.initial_ce
    assert prequential_regression(r.metrics.as_dict()) is None


def test_fit_converged_fails_when_learning_predicts_worse_than_the_prior() -> None:
    from dagster_project.assets.pricing import fit_converged_result

    # targets alternate around the prior's own price (0.25); steps this large chase each one and overshoot
    r = _fit([0.45, 0.05] * 15, eta_h=4.0, eta_J=8.0)
    assert r.converged  # inference is fine …
    assert r.metrics.final_ce > r.metrics.initial_ce  # … but the updates hurt the predictions
    m = r.metrics.as_dict()
    reason = prequential_regression(m)
    assert reason is not None and "worse than the prior" in reason
    verdict = fit_converged_result("v1", r.converged, m)
    assert verdict.passed is False and "prequential" in str(verdict.metadata["why"])
    good = _fit([0.40] * 30, eta_h=0.5, eta_J=1.0)
    assert fit_converged_result("v2", good.converged, good.metrics.as_dict()).passed is True
