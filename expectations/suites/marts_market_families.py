"""Families of exclusive / nested outcomes. Not blocking (pricing uses binary_variables)."""

from typing import Any

from expectations.runner import SuiteSpec

SPEC = SuiteSpec(
    name="marts_market_families",
    table="marts.market_families",
    blocking=False,
    description="Known family types, at least two members, each member once per family.",
)


def build(gx: Any) -> Any:
    e = gx.expectations
    suite = gx.ExpectationSuite(name=SPEC.name)
    suite.add_expectation(e.ExpectColumnValuesToBeInSet(column="family_type",
                                                       value_set=["exclusive", "nested", "complement"]))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="n_markets", min_value=2))
    suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(
        column_list=["trading_day", "family_id", "market_ticker"]))
    return suite
