"""The paper's synthetic experiments as assets (group ``evaluation``), in the paper's setting (moving truth).

Each asset runs one experiment (quick sizes unless configured ``full``), stores its table in Postgres
(``evaluation.experiment_runs`` / ``experiment_rows``) and its CSV + PNG in object storage, and shows the
table (with a schema), the plot, the market makers' definitions and the claims as metadata. The paper's
claims that the experiment checks are asset checks with WARN severity (never blocking): a claim that does
not hold in the output is reported as failing, with its numbers. ``parlay experiment NAME --full`` runs the
paper-like sizes from the command line.
"""

import time
from datetime import date

import dagster as dg
import pandas as pd
from pydantic import Field

from dagster_project.partitions import DAILY
from dagster_project.plots import frame_table, png_markdown
from dagster_project.resources import LakeResource, WarehouseResource
from models.experiments.runner import (
    CLAIM_NAMES,
    DISPLAY_COLUMNS,
    EXPERIMENT_CLAIMS,
    EXPERIMENTS,
    ExperimentResult,
    json_safe,
    run_experiment,
)
from parlay.evaluation_store import save_result

GROUP = "evaluation"


class ExperimentConfig(dg.Config):
    full: bool = Field(default=False, description="paper-like sizes (n = 4…9, 20 runs × 2000 rounds) instead of quick")
    seed: int = 0
    runs: int | None = None
    rounds: int | None = None
    workers: int = 1
    horizon: float | None = Field(default=None, description="game time covered by trading (unset: 0.5; 0 = static)")
    rho: float = 0.5


def check_name(key: str) -> str:
    return f"claim_{key}_{CLAIM_NAMES[key]}"


def claim_results(result: ExperimentResult) -> list[dg.AssetCheckResult]:
    """One WARN-severity check result per claim the experiment evaluates."""
    return [
        dg.AssetCheckResult(
            check_name=check_name(c.key), passed=bool(c.holds), severity=dg.AssetCheckSeverity.WARN,
            description=c.detail,
            metadata={"statement": c.statement, "holds": bool(c.holds), "detail": dg.MetadataValue.md(c.detail),
                      "numbers": dg.MetadataValue.json(json_safe(c.numbers))},
        )
        for c in result.claims
    ]


def _asset(name: str) -> dg.AssetsDefinition:
    key = dg.AssetKey(["evaluation", name.replace("-", "_")])

    @dg.asset(
        key=key,
        group_name=GROUP,
        description=f"Synthetic experiment '{name}' (ParlayMarket paper) in the paper's setting: table, plot, "
                    "claims as WARN checks; seeds and run counts in the metadata.",
        check_specs=[dg.AssetCheckSpec(check_name(k), asset=key, blocking=False,
                                       description=f"claim ({k}) of the paper, computed on this experiment's output")
                     for k in EXPERIMENT_CLAIMS[name]],
    )
    def _experiment(
        context: dg.AssetExecutionContext, config: ExperimentConfig, warehouse: WarehouseResource,
        lake: LakeResource,
    ) -> dg.MaterializeResult:
        start = time.perf_counter()
        result = run_experiment(name, quick=not config.full, seed=config.seed, runs=config.runs,
                                rounds=config.rounds, workers=config.workers, horizon=config.horizon,
                                rho=config.rho)
        seconds = time.perf_counter() - start
        with warehouse.connection() as conn:
            stored = save_result(conn, lake.url(), result, seconds)
        cfg = result.config
        context.log.info(f"{name}: {cfg['runs']} runs × {cfg['rounds']} rounds in {seconds:.1f} s; "
                         + ", ".join(f"({c.key}) {'holds' if c.holds else 'does not hold'}" for c in result.claims))
        claims_md = "\n".join(f"- {c.line()}" for c in result.claims)
        definitions = "\n".join(f"- **{k}**: {v}" for k, v in result.payload["definitions"].items())
        return dg.MaterializeResult(
            metadata={
                "run_id": stored.run_id,
                "mode": cfg["mode"],
                "setting": cfg["setting"],
                "seed": cfg["seed"],
                "runs": cfg["runs"],
                "rounds": cfg["rounds"],
                "horizon": cfg["horizon"],
                "rho": cfg["rho"],
                "seconds": round(seconds, 1),
                "dagster/row_count": len(result.table),
                "table": frame_table(result.table[DISPLAY_COLUMNS[name]], 50),
                "plot": png_markdown(result.figure_png, name, lake.url()),
                "claims": dg.MetadataValue.md(claims_md),
                "definitions": dg.MetadataValue.md(definitions + "\n\n" + result.payload["per_market_loss_definition"]),
                "csv": dg.MetadataValue.path(stored.table_url),
                "png": dg.MetadataValue.path(stored.plot_url),
            },
            check_results=claim_results(result),
        )

    return _experiment


ASSETS = [_asset(name) for name in EXPERIMENTS]


# ----------------------------------------------------------------------------- the replay (Table 4)
REPLAY_KEY = dg.AssetKey(["evaluation", "replay_table"])


@dg.asset(
    key=REPLAY_KEY,
    group_name=GROUP,
    partitions_def=DAILY,
    deps=[dg.AssetKey(["ledger", "settlements"]), dg.AssetKey(["pricing", "ensemble"])],
    description="The day replayed against its combo trades in the paper's Table 4 form (`parlay evaluate replay`): "
                "per strategy (kalshi_execution, independence, standalone_mm, full_amm, and the fee-correction "
                "ablation) trades, accepted, win rate, premium, payout, net P&L, pool capital, ROI, Sharpe, Brier; "
                "cumulative P&L and calibration plots. A strategy takes a trade when its pre-trade quote is at or "
                "below the execution price. Not part of the main job (its ablation refits every cluster).",
)
def replay_table(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                 lake: LakeResource) -> dg.MaterializeResult:
    from parlay import replay_evaluation as rev

    day = date.fromisoformat(context.partition_key)
    with warehouse.connection() as conn:
        replay = rev.replay_day(conn, day, log=context.log.info)
        pnl_png, cal_png = rev.cumulative_pnl_png([replay]), rev.calibration_png([replay])
        stored = rev.save_replay(conn, lake.url(), [replay], (pnl_png, cal_png))
    results = replay.results()
    table = pd.DataFrame([r.as_json() for r in results])
    context.log.info("\n" + rev.format_table(results))
    return dg.MaterializeResult(metadata={
        "run_id": stored.run_id,
        "setting": replay.setting,
        "trades": len(replay.trades),
        "unsettled_left_out": replay.unsettled,
        "dagster/row_count": len(table),
        "table": frame_table(table, 10) if not table.empty else dg.MetadataValue.text("no combo trades"),
        "refusals": dg.MetadataValue.json(replay.refusals),
        "cumulative_pnl": png_markdown(pnl_png, "replay cumulative P&L", lake.url()),
        "calibration": png_markdown(cal_png, "replay calibration", lake.url()),
        "seconds": round(replay.seconds, 1),
    })


REPLAY_ASSETS = [replay_table]
