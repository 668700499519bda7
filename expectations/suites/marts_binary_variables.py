"""The structural mapping of markets onto Ising variables. Blocking: pricing reads it."""

from typing import Any

from expectations.runner import SuiteSpec

SPEC = SuiteSpec(
    name="marts_binary_variables",
    table="marts.binary_variables",
    blocking=True,
    description="Every market mapped once per day, with at least one literal when it defines a variable.",
)


def build(gx: Any) -> Any:
    e = gx.expectations
    suite = gx.ExpectationSuite(name=SPEC.name)
    suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(column_list=["trading_day", "market_ticker"]))
    suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column="cluster_id"))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="n_literals", min_value=0))
    suite.add_expectation(e.UnexpectedRowsExpectation(
        unexpected_rows_query="SELECT market_ticker FROM {batch} WHERE cell_lo >= cell_hi",
        description="a market covers a non-empty range of cells"))
    return suite
