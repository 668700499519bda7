"""Benchmarks behind ``parlay bench …``: they print figures; nothing here asserts a time."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

from parlay import config


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ingest_benchmark(
    paths: Sequence[Path] | None, database_url: str | None, log: Callable[[str], None] = print
) -> dict:
    """Load every capture into a fresh database: wall time, messages/s, peak memory of the loader."""
    from parlay.db.connection import connect, redact, temporary_database
    from parlay.db.migrate import migrate
    from parlay.sources.recorded import RecordedSource
    from parlay.warehouse.ingest import load_market_stream

    source = RecordedSource(paths or [config.captures_dir()])
    with temporary_database(database_url, prefix="parlay_bench") as url:
        log(f"[bench] fresh database {redact(url)}; {len(source.files)} file(s)")
        with connect(url) as conn:
            migrate(conn)
            conn.commit()
            t0 = time.perf_counter()
            cpu0 = psutil.Process().cpu_times()
            source.sessions()
            t_scan = time.perf_counter() - t0
            report = load_market_stream(conn, source, progress=lambda m: log(f"[bench] {m}"))
            conn.commit()
            wall = time.perf_counter() - t0
            cpu1 = psutil.Process().cpu_times()
    messages = report.total("messages_read")
    figures = {
        "files": len(source.files),
        "messages": messages,
        "loaded": report.total("loaded"),
        "quarantined": report.total("quarantined"),
        "seconds": round(wall, 2),
        "scan_seconds": round(t_scan, 2),
        "messages_per_second": round(messages / wall),
        "loader_cpu_seconds": round((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system), 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "goal": "all 8 files in <= 45 s on 2 cores, peak RSS <= 2 GB",
    }
    log(
        f"[bench] {messages:,} messages in {wall:.1f} s = {figures['messages_per_second']:,} msg/s; "
        f"peak RSS {figures['peak_rss_mb']} MB"
    )
    return figures


def features_benchmark(
    paths: Sequence[Path] | None, database_url: str | None, log: Callable[[str], None] = print
) -> dict:
    """Every capture plus one default simulated day in a fresh database, then the full ``dbt build`` (models
    and tests), the structural layer per day and the models that read it: the time of each part."""
    import os
    import subprocess
    import tempfile
    from datetime import date

    from models.simulator import SimulationConfig
    from parlay.db.connection import connect, redact, temporary_database
    from parlay.db.migrate import migrate
    from parlay.dbtenv import DBT_DIR, dbt_env, dbt_executable
    from parlay.sources.recorded import RecordedSource
    from parlay.sources.simulated import SimulatedSource
    from parlay.warehouse.ingest import (
        build_candles,
        load_combo_markets,
        load_combo_trades,
        load_market_stream,
        load_metadata,
        load_settlements,
    )
    from parlay.warehouse.structure import build_combo_targets, build_structure

    recorded = RecordedSource(paths or [config.captures_dir()])
    sim_day = date(2026, 3, 9)
    simulated = SimulatedSource(SimulationConfig(seed=7))
    with temporary_database(database_url, prefix="parlay_bench") as url, tempfile.TemporaryDirectory() as work:
        log(f"[bench] fresh database {redact(url)}; {len(recorded.files)} capture file(s) + simulated {sim_day}")
        t0 = time.perf_counter()
        with connect(url) as conn:
            migrate(conn)
            load_metadata(conn, recorded.metadata())
            load_market_stream(conn, recorded)
            load_settlements(conn, recorded.name, recorded.settlements())
            load_metadata(conn, simulated.metadata(sim_day), sim_day)
            load_market_stream(conn, simulated, sim_day)
            load_combo_markets(conn, simulated.combo_markets(sim_day), sim_day)
            load_combo_trades(conn, simulated.name, simulated.combo_trades(sim_day), sim_day)
            load_settlements(conn, simulated.name, simulated.settlements(sim_day), sim_day)
            for day in [*recorded.days(), sim_day]:
                build_candles(conn, recorded.name if day != sim_day else simulated.name, day)
            conn.commit()
        load_s = time.perf_counter() - t0
        log(f"[bench] loaded in {load_s:.1f} s; dbt build …")

        def dbt(*args: str) -> float:
            env = {**os.environ, **dbt_env(url)}
            cmd = [dbt_executable(), *args, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
                   "--target-path", f"{work}/target", "--log-path", f"{work}/logs"]
            started = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"dbt {' '.join(args)} failed:\n{proc.stdout[-3000:]}")
            return time.perf_counter() - started

        build_s = dbt("build", "--exclude", "combo_features")
        t1 = time.perf_counter()
        with connect(url) as conn:
            days = sorted({r[0] for r in conn.execute("SELECT DISTINCT trading_day FROM marts.price_panel_1m")})
            for day in days:
                build_structure(conn, day)
                build_combo_targets(conn, day)
            conn.commit()
        structure_s = time.perf_counter() - t1
        combo_s = dbt("build", "--select", "combo_features")  # no trading_day var: every day in one build
    total = build_s + structure_s + combo_s
    figures = {
        "capture_files": len(recorded.files), "simulated_day": sim_day.isoformat(),
        "trading_days": [d.isoformat() for d in days], "load_seconds": round(load_s, 1),
        "dbt_build_seconds": round(build_s, 1), "structural_layer_seconds": round(structure_s, 1),
        "combo_features_seconds": round(combo_s, 1), "features_total_seconds": round(total, 1),
        "goal": "full dbt build over the 8 captures + a simulated day <= 60 s on 2 cores",
    }
    log(f"[bench] dbt build {build_s:.1f} s + structural layer {structure_s:.1f} s + combo features {combo_s:.1f} s "
        f"= {total:.1f} s")
    return figures
