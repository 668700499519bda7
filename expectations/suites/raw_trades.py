"""Trades on base markets: prices are probabilities that sum to one, ids unique. Blocking."""

from typing import Any

from expectations.runner import SuiteSpec

SPEC = SuiteSpec(
    name="raw_trades",
    table="raw.trades",
    blocking=True,
    description="Trades: YES/NO prices in (0, 1) summing to 1, positive size, unique trade ids.",
)


def build(gx: Any) -> Any:
    e = gx.expectations
    suite = gx.ExpectationSuite(name=SPEC.name)
    for col in ("yes_price", "no_price"):
        suite.add_expectation(e.ExpectColumnValuesToBeBetween(
            column=col, min_value=0, max_value=1, strict_min=True, strict_max=True,
            description="a price is a probability strictly inside (0, 1)"))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="count", min_value=0, strict_min=True))
    suite.add_expectation(e.ExpectColumnValuesToBeUnique(column="trade_id"))
    suite.add_expectation(e.ExpectColumnValuesToBeInSet(column="taker_side", value_set=["yes", "no"]))
    suite.add_expectation(e.UnexpectedRowsExpectation(
        unexpected_rows_query="SELECT trade_id, yes_price, no_price FROM {batch} WHERE yes_price + no_price <> 1",
        description="YES and NO prices of a trade sum to 1"))
    return suite
