"""Performance and accuracy figures of the pricing core (printed, not asserted).

Run with ``pytest -m benchmark -s tests/unit/pricing/test_benchmarks.py``.
"""

from __future__ import annotations

import json

import pytest

from models.pricing import bench


def _show(title: str, figures: object) -> None:
    print(f"\n== {title}\n{json.dumps(figures, indent=2)}")


@pytest.mark.benchmark
def test_accuracy_of_approximate_joint_probabilities() -> None:
    figures = bench.accuracy_benchmark()
    print("\n== accuracy: approximate vs exact joint_probability, n=18, 2–10 legs")
    print(f"{'kind':6} {'scale':>5} {'method':9} {'cut':>3} {'mean':>9} {'p99':>9} {'max':>9} "
          f"{'nc':>3} {'med|ρ|':>6} {'max|ρ|':>6}")
    for r in figures["rows"]:
        print(f"{r['kind']:6} {r['coupling_scale']:5.2f} {r['method']:9} {r['cutset']:3d} "
              f"{r['mean_abs_error']:9.2e} {r['p99_abs_error']:9.2e} {r['max_abs_error']:9.2e} "
              f"{r['not_converged']:3d} {r['median_abs_corr']:6.3f} {r['max_abs_corr']:6.3f}")


@pytest.mark.benchmark
def test_quote_latency_on_a_135_variable_cluster() -> None:
    _show("10-leg quote, 135 variables, mean degree ~10", bench.speed_benchmark())
    _show("10-leg quote, 135 variables, ferromagnetic", bench.speed_benchmark(kind="ferro"))
    _show("10-leg quote, 135 variables, fully connected",
          bench.speed_benchmark(mean_degree=134.0, coupling_scale=0.1, quotes=100))


@pytest.mark.benchmark
def test_sgd_update_cost_on_a_135_variable_cluster() -> None:
    _show("SGD update, 135 variables", bench.sgd_benchmark())


@pytest.mark.benchmark
def test_exact_enumeration_speed() -> None:
    _show("exact enumeration", bench.exact_benchmark())


@pytest.mark.benchmark
def test_structure_accuracy_cases_latency_and_fit() -> None:
    _show("accuracy cases a–d (old cutset BP vs the exact engine)", bench.accuracy_cases(queries=20, pgmpy_queries=3))
    _show("10-leg quote on a fitted 135-market game cluster", bench.quote_benchmark(quotes=100))
    _show("fit of a 135-market game cluster over a simulated day", bench.fit_benchmark())


@pytest.mark.benchmark
def test_fee_correction_ablation_figures() -> None:
    _show("fee-correction ablation: fitted all-YES pair probabilities vs the true law",
          bench.fee_correction_ablation())
