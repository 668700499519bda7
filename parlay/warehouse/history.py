"""Parquet history in object storage (fsspec): ``<storage>/raw/<table>/trading_day=<day>/part-0.parquet``.

Rows leave Postgres through ``COPY … TO STDOUT (FORMAT csv)`` and are parsed by Arrow's CSV reader
with explicit types: exact decimals stay ``decimal128``, timestamps are UTC microseconds. Writing a
day again overwrites its file, so exports are idempotent. ``s3://bucket/prefix`` works through s3fs
with the usual AWS environment (``AWS_ACCESS_KEY_ID``…, ``AWS_ENDPOINT_URL`` for other S3 stores).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import fsspec
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg import sql


@dataclass(frozen=True)
class Written:
    table: str
    path: str
    rows: int
    bytes: int


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[str, str, int | None, int | None]]:
    return conn.execute(
        """SELECT column_name, data_type, numeric_precision, numeric_scale
           FROM information_schema.columns WHERE table_schema = %s AND table_name = %s
           ORDER BY ordinal_position""",
        (schema, table),
    ).fetchall()


def _plan(cols: list[tuple[str, str, int | None, int | None]]) -> tuple[list[sql.Composable], dict, dict]:
    select: list[sql.Composable] = []
    arrow_types: dict[str, pa.DataType] = {}
    casts: dict[str, pa.DataType] = {}
    for name, dtype, precision, scale in cols:
        ident = sql.Identifier(name)
        if dtype == "timestamp with time zone":
            select.append(sql.SQL("(extract(epoch FROM {c}) * 1000000)::int8 AS {c}").format(c=ident))
            arrow_types[name] = pa.int64()
            casts[name] = pa.timestamp("us", tz="UTC")
        elif dtype == "numeric" and precision is not None and scale is not None:
            select.append(ident)
            arrow_types[name] = pa.decimal128(precision, scale)
        elif dtype in ("integer", "bigint", "smallint"):
            select.append(ident)
            arrow_types[name] = pa.int64()
        elif dtype == "boolean":
            select.append(ident)
            arrow_types[name] = pa.bool_()
        elif dtype == "date":
            select.append(ident)
            arrow_types[name] = pa.date32()
        else:  # text, unconstrained numeric, arrays: exact text
            select.append(sql.SQL("{c}::text AS {c}").format(c=ident))
            arrow_types[name] = pa.string()
    return select, arrow_types, casts


def read_table(conn: psycopg.Connection, schema: str, table: str, day: date | None) -> pa.Table:
    cols = _columns(conn, schema, table)
    if not cols:
        raise ValueError(f"{schema}.{table} does not exist")
    select, arrow_types, casts = _plan(cols)
    has_day = any(c[0] == "trading_day" for c in cols)
    query = sql.SQL("SELECT {} FROM {}.{}").format(
        sql.SQL(", ").join(select), sql.Identifier(schema), sql.Identifier(table)
    )
    if has_day and day is not None:
        query += sql.SQL(" WHERE trading_day = {}").format(sql.Literal(day))
    buf = io.BytesIO()
    with conn.cursor() as cur, cur.copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER true)").format(query)) as copy:
        for chunk in copy:
            buf.write(chunk)
    buf.seek(0)
    names = [c[0] for c in cols]
    if buf.getbuffer().nbytes == 0:
        return pa.table({n: pa.array([], type=casts.get(n, arrow_types[n])) for n in names})
    t = pacsv.read_csv(
        buf,
        convert_options=pacsv.ConvertOptions(
            column_types=arrow_types, strings_can_be_null=True, quoted_strings_can_be_null=False,
            true_values=["t"], false_values=["f"],
        ),
    )
    for name, typ in casts.items():
        i = t.schema.get_field_index(name)
        t = t.set_column(i, name, t.column(name).cast(pa.int64()).cast(typ))
    return t


def export_day(
    conn: psycopg.Connection, storage_url: str, day: date, tables: Sequence[str], schema: str = "raw"
) -> list[Written]:
    """Write each table's rows of ``day`` (whole table for tables without a trading day) as Parquet."""
    fs, root = fsspec.core.url_to_fs(storage_url)
    written = []
    for table in tables:
        t = read_table(conn, schema, table, day)
        folder = f"{root.rstrip('/')}/{schema}/{table}/trading_day={day.isoformat()}"
        fs.makedirs(folder, exist_ok=True)
        path = f"{folder}/part-0.parquet"
        with fs.open(path, "wb") as fh:
            pq.write_table(t, fh, compression="zstd")
        size = fs.size(path)
        written.append(Written(f"{schema}.{table}", path, t.num_rows, int(size or 0)))
    return written
