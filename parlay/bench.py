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
