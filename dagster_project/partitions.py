"""Partitions shared by the pipeline's assets.

* ``DAILY`` (dynamic, ``trading_days``): one partition per trading day that has data. No calendar start:
  a day becomes a partition when a run is launched for it (``parlay run`` registers its days,
  the schedules register today), so every partition shown in the UI is a day that exists.
* ``GAME_CLUSTERS`` (dynamic, ``game_clusters``): one partition per game cluster, registered by
  ``pricing/game_clusters`` when the structural layer finds it. A cluster id names one game
  (``26MAR07BOSMIA``), so each partition is a real game of a real day; the trading day a fit uses is the
  run's ``parlay/trading_day`` tag, else the newest day the cluster was registered on.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from datetime import date

import dagster as dg

# Asset checks are partitioned like their assets, so each result attaches to its day or cluster; Dagster 1.13
# marks partitioned check specs as a preview feature and warns on every load.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec",
                        category=dg.PreviewWarning)

DAILY = dg.DynamicPartitionsDefinition(name="trading_days")
GAME_CLUSTERS = dg.DynamicPartitionsDefinition(name="game_clusters")

# The run tag that names the trading day of a cluster fit (partition = cluster).
TRADING_DAY_TAG = "parlay/trading_day"


def register_days(instance: dg.DagsterInstance, days: Iterable[date | str]) -> list[str]:
    """Add trading days as partitions of ``DAILY`` (idempotent); returns the keys that were new."""
    keys = [d.isoformat() if isinstance(d, date) else str(d) for d in days]
    known = set(instance.get_dynamic_partitions(DAILY.name))
    new = sorted({k for k in keys if k not in known})
    if new:
        instance.add_dynamic_partitions(DAILY.name, new)
    return new


def register_clusters(instance: dg.DagsterInstance, clusters: Iterable[str]) -> list[str]:
    """Add game clusters as partitions of ``GAME_CLUSTERS`` (idempotent); returns the keys that were new."""
    known = set(instance.get_dynamic_partitions(GAME_CLUSTERS.name))
    new = sorted({c for c in clusters if c not in known})
    if new:
        instance.add_dynamic_partitions(GAME_CLUSTERS.name, new)
    return new


def run_day(context: dg.AssetCheckExecutionContext | dg.AssetExecutionContext) -> date:
    """The trading day a run works on: its partition (checks read it from the run's tags)."""
    key = context.run.tags.get("dagster/partition")
    if key is None:
        raise dg.Failure("this runs per trading day: launch it for a partition (a date)")
    return date.fromisoformat(key)


def run_cluster(context: dg.AssetCheckExecutionContext | dg.AssetExecutionContext) -> str:
    """The game cluster a fit run works on: its partition."""
    key = context.run.tags.get("dagster/partition")
    if key is None:
        raise dg.Failure("this runs per game cluster: launch it for a partition of game_clusters")
    return key
