"""The structural layer as assets (group ``marts``), between two parts of the dbt graph.

Order within a run, per trading day:

1. dbt: staging → intermediate → ``marts.markets``, ``marts.events``, ``marts.book_snapshots``,
   ``marts.price_panel_1m``, ``marts.pair_correlations`` (and the combo legs' intermediate models);
2. ``structural_layer`` (this module): families, binary variables and combo verdicts, written to
   ``marts.market_families``, ``marts.binary_variables``, ``marts.combo_structure``;
3. dbt again: ``marts.combo_features``, which reads ``marts.combo_structure`` through the dbt source
   ``marts`` (Dagster splits the dbt multi-asset into two steps, since the asset graph itself has no
   cycle); and ``combo_targets`` (this module): the fee-bias-corrected target of every combo trade.

Each asset is a thin wrapper: :mod:`parlay.warehouse.structure` reads the marts, calls
:mod:`models.structural` and writes the result; counts go to the materialization's metadata.
"""

from collections.abc import Iterator
from datetime import date

import dagster as dg

from dagster_project.partitions import DAILY, run_day
from dagster_project.plots import row_count
from dagster_project.resources import WarehouseResource
from parlay.warehouse import structure

GROUP = "marts"  # the structural layer writes marts tables, beside the dbt marts


def marts(table: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", table])


def staging(model: str) -> dg.AssetKey:
    return dg.AssetKey(["staging", model])


def intermediate(model: str) -> dg.AssetKey:
    return dg.AssetKey(["intermediate", model])


def _day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


STRUCTURE_INPUTS = [
    marts("markets"),
    marts("events"),
    marts("price_panel_1m"),
    marts("pair_correlations"),
    intermediate("int_combos_observed"),
    staging("stg_kalshi__combo_legs"),
]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            marts("binary_variables"),
            deps=STRUCTURE_INPUTS,
            description=(
                "Every market of the day's game clusters as a conjunction of cumulative binary "
                "variables: axis, cells, orientation, literals, complement."
            ),
        ),
        dg.AssetSpec(
            marts("market_families"),
            deps=STRUCTURE_INPUTS,
            description=(
                "Families of mutually exclusive, nested and complementary markets, with the metadata, "
                "structure and price evidence behind each."
            ),
        ),
        dg.AssetSpec(
            marts("combo_structure"),
            deps=STRUCTURE_INPUTS,
            description=(
                "Every combo observed on the day: legs, canonical legs (complement rule), clusters, and "
                "whether the legs are logically impossible together (with the reason)."
            ),
        ),
    ],
    group_name=GROUP,
    partitions_def=DAILY,
    description=(
        "The structural layer (MISSION scope condition): map markets to binary variables where the "
        "Ising model's assumptions hold, detect families, judge combos."
    ),
)
def structural_layer(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    with warehouse.connection() as conn:
        counts = structure.build_structure(conn, _day(context))
    meta = counts.as_metadata()
    yield dg.MaterializeResult(
        asset_key=marts("binary_variables"),
        metadata={"markets": meta["markets"], "clusters": meta["clusters"], "variables": meta["variables"],
                  **row_count(meta["markets"])},
    )
    yield dg.MaterializeResult(
        asset_key=marts("market_families"),
        metadata={"families": meta["families"], "rows": meta["family_rows"], **row_count(meta["family_rows"])},
    )
    yield dg.MaterializeResult(
        asset_key=marts("combo_structure"),
        metadata={
            "combos": meta["combos"],
            "impossible": meta["impossible_combos"],
            "unmapped": meta["unmapped_combos"],
            **row_count(meta["combos"]),
        },
    )


@dg.asset(
    key=marts("combo_targets"),
    deps=[
        marts("combo_structure"),
        marts("binary_variables"),
        marts("markets"),
        marts("book_snapshots"),
        staging("stg_kalshi__combo_trades"),
        staging("stg_kalshi__combo_legs"),
        staging("stg_kalshi__combo_markets"),
        staging("stg_kalshi__series"),
    ],
    group_name=GROUP,
    partitions_def=DAILY,
    description="Fee-bias correction: every combo trade as a canonical all-YES target (complement rule, then "
    "inclusion–exclusion over the NO legs), beside the observed ask and a Kalshi fee estimate. "
    "Impossible combos get target 0 and are never used for learning.",
)
def combo_targets(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connection() as conn:
        counts = structure.build_combo_targets(conn, _day(context))
    return dg.MaterializeResult(metadata={**counts.as_metadata(), **row_count(counts.trades)})


@dg.asset_check(
    partitions_def=DAILY,
    asset=marts("binary_variables"),
    description="Every market of the day's panel has a place on an axis (a row in binary_variables).",
)
def every_quoted_market_mapped(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    day = run_day(context)
    with warehouse.connection() as conn:
        missing = [
            r[0]
            for r in conn.execute(
                """SELECT DISTINCT p.market_ticker FROM marts.price_panel_1m p
               WHERE p.trading_day = %(day)s AND NOT EXISTS (
                   SELECT 1 FROM marts.binary_variables v
                   WHERE v.trading_day = %(day)s AND v.market_ticker = p.market_ticker)
               ORDER BY 1""",
                {"day": day},
            ).fetchall()
        ]
    return dg.AssetCheckResult(passed=not missing, metadata={"unmapped": dg.MetadataValue.json(missing[:50])})


@dg.asset_check(
    partitions_def=DAILY,
    asset=marts("combo_targets"),
    description=(
        "No executed combo trade is logically impossible (an exchange cannot fill one; a hit means the "
        "structural mapping is wrong or the data is)."
    ),
)
def no_impossible_combo_traded(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    day = run_day(context)
    with warehouse.connection() as conn:
        rows = conn.execute(
            "SELECT trade_id, combo_ticker, impossible_reason FROM marts.combo_targets "
            "WHERE trading_day = %s AND impossible ORDER BY ts LIMIT 50",
            (day,),
        ).fetchall()
    return dg.AssetCheckResult(
        passed=not rows,
        metadata={"impossible_trades": dg.MetadataValue.json([list(r) for r in rows])},
    )


ASSETS = [structural_layer, combo_targets]
CHECKS = [every_quoted_market_mapped, no_impossible_combo_traded]
