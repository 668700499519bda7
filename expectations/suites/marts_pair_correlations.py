"""Pairwise correlations of log-odds changes: statistically sane. Not blocking (the copula repairs)."""

from typing import Any

from expectations.runner import SuiteSpec

SPEC = SuiteSpec(
    name="marts_pair_correlations",
    table="marts.pair_correlations",
    blocking=False,
    description="ρ in [-1, 1] inside its confidence interval; ordered pairs; enough observations.",
)


def build(gx: Any) -> Any:
    e = gx.expectations
    suite = gx.ExpectationSuite(name=SPEC.name)
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="rho", min_value=-1, max_value=1))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="n", min_value=10))
    suite.add_expectation(e.ExpectColumnPairValuesAToBeGreaterThanB(column_A="market_b", column_B="market_a"))
    suite.add_expectation(e.UnexpectedRowsExpectation(
        unexpected_rows_query="SELECT market_a, market_b FROM {batch} WHERE NOT (ci_low <= rho AND rho <= ci_high)",
        description="ρ lies inside its confidence interval"))
    return suite
