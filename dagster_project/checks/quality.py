"""Data-quality asset checks: every Great Expectations suite in ``expectations/suites`` becomes a check
on the asset of its table (blocking when the suite says so), plus quarantine checks on ingest."""

from types import ModuleType

import dagster as dg
import pandas as pd

from dagster_project.partitions import DAILY, run_day
from dagster_project.plots import frame_table
from dagster_project.resources import WarehouseResource
from expectations.runner import suite_modules, validate
from parlay.db.connection import sqlalchemy_url

# Rejection reasons that mean the exchange data itself is corrupt (not merely unrecognized messages).
CORRUPT_BOOK = ("crossed_book", "price_out_of_range", "bad_book", "bad_number", "bad_side", "duplicate_message",
                "number_out_of_range", "integer_out_of_range", "out_of_order")
CORRUPT_TRADE = ("duplicate_trade_id", "price_out_of_range", "inconsistent_prices", "bad_count", "bad_number",
                 "number_out_of_range", "integer_out_of_range")


def _gx_check(module: ModuleType) -> dg.AssetChecksDefinition:
    spec = module.SPEC
    schema, table = spec.table.split(".", 1)

    @dg.asset_check(
    partitions_def=DAILY,
        asset=dg.AssetKey([schema, table]),
        name=f"gx_{spec.name}",
        blocking=spec.blocking,
        description=f"Great Expectations suite '{spec.name}': {spec.description}",
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        day = run_day(context) if spec.day_column else None
        outcome = validate(module, sqlalchemy_url(warehouse.url()), day)
        return dg.AssetCheckResult(
            passed=outcome.success,
            severity=dg.AssetCheckSeverity.ERROR if spec.blocking else dg.AssetCheckSeverity.WARN,
            metadata={
                "suite": spec.name,
                "rows_checked": outcome.rows,
                "expectations": outcome.evaluated,
                "failed_expectations": len(outcome.failures),
                "failures": dg.MetadataValue.md(outcome.markdown()),
            },
            description=None if outcome.success else
            f"{len(outcome.failures)} rule(s) failed on {spec.table} for {day}: "
            + "; ".join(f"{f.expectation} {f.detail} ({f.unexpected_count} rows)" for f in outcome.failures),
        )

    return _check


QUARANTINE_SQL = """
SELECT reason, count(*) AS n, min(locator) AS locator, min(position) AS first_position
FROM quarantine.rejected_records
WHERE reason = ANY(%(reasons)s)
  AND (trading_day = %(day)s
       OR file_id IN (SELECT DISTINCT file_id FROM raw.orderbook_deltas WHERE trading_day = %(day)s
                      UNION SELECT DISTINCT file_id FROM raw.trades WHERE trading_day = %(day)s))
GROUP BY reason ORDER BY reason
"""


def _quarantine_check(asset: dg.AssetKey, name: str, reasons: tuple[str, ...], what: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
    partitions_def=DAILY,
        asset=asset,
        name=name,
        blocking=True,
        description=f"No {what} of the day was rejected as corrupt ({', '.join(reasons)}): a corrupt feed must "
                    "not reach pricing. Rejected records are in quarantine.rejected_records.",
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        day = run_day(context)
        with warehouse.connection() as conn:
            rows = conn.execute(QUARANTINE_SQL, {"reasons": list(reasons), "day": day}).fetchall()
        table = frame_table(pd.DataFrame(rows, columns=["reason", "records", "first_seen_in", "line"]))
        total = sum(n for _, n, _, _ in rows)
        return dg.AssetCheckResult(
            passed=total == 0,
            metadata={"corrupt_records": total, "by_reason": table},
            description=None if total == 0 else
            f"{total} corrupt {what} record(s) on {day}: " + ", ".join(f"{r}×{n}" for r, n, _, _ in rows)
            + " — inspect quarantine.rejected_records and fix or re-capture the feed",
        )

    return _check


CHECKS = [
    *(_gx_check(m) for m in suite_modules()),
    _quarantine_check(dg.AssetKey(["raw", "orderbook_deltas"]), "no_corrupt_book_messages", CORRUPT_BOOK,
                      "order-book message"),
    _quarantine_check(dg.AssetKey(["raw", "trades"]), "no_corrupt_trades", CORRUPT_TRADE, "trade"),
]
