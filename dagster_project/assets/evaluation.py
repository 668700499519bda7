"""The paper's synthetic experiments as assets (group ``evaluation``): a table in Postgres
(``evaluation.experiment_runs`` / ``experiment_rows``) and a PNG plot in object storage, shown in the
Dagster UI as metadata. Quick sizes run with every main job; ``parlay experiment NAME --full`` runs the
paper-like sizes."""

import time

import dagster as dg
from pydantic import Field

from dagster_project.plots import frame_table, png_markdown
from dagster_project.resources import LakeResource, WarehouseResource
from models.experiments.runner import DISPLAY_COLUMNS, EXPERIMENTS, run_experiment
from parlay.evaluation_store import save_result

GROUP = "evaluation"


class ExperimentConfig(dg.Config):
    full: bool = Field(default=False, description="paper-like sizes (minutes) instead of the quick ones")
    seed: int = 0
    runs: int | None = None
    rounds: int | None = None
    workers: int = 1


def _asset(name: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["evaluation", name.replace("-", "_")]),
        group_name=GROUP,
        description=f"Synthetic experiment '{name}' (ParlayMarket paper): table + plot; seeds and run counts "
                    "in the metadata.",
    )
    def _experiment(
        context: dg.AssetExecutionContext, config: ExperimentConfig, warehouse: WarehouseResource,
        lake: LakeResource,
    ) -> dg.MaterializeResult:
        start = time.perf_counter()
        result = run_experiment(name, quick=not config.full, seed=config.seed, runs=config.runs,
                                rounds=config.rounds, workers=config.workers)
        seconds = time.perf_counter() - start
        with warehouse.connection() as conn:
            run_id = save_result(conn, lake.url(), result, seconds)
        cfg = result.config
        shown = result.table[DISPLAY_COLUMNS[name]]
        context.log.info(f"{name}: {cfg['runs']} runs × {cfg['rounds']} rounds in {seconds:.1f} s")
        return dg.MaterializeResult(
            metadata={
                "run_id": run_id,
                "mode": cfg["mode"],
                "seed": cfg.get("seed", config.seed),
                "runs": cfg["runs"],
                "rounds": cfg["rounds"],
                "seconds": round(seconds, 1),
                "checks": dg.MetadataValue.json({k: bool(v) for k, v in result.checks.items()}),
                "table": frame_table(shown, 50),
                "plot": png_markdown(result.figure_png, name, lake.url()),
                "notes": dg.MetadataValue.md(result.notes),
            }
        )

    return _experiment


ASSETS = [_asset(name) for name in EXPERIMENTS]
