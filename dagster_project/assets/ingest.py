"""Ingest assets (group ``ingest``): one trading day of market data from the configured source into
``raw.*`` (accepted records) and ``quarantine.*`` (rejected ones, with reasons), then Parquet history.

Each asset is a thin wrapper: build the source, call a loader from :mod:`parlay.warehouse.ingest`,
report counts as metadata. Re-materializing a partition replaces what it wrote before.
"""


import os
from collections.abc import Iterator
from datetime import date
from functools import lru_cache

import dagster as dg
import pandas as pd

from dagster_project.partitions import DAILY
from dagster_project.plots import frame_table, row_count
from dagster_project.resources import LakeResource, MarketSourceResource, WarehouseResource
from parlay.sources.base import MarketSource
from parlay.warehouse import ingest as loaders
from parlay.warehouse.history import export_day

GROUP = "ingest"


def raw(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", table])


@lru_cache(maxsize=4)
def _cached_source(kind: str, captures: tuple[str, ...], seed: int, series: str, combo_flow: str,
                   profile: str | None = None) -> MarketSource:
    del profile  # part of the cache key only: the resource reads PARLAY_SIM_PROFILE itself
    resource = MarketSourceResource(kind=kind, captures=os.pathsep.join(captures) or None, seed=seed,
                                    live_series=series, combo_flow=combo_flow)
    return resource.build()


def source_for(resource: MarketSourceResource) -> MarketSource:
    """One source object per configuration and process, so the simulator runs once per day."""
    return _cached_source(
        resource.resolved_kind(), tuple(str(p) for p in resource.capture_paths()), resource.resolved_seed(),
        resource.live_series, resource.resolved_combo_flow(), os.environ.get("PARLAY_SIM_PROFILE"),
    )


def _day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(raw("series"), description="Series (fee type, category) touched by the day."),
        dg.AssetSpec(raw("events"), description="Events (games) with the mutually_exclusive flag."),
        dg.AssetSpec(raw("markets"), description="Base markets: event, strike, close time, status, result."),
    ],
    group_name=GROUP,
    partitions_def=DAILY,
    description="Market, event and series metadata of one trading day.",
)
def market_metadata(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, market_source: MarketSourceResource
) -> Iterator[dg.MaterializeResult]:
    source = source_for(market_source)
    with warehouse.connection() as conn:
        counts = loaders.load_metadata(conn, source.metadata(_day(context)), _day(context))
    for table in ("series", "events", "markets"):
        yield dg.MaterializeResult(
            asset_key=raw(table),
            metadata={"rows": counts.loaded[table], **row_count(counts.loaded[table]),
                      "quarantined": counts.quarantined, "source": source.name},
        )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(raw("orderbook_snapshots"), deps=[raw("markets")],
                     description="Full bid ladders as sent by the source (exchange snapshots)."),
        dg.AssetSpec(raw("orderbook_deltas"), deps=[raw("markets")],
                     description="Every book change: side, price, signed size."),
        dg.AssetSpec(raw("orderbook_tops"), deps=[raw("markets")],
                     description="Rebuilt books: top of book and depth (within 5¢ and total) at the end of "
                                 "every second with a change, and after every snapshot; reliable/crossed flags."),
        dg.AssetSpec(raw("trades"), deps=[raw("markets")], description="Public trades on base markets."),
    ],
    group_name=GROUP,
    partitions_def=DAILY,
    description="Order books (snapshots + deltas → rebuilt tops) and trades of one trading day.",
)
def market_stream(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, market_source: MarketSourceResource
) -> Iterator[dg.MaterializeResult]:
    source = source_for(market_source)
    day = _day(context)
    with warehouse.connection() as conn:
        report = loaders.load_market_stream(conn, source, day, progress=context.log.info)
    files = [u for u in report.units if u.file_id is not None]
    common = {
        "source": source.name,
        "messages_read": report.total("messages_read"),
        "quarantined": report.total("quarantined"),
        "rebuilt_backward": report.total("rebuilt_backward"),
        "outside_day": report.total("outside_day"),
        "already_present": report.total("already_present"),
        "files": len(files),
        "gaps": report.gap_count,
        "gaps_by_kind": dict(report.gaps),
        "quarantine_reasons": dict(report.quarantine_reasons),
        "balanced": all(u.balanced for u in report.units),
        "truncated_files": [f"{u.label} at byte {u.truncated_at}" for u in report.units if u.truncated_at is not None],
        "duplicate_files": [f"{name} (same content as {of})" for name, of in report.duplicates],
        "unreadable_files": [f"{name}: {error}" for name, error in report.unreadable],
    }
    for table, n in (
        ("orderbook_snapshots", report.total("snapshots")),
        ("orderbook_deltas", report.total("deltas")),
        ("orderbook_tops", report.total("tops")),
        ("trades", report.total("trades")),
    ):
        yield dg.MaterializeResult(asset_key=raw(table), metadata={"rows": n, **row_count(n), **common})


