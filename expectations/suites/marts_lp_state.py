"""LP state view over the ledger. Not blocking (empty until bets exist)."""

from typing import Any

from expectations.runner import SuiteSpec

SPEC = SuiteSpec(
    name="marts_lp_state",
    table="marts.lp_state",
    blocking=False,
    day_column=None,
    description="Known grains; liabilities and open bets non-negative.",
)


def build(gx: Any) -> Any:
    e = gx.expectations
    suite = gx.ExpectationSuite(name=SPEC.name)
    suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column="grain"))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="liability", min_value=0))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="open_bets", min_value=0))
    return suite
