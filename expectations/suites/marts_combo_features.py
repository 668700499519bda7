"""Parlay features. Blocking: impossible combos must be flagged and priced 0; prices coherent."""

from typing import Any

from expectations.runner import SuiteSpec

SPEC = SuiteSpec(
    name="marts_combo_features",
    table="marts.combo_features",
    blocking=True,
    description="Independence price within the Fréchet bounds; bounds ordered; leg counts consistent; "
                "impossible combos carry a reason.",
)


def build(gx: Any) -> Any:
    e = gx.expectations
    suite = gx.ExpectationSuite(name=SPEC.name)
    for col in ("independence_price", "frechet_lower", "frechet_upper"):
        suite.add_expectation(e.ExpectColumnValuesToBeBetween(column=col, min_value=0, max_value=1))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="n_legs", min_value=2))
    suite.add_expectation(e.UnexpectedRowsExpectation(
        unexpected_rows_query=(
            "SELECT combo_ticker, independence_price, frechet_lower, frechet_upper FROM {batch} "
            "WHERE independence_price < frechet_lower - 1e-9 OR independence_price > frechet_upper + 1e-9"
        ),
        description="the independence price lies within the Fréchet bounds"))
    suite.add_expectation(e.UnexpectedRowsExpectation(
        unexpected_rows_query="SELECT combo_ticker FROM {batch} WHERE impossible AND impossible_reason IS NULL",
        description="an impossible combo says why"))
    suite.add_expectation(e.UnexpectedRowsExpectation(
        unexpected_rows_query="SELECT combo_ticker, trade_id FROM {batch} WHERE impossible AND row_kind = 'trade'",
        description="an impossible combo was traded: the feed is corrupt"))
    return suite
