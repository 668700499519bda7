"""The 1-minute panel. Blocking: the Ising fit is initialized and trained from it."""

from typing import Any

from expectations.runner import SuiteSpec

SPEC = SuiteSpec(
    name="marts_price_panel_1m",
    table="marts.price_panel_1m",
    blocking=True,
    description="Mids and implied probabilities in (0, 1), one row per market and minute, staleness ≥ 0.",
)


def build(gx: Any) -> Any:
    e = gx.expectations
    suite = gx.ExpectationSuite(name=SPEC.name)
    for col in ("mid", "implied_probability"):
        suite.add_expectation(e.ExpectColumnValuesToBeBetween(
            column=col, min_value=0, max_value=1, strict_min=True, strict_max=True,
            description="a probability is strictly inside (0, 1)"))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="staleness_seconds", min_value=0))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="volume", min_value=0))
    suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(column_list=["market_ticker", "minute"]))
    return suite
