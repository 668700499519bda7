"""The evaluation assets: the paper's setting, a table with a schema, an inline plot, CSV + PNG stored, and the
paper's claims as non-blocking WARN checks."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import fsspec
import psycopg

from dagster_project.assets import evaluation
from dagster_project.plots import PLOTS_ROUTE
from dagster_project.resources import LakeResource, WarehouseResource
from models.experiments.runner import EXPERIMENT_CLAIMS


def test_evaluation_assets_materialize_with_claims_as_warn_checks(fresh_database_url: str, tmp_path: Path) -> None:
    tiny = {"runs": 2, "rounds": 30}
    run_config = {"ops": {asset.node_def.name: {"config": tiny} for asset in evaluation.ASSETS}}
    result = dg.materialize(
        evaluation.ASSETS,
        resources={"warehouse": WarehouseResource(database_url=fresh_database_url),
                   "lake": LakeResource(storage_url=str(tmp_path / "lake"))},
        run_config=run_config, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
    )
    assert result.success
    checks = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    expected = {(name.replace("-", "_"), evaluation.check_name(k))
                for name, ks in EXPERIMENT_CLAIMS.items() for k in ks}
    assert set(checks) == expected
    assert all(e.severity == dg.AssetCheckSeverity.WARN for e in checks.values())
    for event in result.get_asset_materialization_events():
        md = event.materialization.metadata
        assert isinstance(md["table"], dg.TableMetadataValue) and md["table"].schema.columns
        assert md["dagster/row_count"].value == len(md["table"].records)
        assert f"]({PLOTS_ROUTE}/" in md["plot"].value and md["plot"].value.endswith(".png)")  # inline (parlay ui)
        assert "Brownian score process" in md["setting"].value and md["horizon"].value == 0.5
        assert (md["runs"].value, md["rounds"].value) == (2, 30)
        fs, _ = fsspec.core.url_to_fs(md["csv"].value)
        assert fs.exists(md["csv"].value) and fs.exists(md["png"].value)
    with psycopg.connect(fresh_database_url) as conn:
        rows = conn.execute("SELECT name, checks FROM evaluation.experiment_runs ORDER BY name").fetchall()
    assert [r[0] for r in rows] == sorted(EXPERIMENT_CLAIMS)
    assert all(isinstance(r[1], list) and {"key", "holds", "numbers"} <= set(r[1][0]) for r in rows)
