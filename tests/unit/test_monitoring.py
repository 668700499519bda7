"""Monitoring math against hand-computed numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.monitoring import (
    Threshold,
    book_variance,
    brier,
    drawdown_series,
    grade,
    hedge_effectiveness,
    indicator_covariance,
    log_loss,
    marked_probability,
    parameter_drift,
    psi,
    reliability_bins,
    slippage_cents,
)


def test_brier_and_log_loss_by_hand() -> None:
    assert brier([0.8, 0.3], [1, 0]) == pytest.approx((0.2**2 + 0.3**2) / 2)  # 0.065
    assert log_loss([0.8, 0.3], [1, 0]) == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2)  # 0.2899
    assert math.isnan(brier([], []))
    with pytest.raises(ValueError):
        brier([0.5], [1, 0])
    assert log_loss([0.0], [1]) == pytest.approx(-math.log(1e-15))  # clipped, never infinite


def test_reliability_bins_by_hand() -> None:
    bins = reliability_bins([0.05, 0.15, 0.12, 1.0], [0, 1, 0, 1], n_bins=10)
    assert [(b.lower, b.n) for b in bins] == [(0.0, 1), (0.1, 2), (0.9, 1)]
    assert bins[1].mean_predicted == pytest.approx(0.135) and bins[1].observed_rate == 0.5
    assert bins[2].upper == 1.0 and bins[2].observed_rate == 1.0  # 1.0 falls in the last bin


def test_psi_by_hand() -> None:
    # flags: reference 75 % / 25 %, current 25 % / 75 %: 2 · 0.5 · ln 3 = ln 3
    assert psi([0, 0, 0, 1], [0, 1, 1, 1]) == pytest.approx(math.log(3))
    assert psi([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == pytest.approx(0.0)
    # 20 distinct values, 2 quantile bins split at 9.5: reference 50/50, current 75/25
    expected = 0.25 * math.log(1.5) + 0.25 * math.log(2)  # 0.2747
    assert psi(list(range(20)), [1, 2, 3, 15], n_bins=2) == pytest.approx(expected)
    assert math.isnan(psi([], [1.0])) and math.isnan(psi([float("nan")], [1.0]))


def test_parameter_drift_by_hand() -> None:
    d = parameter_drift(np.zeros(2), np.zeros((2, 2)), np.array([0.3, -0.4]), np.array([[0, 0.2], [0.2, 0]]))
    assert d["max_abs_dh"] == pytest.approx(0.4) and d["rms_dh"] == pytest.approx(math.sqrt(0.125))
    assert d["max_abs_dJ"] == pytest.approx(0.2) and d["rms_dJ"] == pytest.approx(0.2)
    with pytest.raises(ValueError):
        parameter_drift(np.zeros(2), np.zeros((2, 2)), np.zeros(3), np.zeros((3, 3)))


def _independent(p: dict[str, float]):  # type: ignore[no-untyped-def]
    def prob(legs: tuple[tuple[str, str], ...]) -> float:
        out = 1.0
        for m, s in legs:
            out *= p[m] if s == "yes" else 1 - p[m]
        return out
    return prob


def test_hedge_effectiveness_of_a_minimum_variance_hedge_by_hand() -> None:
    # a parlay A∧B (P = 0.5 · 0.4 = 0.2) paying 10, hedged with 4 YES contracts of A
    events = [(("A", "yes"), ("B", "yes")), (("A", "yes"),)]
    mean, cov = indicator_covariance(events, _independent({"A": 0.5, "B": 0.4}))
    assert mean == pytest.approx([0.2, 0.5])
    assert cov == pytest.approx(np.array([[0.16, 0.1], [0.1, 0.25]]))  # Cov = P(A∧B) − 0.2 · 0.5 = 0.1
    unhedged, hedged = book_variance(cov, [-10, 0]), book_variance(cov, [-10, 4])
    assert (unhedged, hedged) == pytest.approx((16.0, 16 + 4 - 8))  # 100·0.16 + 16·0.25 − 2·10·4·0.1 = 12
    assert hedge_effectiveness(unhedged, hedged) == pytest.approx(0.25)
    assert math.isnan(hedge_effectiveness(0.0, 0.0))


def test_contradicting_events_never_hold_together() -> None:
    _, cov = indicator_covariance([(("A", "yes"),), (("A", "no"),)], _independent({"A": 0.3}))
    assert cov[0, 1] == pytest.approx(-0.3 * 0.7)


def test_slippage_against_the_mid_in_cents() -> None:
    assert slippage_cents("yes", "buy", 0.55, 0.52) == pytest.approx(3.0)
    assert slippage_cents("no", "buy", 0.50, 0.52) == pytest.approx(2.0)  # NO mid = 0.48
    assert slippage_cents("yes", "sell", 0.50, 0.52) == pytest.approx(2.0)
    assert slippage_cents("yes", "buy", 0.50, 0.52) == pytest.approx(-2.0)  # better than the mid


def test_marked_probability_and_drawdown_series() -> None:
    assert marked_probability(0.3, [0.5, 0.6], [0.6, 0.6]) == pytest.approx(0.36)
    assert marked_probability(0.3, [0.5, 0.6], [1.0, 0.0]) == 0.0
    assert marked_probability(0.9, [0.5], [1.0]) == 1.0  # clipped
    peaks, dds = drawdown_series([100, 110, 99, 120])
    assert peaks == [100, 110, 110, 120] and dds == pytest.approx([0, 0, 0.1, 0])
    assert drawdown_series([90], peak0=100)[1] == pytest.approx([0.1])


def test_grades() -> None:
    dd = Threshold(warn=0.16, error=0.2)
    assert [grade(v, dd) for v in (0.1, 0.17, 0.2, float("nan"), None)] == ["ok", "warn", "error", "ok", "ok"]
    fill = Threshold(warn=0.9, error=0.5, higher_is_worse=False)
    assert [grade(v, fill) for v in (0.95, 0.8, 0.4)] == ["ok", "warn", "error"]
    with pytest.raises(ValueError):
        Threshold(warn=0.5, error=0.1)
