"""Store experiment results: runs and rows in Postgres (schema ``evaluation``), plots in object storage."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import fsspec
import psycopg

from models.experiments.runner import ExperimentResult


def _clean(value: object) -> object:
    """JSON-safe scalars (NaN/inf → null, numpy → Python)."""
    if hasattr(value, "item"):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_plot(storage_url: str, result: ExperimentResult, stamp: str) -> str:
    fs, root = fsspec.core.url_to_fs(storage_url)
    folder = f"{root.rstrip('/')}/evaluation/{result.name}"
    fs.makedirs(folder, exist_ok=True)
    path = f"{folder}/{stamp}.png"
    with fs.open(path, "wb") as fh:
        fh.write(result.figure_png)
    return path


def save_result(conn: psycopg.Connection, storage_url: str, result: ExperimentResult, seconds: float) -> int:
    """Write one experiment run; returns its run_id."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    plot = save_plot(storage_url, result, stamp)
    cfg = result.config
    with conn.transaction():
        run_id = conn.execute(
            """INSERT INTO evaluation.experiment_runs (name, mode, seed, runs, rounds, config, checks, notes,
                                                       plot_url, seconds)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING run_id""",
            (result.name, cfg["mode"], int(cfg.get("seed", 0)), int(cfg["runs"]), int(cfg["rounds"]),
             json.dumps(cfg, default=str), json.dumps({k: bool(v) for k, v in result.checks.items()}),
             result.notes, plot, seconds),
        ).fetchone()[0]
        rows = [
            (run_id, i, json.dumps({k: _clean(v) for k, v in rec.items()}, default=str))
            for i, rec in enumerate(result.table.to_dict(orient="records"))
        ]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO evaluation.experiment_rows (run_id, row_index, data) VALUES (%s, %s, %s)", rows
            )
    return int(run_id)
