"""Bulk writes into Postgres: binary COPY into a staging table, then one INSERT … SELECT.

Values travel in types psycopg dumps fast in C (text, integers, booleans, dates, timestamps);
decimals travel as their exact text and are cast on the server. Rows are inserted with a plain
INSERT when the caller has cleared the scope it is replacing; if that meets an existing natural key
(the same record reached us through another file), the batch is redone with ``ON CONFLICT`` and the
rows already present are counted, not lost silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import errors, sql

EXCHANGE_TZ = "America/New_York"
BATCH_ROWS = 200_000


@dataclass(frozen=True)
class Column:
    name: str
    stage_type: str | None  # type in the staging table (what Python sends); None: computed only
    expr: str | None = None  # SQL producing the target value from staging columns; default: the column

    def select_expr(self) -> str:
        return self.expr if self.expr is not None else self.name


@dataclass(frozen=True)
class TableSpec:
    target: str  # schema-qualified target table
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # natural key (a unique constraint of the target)
    upsert: bool = False  # on conflict: update non-key columns (metadata) instead of skipping
    day_expr: str | None = None  # SQL (over staging) of a row's trading day, for day-scoped loads

    @property
    def stage_name(self) -> str:
        return "stage_" + self.target.replace(".", "_")

    @property
    def staged(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.stage_type is not None)


def num(name: str, typ: str = "numeric") -> Column:
    """A decimal column sent as exact text."""
    return Column(name, "text", f"{name}::{typ}")


def day_of(ts_column: str) -> str:
    return f"(({ts_column}) AT TIME ZONE '{EXCHANGE_TZ}')::date"


@dataclass
class WriteResult:
    staged: int = 0
    inserted: int = 0
    already_present: int = 0
    outside_day: int = 0


class BulkWriter:
    """Buffers rows for one table and writes them in batches inside the caller's transaction."""

    def __init__(self, conn: psycopg.Connection, spec: TableSpec, *, day: object | None = None) -> None:
        self.conn = conn
        self.spec = spec
        self.day = day
        self.rows: list[tuple] = []
        self.result = WriteResult()
        self._staged = False

    def add(self, row: tuple) -> None:
        self.rows.append(row)
        if len(self.rows) >= BATCH_ROWS:
            self.flush()

    def extend(self, rows: Iterable[tuple]) -> None:
        for row in rows:
            self.add(row)

    def _ensure_stage(self) -> None:
        if self._staged:
            return
        cols = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.stage_type or ""))
            for c in self.spec.staged
        )
        self.conn.execute(
            sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DROP").format(
                sql.Identifier(self.spec.stage_name), cols
            )
        )
        self._staged = True

    def flush(self) -> None:
        if not self.rows:
            return
        spec = self.spec
        self._ensure_stage()
        stage = sql.Identifier(spec.stage_name)
        self.conn.execute(sql.SQL("TRUNCATE {}").format(stage))
        with self.conn.cursor() as cur, cur.copy(
            sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(stage)
        ) as copy:
            copy.set_types([c.stage_type for c in spec.staged if c.stage_type])
            for row in self.rows:
                copy.write_row(row)
        staged = len(self.rows)
        self.rows = []
        self.result.staged += staged
        inserted = self._insert(stage, conflict=spec.upsert)
        self.result.inserted += inserted

    def _insert(self, stage: sql.Identifier, *, conflict: bool) -> int:
        spec = self.spec
        names = sql.SQL(", ").join(sql.Identifier(c.name) for c in spec.columns)
        exprs = sql.SQL(", ").join(sql.SQL(c.select_expr()) for c in spec.columns)
        where = sql.SQL("")
        params: tuple = ()
        if self.day is not None and spec.day_expr:
            where = sql.SQL(" WHERE {} = %s").format(sql.SQL(spec.day_expr))
            params = (self.day,)
            total = self.conn.execute(sql.SQL("SELECT count(*) FROM {}").format(stage)).fetchone()[0]
            in_day = self.conn.execute(
                sql.SQL("SELECT count(*) FROM {}{}").format(stage, where), params
            ).fetchone()[0]
            self.result.outside_day += total - in_day
        base = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}{}").format(
            sql.SQL(spec.target), names, exprs, stage, where
        )
        key = sql.SQL(", ").join(sql.Identifier(k) for k in spec.key)
        if spec.upsert:
            updates = sql.SQL(", ").join(
                sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c.name), sql.Identifier(c.name))
                for c in spec.columns
                if c.name not in spec.key
            )
            stmt = base + sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(key, updates)
            return self.conn.execute(stmt, params).rowcount
        if not conflict:
            try:
                with self.conn.transaction():
                    return self.conn.execute(base, params).rowcount
            except errors.UniqueViolation:
                pass  # some rows exist already: redo the batch skipping them, and count them
        wanted = self.conn.execute(
            sql.SQL("SELECT count(*) FROM {}{}").format(stage, where), params
        ).fetchone()[0]
        n = self.conn.execute(base + sql.SQL(" ON CONFLICT ({}) DO NOTHING").format(key), params).rowcount
        self.result.already_present += wanted - n
        return n


def delete_scope(conn: psycopg.Connection, tables: Sequence[str], where: str, params: tuple) -> int:
    """Delete the rows a reload replaces (same file, or same source and day)."""
    total = 0
    for table in tables:
        total += conn.execute(
            sql.SQL("DELETE FROM {} WHERE {}").format(sql.SQL(table), sql.SQL(where)), params
        ).rowcount
    return total
