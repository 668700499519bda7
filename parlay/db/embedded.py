"""The embedded default: a private PostgreSQL server under ``.data/pg`` (pgserver bundles PostgreSQL 16).

Started on first use and left running, so the Dagster UI and ``psql`` can look at what a run wrote;
``parlay db stop`` stops it. It listens on a Unix socket only (no TCP port to collide with).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from parlay.config import data_dir

DATABASE = "parlay"


def _prepare_runtime_dir() -> None:
    # pgserver keeps a lock file under the user runtime dir; give it one that exists and is private.
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir() and os.access(runtime, os.W_OK):
        return
    path = data_dir() / "run"
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(stat.S_IRWXU)
    os.environ["XDG_RUNTIME_DIR"] = str(path)


def pgdata_dir() -> Path:
    return data_dir() / "pg"


def start(database: str = DATABASE) -> str:
    """Start (or reuse) the private server; create ``database`` if missing; return its URL."""
    _prepare_runtime_dir()
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - dependency of the project
        raise RuntimeError(
            "The embedded Postgres needs the 'pgserver' package (pip install pgserver), "
            "or set PARLAY_DATABASE_URL to a PostgreSQL server you run."
        ) from exc
    try:
        server = pgserver.get_server(pgdata_dir(), cleanup_mode=None)
    except Exception as exc:
        log = pgdata_dir() / "log"
        hint = f" Server log: {log}" if log.exists() else ""
        raise RuntimeError(
            f"Could not start the embedded PostgreSQL under {pgdata_dir()}: {exc}.{hint} "
            "Set PARLAY_DATABASE_URL to use another server."
        ) from exc
    admin_url = server.get_uri()
    if _tune(admin_url):
        _pg_ctl("restart", "-m", "fast")
        server = pgserver.get_server(pgdata_dir(), cleanup_mode=None)
        admin_url = server.get_uri()
    _ensure_database(admin_url, database)
    return server.get_uri(database)


# Settings for a private server that also serves tests (hundreds of concurrent sessions) and bulk loads.
SETTINGS = {"max_connections": "300", "shared_buffers": "256MB", "max_wal_size": "4GB", "jit": "off"}


def _tune(admin_url: str) -> bool:
    """Apply SETTINGS with ALTER SYSTEM; True when a restart is needed for them to take effect."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        current = {
            name: _in_kb(setting, unit)
            for name, setting, unit in conn.execute(
                "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)", (list(SETTINGS),)
            )
        }
        changed = False
        for name, value in SETTINGS.items():
            if current.get(name) != _in_kb(value, None):
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
                changed = True
        if changed:
            conn.execute("SELECT pg_reload_conf()")
            return conn.execute("SELECT count(*) FROM pg_settings WHERE pending_restart").fetchone()[0] > 0
    return False


def _in_kb(value: str, unit: str | None) -> str:
    """Sizes in kB (pg_settings reports shared_buffers in 8kB pages, max_wal_size in MB); text otherwise."""
    factors = {"8kB": 8, "kB": 1, "MB": 1024, "GB": 1024 * 1024}
    if unit in factors and value.isdigit():
        return str(int(value) * factors[unit])
    for suffix in ("GB", "MB", "kB"):
        if value.endswith(suffix) and value[: -len(suffix)].isdigit():
            return str(int(value[: -len(suffix)]) * factors[suffix])
    return value


def _pg_ctl(*args: str) -> None:
    import subprocess

    from pgserver._commands import POSTGRES_BIN_PATH

    pgdata = pgdata_dir()
    cmd = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-l", str(pgdata / "log"), *args]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "pgserver", "--", *cmd]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")


def stop() -> bool:
    """Stop the private server if it runs. Returns True when a server was stopped."""
    pgdata = pgdata_dir()
    if not (pgdata / "postmaster.pid").exists():
        return False
    _prepare_runtime_dir()
    try:
        _pg_ctl("stop", "-m", "fast")
    except RuntimeError:
        return False
    return True


def _ensure_database(admin_url: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
