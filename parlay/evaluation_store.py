"""Store experiment results: runs and rows in Postgres (schema ``evaluation``), CSV + PNG in object storage."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import fsspec
import psycopg

from models.experiments.runner import ExperimentResult, json_safe


@dataclass(frozen=True)
class StoredRun:
    """Where one stored experiment run lives: its row id and the URLs of its table (CSV) and plot (PNG)."""

    run_id: int
    table_url: str
    plot_url: str


def save_files(storage_url: str, result: ExperimentResult, stamp: str) -> tuple[str, str]:
    """Write the table (CSV) and plot (PNG) under ``<storage>/evaluation/<name>/<stamp>.*``."""
    fs, root = fsspec.core.url_to_fs(storage_url)
    folder = f"{root.rstrip('/')}/evaluation/{result.name}"
    fs.makedirs(folder, exist_ok=True)
    csv_path, png_path = f"{folder}/{stamp}.csv", f"{folder}/{stamp}.png"
    with fs.open(csv_path, "w") as fh:
        result.table.to_csv(fh, index=False)
    with fs.open(png_path, "wb") as fh:
        fh.write(result.figure_png)
    return csv_path, png_path


def save_result(
    conn: psycopg.Connection, storage_url: str, result: ExperimentResult, seconds: float
) -> StoredRun:
    """Write one experiment run (config, claims, notes, every table row; CSV and PNG to storage)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    table_url, plot_url = save_files(storage_url, result, stamp)
    cfg = result.config
    with conn.transaction():
        run_id = conn.execute(
            """INSERT INTO evaluation.experiment_runs (name, mode, seed, runs, rounds, config, checks, notes,
                                                       plot_url, seconds)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING run_id""",
            (result.name, cfg["mode"], int(cfg["seed"]), int(cfg["runs"]), int(cfg["rounds"]),
             json.dumps(json_safe({**cfg, "table_url": table_url}), default=str),
             json.dumps([c.as_dict() for c in result.claims]), result.notes, plot_url, seconds),
        ).fetchone()[0]
        rows = [
            (run_id, i, json.dumps(json_safe(rec), default=str))
            for i, rec in enumerate(result.table.to_dict(orient="records"))
        ]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO evaluation.experiment_rows (run_id, row_index, data) VALUES (%s, %s, %s)", rows
            )
    return StoredRun(int(run_id), table_url, plot_url)
