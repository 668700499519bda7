"""Events: one row each, in a cluster. Not blocking."""

from typing import Any

from expectations.runner import SuiteSpec

SPEC = SuiteSpec(
    name="marts_events",
    table="marts.events",
    blocking=False,
    day_column=None,
    description="Unique events, each in a cluster with at least one market.",
)


def build(gx: Any) -> Any:
    e = gx.expectations
    suite = gx.ExpectationSuite(name=SPEC.name)
    suite.add_expectation(e.ExpectColumnValuesToBeUnique(column="event_ticker"))
    suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column="cluster_id"))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="n_markets", min_value=1))
    return suite
