"""Freshness of the ingest layer: yesterday's trading day must be loaded by 08:00 ET.

Evaluated by a sensor (on in ``parlay ui`` deployments, where schedules run), not inside the main job:
a replay of an old day is not late.
"""

import dagster as dg

from dagster_project.assets import ingest

INGESTED = [
    ingest.raw(t) for t in ("markets", "orderbook_tops", "orderbook_deltas", "trades", "candles", "settlements")
]

CHECKS = list(
    dg.build_time_partition_freshness_checks(
        assets=INGESTED, deadline_cron="0 8 * * *", timezone="America/New_York",
        severity=dg.AssetCheckSeverity.WARN,
    )
)

SENSOR = dg.build_sensor_for_freshness_checks(
    freshness_checks=CHECKS, minimum_interval_seconds=600, name="ingest_freshness",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
