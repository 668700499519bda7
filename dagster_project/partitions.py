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


# Game clusters (one per game and day) are discovered by the structural layer; each day × cluster is one
# Ising fit. Keys: MultiPartitionKey({"day": "2026-03-07", "cluster": "KXNBAGAME-26MAR07BOSMIA"}).
GAME_CLUSTERS = dg.DynamicPartitionsDefinition(name="game_clusters")
DAY_CLUSTER = dg.MultiPartitionsDefinition({"day": DAILY, "cluster": GAME_CLUSTERS})


def cluster_partition_key(day: date, cluster: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"day": day.isoformat(), "cluster": cluster})


def parse_cluster_partition(key: str) -> tuple[str, str]:
    """(day, cluster) of a stored day × cluster key ("<cluster>|<day>": dimensions in name order)."""
    if isinstance(key, dg.MultiPartitionKey):
        return key.keys_by_dimension["day"], key.keys_by_dimension["cluster"]
    cluster, _, day = str(key).rpartition("|")
    return day, cluster
