"""Freshness of the ingest layer, in two senses.

* ``POLICY`` (a Dagster ``FreshnessPolicy`` on the ingest assets): the pipeline itself ran — the ingest assets
  were materialized within the last 26 hours (warning after 2). Judged by Dagster against the wall clock;
  shown on the asset pages, no sensor needed.
* ``feed_current_at_data_time`` (asset check, per trading day): the day's feed did not go silent. It is judged
  against the data's own clock — the newest book update or trade of the day for a replayed or simulated day,
  now for today's live day — so replaying an old day is not "late": a market whose book stopped updating
  more than 60 minutes before that clock without being settled is stale.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from dagster_project.partitions import DAILY, run_day
from dagster_project.resources import MarketSourceResource, WarehouseResource
from parlay.sources.base import EXCHANGE_TZ

POLICY = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26), warn_window=timedelta(hours=2))
STALE_AFTER = timedelta(minutes=60)

STALE_SQL = """
WITH clock AS (
    SELECT coalesce(%(now)s, greatest(
        (SELECT max(ts) FROM raw.orderbook_tops WHERE trading_day = %(day)s),
        (SELECT max(ts) FROM raw.trades WHERE trading_day = %(day)s))) AS t
), last AS (
    SELECT market_ticker, max(ts) AS last_ts FROM raw.orderbook_tops WHERE trading_day = %(day)s GROUP BY 1
)
SELECT l.market_ticker, l.last_ts, c.t
FROM last l CROSS JOIN clock c
WHERE l.last_ts < c.t - %(stale)s
  AND NOT EXISTS (SELECT 1 FROM raw.settlements s WHERE s.market_ticker = l.market_ticker AND s.settled_ts <= c.t)
ORDER BY l.last_ts
"""


@dg.asset_check(
    partitions_def=DAILY,
    asset=dg.AssetKey(["raw", "orderbook_tops"]),
    description="No unsettled market's book went silent for more than 60 minutes before the day's data clock "
    "(the newest update of the day when replayed or simulated, now for today's live day): freshness judged "
    "against the data's own time (warning).",
)
def feed_current_at_data_time(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                              market_source: MarketSourceResource) -> dg.AssetCheckResult:
    day = run_day(context)
    live_today = (market_source.resolved_kind() == "live"
                  and day == datetime.now(tz=EXCHANGE_TZ).date())
    now = datetime.now(tz=UTC) if live_today else None
    with warehouse.connection() as conn:
        rows = conn.execute(STALE_SQL, {"day": day, "now": now, "stale": STALE_AFTER}).fetchall()
        clock = now or conn.execute(
            "SELECT greatest((SELECT max(ts) FROM raw.orderbook_tops WHERE trading_day = %(d)s),"
            " (SELECT max(ts) FROM raw.trades WHERE trading_day = %(d)s))", {"d": day}).fetchone()[0]
    stale = [{"market": m, "last_update": last.isoformat(), "minutes_before_clock": round((t - last) / timedelta(
        minutes=1))} for m, last, t in rows]
    return dg.AssetCheckResult(
        passed=not stale, severity=dg.AssetCheckSeverity.WARN,
        metadata={"data_clock": clock.isoformat() if clock else "no data", "clock": "now" if live_today
                  else "the day's newest update", "stale_markets": len(stale),
                  "examples": dg.MetadataValue.json(stale[:20])},
        description=None if not stale else
        f"{len(stale)} unsettled market(s) without a book update in the 60 minutes before {clock}")


CHECKS = [feed_current_at_data_time]