@dg.asset(
    key=raw("candles"),
    deps=[raw("orderbook_tops"), raw("trades")],
    group_name=GROUP,
    partitions_def=DAILY,
    description="1-minute candles: fetched from the exchange when live, built from rebuilt books and "
                "trades otherwise.",
)
def candles(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, market_source: MarketSourceResource
) -> dg.MaterializeResult:
    source = source_for(market_source)
    day = _day(context)
    fetched = source.candles(day)
    with warehouse.connection() as conn:
        if fetched is None:
            rows = loaders.build_candles(conn, source.name, day)
            return dg.MaterializeResult(metadata={"rows": rows, **row_count(rows), "origin": "built",
                                                  "quarantined": 0})
        counts = loaders.load_candles(conn, source.name, fetched, day)
    return dg.MaterializeResult(
        metadata={"rows": counts.loaded["candles"], **row_count(counts.loaded["candles"]), "origin": "exchange",
                  "quarantined": counts.quarantined}
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(raw("combo_markets"), deps=[raw("markets")],
                     description="Combo (multivariate) markets listed for the day."),
        dg.AssetSpec(raw("combo_legs"), deps=[raw("markets")], description="Legs of every combo: market and side."),
    ],
    group_name=GROUP,
    partitions_def=DAILY,
    description="Combo markets with their legs.",
)
def combo_markets(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, market_source: MarketSourceResource
) -> Iterator[dg.MaterializeResult]:
    source = source_for(market_source)
    day = _day(context)
    with warehouse.connection() as conn:
        counts = loaders.load_combo_markets(conn, source.combo_markets(day), day)
    yield dg.MaterializeResult(
        asset_key=raw("combo_markets"),
        metadata={"rows": counts.loaded["combo_markets"], **row_count(counts.loaded["combo_markets"]),
                  "quarantined": counts.quarantined},
    )
    yield dg.MaterializeResult(asset_key=raw("combo_legs"), metadata={"rows": counts.loaded["combo_legs"],
                                                                      **row_count(counts.loaded["combo_legs"])})


@dg.asset(
    key=raw("combo_trades"),
    deps=[raw("combo_markets")],
    group_name=GROUP,
    partitions_def=DAILY,
    description="Executed combo trades (the ask a bettor paid, fee markup included).",
)
def combo_trades(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, market_source: MarketSourceResource
) -> dg.MaterializeResult:
    source = source_for(market_source)
    day = _day(context)
    with warehouse.connection() as conn:
        counts = loaders.load_combo_trades(conn, source.name, source.combo_trades(day), day)
    return dg.MaterializeResult(metadata={**counts.as_metadata(), **row_count(counts.loaded["combo_trades"])})


@dg.asset(
    key=raw("settlements"),
    deps=[raw("markets")],
    group_name=GROUP,
    partitions_def=DAILY,
    description="Market outcomes: from the exchange (live), closing prices (recorded) or the simulator.",
)
def settlements(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, market_source: MarketSourceResource
) -> dg.MaterializeResult:
    source = source_for(market_source)
    day = _day(context)
    with warehouse.connection() as conn:
        counts = loaders.load_settlements(conn, source.name, source.settlements(day), day)
    return dg.MaterializeResult(metadata={**counts.as_metadata(), **row_count(counts.loaded["settlements"])})


HISTORY_TABLES = (
    "series", "events", "markets", "orderbook_snapshots", "orderbook_deltas", "orderbook_tops", "trades",
    "candles", "combo_markets", "combo_legs", "combo_trades", "settlements",
)


@dg.asset(
    key=dg.AssetKey(["history", "raw_parquet"]),
    deps=[raw(t) for t in HISTORY_TABLES],
    group_name=GROUP,
    partitions_def=DAILY,
    description="The day's raw tables as Parquet in object storage (PARLAY_STORAGE_URL: a folder or s3://…).",
)
def raw_history(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, lake: LakeResource
) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connection() as conn:
        written = export_day(conn, lake.url(), day, HISTORY_TABLES)
    return dg.MaterializeResult(
        metadata={
            "storage_url": lake.url(),
            "files": len(written),
            "rows": sum(w.rows for w in written),
            "bytes": sum(w.bytes for w in written),
            "tables": frame_table(pd.DataFrame([{"table": w.table, "rows": w.rows, "path": str(w.path)}
                                                for w in written], columns=["table", "rows", "path"]), 50),
        }
    )


ASSETS = [market_metadata, market_stream, candles, combo_markets, combo_trades, settlements, raw_history]
