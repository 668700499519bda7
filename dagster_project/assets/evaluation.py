"""The paper's synthetic experiments as assets (group ``evaluation``), in the paper's setting (moving truth).

Each asset runs one experiment (quick sizes unless configured ``full``), stores its table in Postgres
(``evaluation.experiment_runs`` / ``experiment_rows``) and its CSV + PNG in object storage, and shows the
table (with a schema), the plot, the market makers' definitions and the claims as metadata. The paper's
claims that the experiment checks are asset checks with WARN severity (never blocking): a claim that does
not hold in the output is reported as failing, with its numbers. ``parlay experiment NAME --full`` runs the
paper-like sizes from the command line.
"""

import time

import dagster as dg
from pydantic import Field

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
