"""Rebuilt order books: prices are probabilities, books are not crossed, depth is sane. Blocking:
quotes are priced off these books."""

from typing import Any

from expectations.runner import SuiteSpec

SPEC = SuiteSpec(
    name="raw_orderbook_tops",
    table="raw.orderbook_tops",
    blocking=True,
    description="Rebuilt books: bids strictly inside (0, 1), reliable books never crossed, depths non-negative.",
)


def build(gx: Any) -> Any:
    e = gx.expectations
    suite = gx.ExpectationSuite(name=SPEC.name)
    for col in ("yes_bid", "no_bid"):
        suite.add_expectation(e.ExpectColumnValuesToBeBetween(
            column=col, min_value=0, max_value=1, strict_min=True, strict_max=True,
            description="a bid is a probability strictly inside (0, 1)"))
    for col in ("yes_depth_5c", "no_depth_5c", "yes_depth", "no_depth"):
        suite.add_expectation(e.ExpectColumnValuesToBeBetween(column=col, min_value=0))
    for col in ("market_ticker", "ts", "reliable", "crossed"):
        suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column=col))
    suite.add_expectation(e.UnexpectedRowsExpectation(
        unexpected_rows_query=(
            "SELECT market_ticker, ts, yes_bid, no_bid FROM {batch} WHERE reliable AND yes_bid + no_bid > 1"
        ),
        description="crossed book: best YES bid + best NO bid > 1 at the end of a second"))
    suite.add_expectation(e.UnexpectedRowsExpectation(
        unexpected_rows_query=(
            "SELECT market_ticker, ts FROM {batch} WHERE yes_depth_5c > yes_depth OR no_depth_5c > no_depth"
        ),
        description="depth within 5¢ cannot exceed total depth"))
    return suite
