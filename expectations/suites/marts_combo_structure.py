"""Impossibility verdicts per combo. Blocking: an impossible combo must never be quoted or learned."""

from typing import Any

from expectations.runner import SuiteSpec

SPEC = SuiteSpec(
    name="marts_combo_structure",
    table="marts.combo_structure",
    blocking=True,
    description="One verdict per combo and day; impossible verdicts name their reason.",
)


def build(gx: Any) -> Any:
    e = gx.expectations
    suite = gx.ExpectationSuite(name=SPEC.name)
    suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(column_list=["trading_day", "combo_ticker"]))
    suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column="impossible"))
    suite.add_expectation(e.UnexpectedRowsExpectation(
        unexpected_rows_query="SELECT combo_ticker FROM {batch} WHERE impossible AND impossible_reason IS NULL",
        description="an impossible verdict names its reason"))
    return suite
