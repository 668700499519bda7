"""Market metadata: one row per market, every market in a cluster. Not blocking."""

from typing import Any

from expectations.runner import SuiteSpec

SPEC = SuiteSpec(
    name="marts_markets",
    table="marts.markets",
    blocking=False,
    day_column=None,
    description="Unique tickers, a cluster for every market, results only yes/no.",
)


def build(gx: Any) -> Any:
    e = gx.expectations
    suite = gx.ExpectationSuite(name=SPEC.name)
    suite.add_expectation(e.ExpectColumnValuesToBeUnique(column="market_ticker"))
    suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column="cluster_id"))
    suite.add_expectation(e.ExpectColumnValuesToBeInSet(column="result", value_set=["yes", "no"]))
    return suite
