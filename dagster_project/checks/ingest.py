"""Checks on the ingest layer that need no expectation suite: every input accounted for."""


import dagster as dg

from dagster_project.assets.ingest import raw
from dagster_project.partitions import DAILY, run_day
from dagster_project.resources import WarehouseResource

ACCOUNTING_SQL = """
WITH f AS (
    SELECT DISTINCT file_id FROM raw.orderbook_deltas WHERE trading_day = %(day)s
    UNION SELECT DISTINCT file_id FROM raw.trades WHERE trading_day = %(day)s
), counted AS (
    SELECT c.file_id, c.file_name, c.messages_read,
           (SELECT count(*) FROM raw.orderbook_snapshots s WHERE s.file_id = c.file_id AND s.trading_day = %(day)s)
         + (SELECT count(*) FROM raw.orderbook_deltas d WHERE d.file_id = c.file_id AND d.trading_day = %(day)s)
         + (SELECT count(*) FROM raw.trades t WHERE t.file_id = c.file_id AND t.trading_day = %(day)s)
         + coalesce(c.outside_day, 0) AS loaded,
           (SELECT count(*) FROM quarantine.rejected_records q
             WHERE q.file_id = c.file_id AND q.trading_day IS NOT DISTINCT FROM %(day)s) AS quarantined
    FROM raw.capture_files c JOIN f USING (file_id)
)
SELECT file_name, messages_read, loaded, quarantined FROM counted
WHERE messages_read IS DISTINCT FROM loaded + quarantined
"""


@dg.asset_check(
    partitions_def=DAILY,
    asset=raw("orderbook_deltas"),
    blocking=True,
    description="Per capture file of the day: messages read = rows loaded + rows quarantined, counted in the "
                "tables themselves (messages of a multi-day file on another day count as its load reported them).",
)
def capture_files_accounted(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    day = run_day(context)
    with warehouse.connection() as conn:
        bad = conn.execute(ACCOUNTING_SQL, {"day": day}).fetchall()
        files = conn.execute(
            "SELECT count(DISTINCT file_id) FROM raw.orderbook_deltas WHERE trading_day = %s AND file_id IS NOT NULL",
            (day,),
        ).fetchone()[0]
    return dg.AssetCheckResult(
        passed=not bad,
        metadata={
            "files_checked": files,
            "unbalanced_files": dg.MetadataValue.json(
                [{"file": f, "read": r, "loaded": lo, "quarantined": q} for f, r, lo, q in bad]
            ),
        },
        description=None if not bad else f"{len(bad)} file(s) lost messages between read and load",
    )


CHECKS = [capture_files_accounted]
