"""Partitions shared by the pipeline's assets."""

from __future__ import annotations

from datetime import date

import dagster as dg

# Trading days on the exchange's calendar; today's partition exists so live runs can fill it.
DAILY = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone="America/New_York", end_offset=1)


def run_day(context: dg.AssetCheckExecutionContext | dg.AssetExecutionContext) -> date:
    """The trading day a run works on: its partition (checks read it from the run's tags)."""
    key = context.run.tags.get("dagster/partition")
    if key is None:
        raise dg.Failure("this runs per trading day: launch it for a partition (a date)")
    return date.fromisoformat(key)
