"""Implied probabilities per book state. Blocking: quotes and fits read them."""

from typing import Any

from expectations.runner import SuiteSpec

SPEC = SuiteSpec(
    name="marts_book_snapshots",
    table="marts.book_snapshots",
    blocking=True,
    description="Implied probabilities strictly inside (0, 1); bid ≤ mid ≤ ask; spreads non-negative on valid rows.",
)


def build(gx: Any) -> Any:
    e = gx.expectations
    suite = gx.ExpectationSuite(name=SPEC.name)
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(
        column="implied_probability", min_value=0, max_value=1, strict_min=True, strict_max=True,
        description="an implied probability is strictly inside (0, 1)"))
    for col in ("market_ticker", "cluster_id", "ts", "reliable", "crossed"):
        suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column=col))
    suite.add_expectation(e.UnexpectedRowsExpectation(
        unexpected_rows_query=(
            "SELECT market_ticker, ts, yes_bid, mid, yes_ask FROM {batch} "
            "WHERE is_valid AND (spread < 0 OR mid < yes_bid OR mid > yes_ask)"
        ),
        description="valid states: bid ≤ mid ≤ ask and spread ≥ 0"))
    suite.add_expectation(e.UnexpectedRowsExpectation(
        unexpected_rows_query="SELECT market_ticker, ts FROM {batch} WHERE is_valid AND (crossed OR NOT reliable)",
        description="a crossed or unreliable book is never marked valid"))
    return suite
