"""Versioned schema migrations: ``parlay/db/migrations/NNNN_name.sql``, applied in order, once.

Applied versions are recorded in ``meta.schema_migrations`` with a checksum; an applied migration
whose file changed is an error (write a new migration instead). A transaction-level advisory lock
keeps concurrent runs from applying the same migration twice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 7_340_112_001


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    folder = resources.files("parlay.db") / "migrations"
    found = []
    for entry in folder.iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text()))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"duplicate migration versions in {folder}: {versions}")
    return found


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations; return the names applied."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute("CREATE SCHEMA IF NOT EXISTS meta")
        conn.execute(
            """CREATE TABLE IF NOT EXISTS meta.schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {v: c for v, c in conn.execute("SELECT version, checksum FROM meta.schema_migrations")}
        for mig in available():
            if mig.version in done:
                if done[mig.version] != mig.checksum:
                    raise RuntimeError(
                        f"migration {mig.version:04d}_{mig.name} changed after it was applied; "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            conn.execute(mig.sql)
            conn.execute(
                "INSERT INTO meta.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (mig.version, mig.name, mig.checksum),
            )
            applied_now.append(f"{mig.version:04d}_{mig.name}")
    return applied_now
