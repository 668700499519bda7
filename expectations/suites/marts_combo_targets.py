"""Fee-corrected learning targets. Blocking: what the model learns from must be clean."""

from typing import Any

from expectations.runner import SuiteSpec

SPEC = SuiteSpec(
    name="marts_combo_targets",
    table="marts.combo_targets",
    blocking=True,
    description="Targets used for learning are probabilities in [0, 1], never from impossible combos.",
)


def build(gx: Any) -> Any:
    e = gx.expectations
    suite = gx.ExpectationSuite(name=SPEC.name)
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(
        column="observed_ask", min_value=0, max_value=1, strict_min=True, strict_max=True))
    suite.add_expectation(e.ExpectColumnValuesToBeUnique(column="trade_id"))
    suite.add_expectation(e.UnexpectedRowsExpectation(
        unexpected_rows_query=(
            "SELECT trade_id, target_net_of_markup FROM {batch} WHERE use_for_learning "
            "AND (impossible OR target_net_of_markup IS NULL OR target_net_of_markup < 0 "
            "OR target_net_of_markup > 1 OR learning_excluded_reason IS NOT NULL)"
        ),
        description="learning targets are probabilities in [0, 1] and never from impossible combos"))
    return suite
