"""Candles: OHLC consistent, prices are probabilities. Not blocking (features forward-fill)."""

from typing import Any

from expectations.runner import SuiteSpec

SPEC = SuiteSpec(
    name="raw_candles",
    table="raw.candles",
    blocking=False,
    description="Candles: low ≤ open, close ≤ high for bids, asks and trade prices; prices within [0, 1].",
)


def build(gx: Any) -> Any:
    e = gx.expectations
    suite = gx.ExpectationSuite(name=SPEC.name)
    for group in ("yes_bid", "yes_ask", "price"):
        for part in ("open", "high", "low", "close"):
            suite.add_expectation(e.ExpectColumnValuesToBeBetween(column=f"{group}_{part}", min_value=0, max_value=1))
        suite.add_expectation(e.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                f"SELECT market_ticker, end_ts FROM {{batch}} WHERE {group}_low > {group}_high "
                f"OR {group}_open NOT BETWEEN {group}_low AND {group}_high "
                f"OR {group}_close NOT BETWEEN {group}_low AND {group}_high"
            ),
            description=f"{group}: low ≤ open, close ≤ high"))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="volume", min_value=0))
    return suite
