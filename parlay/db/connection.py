"""Resolve, describe and open the project's PostgreSQL database.

One database holds everything: schemas ``raw`` and ``quarantine`` (ingest), the dbt schemas, the
ledger, and ``dagster`` (the Dagster instance: runs, events, schedules).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict

from parlay.config import configured_database_url

DAGSTER_SCHEMA = "dagster"


@dataclass(frozen=True)
class DatabaseParams:
    """Connection parameters parsed from a URL (password kept out of repr)."""

    host: str
    port: int
    user: str
    dbname: str
    password: str = ""

    def __repr__(self) -> str:
        return f"DatabaseParams(host={self.host!r}, port={self.port}, user={self.user!r}, dbname={self.dbname!r})"

    @property
    def is_socket(self) -> bool:
        return self.host.startswith("/")


def resolve_database_url(url: str | None = None) -> str:
    """The URL to use: an explicit one, else PARLAY_DATABASE_URL, else the embedded server."""
    if url:
        return url
    configured = configured_database_url()
    if configured:
        return configured
    from parlay.db import embedded

    return embedded.start()


def params(url: str) -> DatabaseParams:
    info = conninfo_to_dict(url)
    host = str(info.get("host") or "/var/run/postgresql")
    return DatabaseParams(
        host=host,
        port=int(info.get("port") or 5432),
        user=str(info.get("user") or "postgres"),
        dbname=str(info.get("dbname") or info.get("user") or "postgres"),
        password=str(info.get("password") or ""),
    )


def redact(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    p = params(url)
    where = f"socket {p.host}" if p.is_socket else f"{p.host}:{p.port}"
    return f"postgresql://{p.user}@{where}/{p.dbname}"


def sqlalchemy_url(url: str, *, schema: str | None = None) -> str:
    """A ``postgresql+psycopg2://`` URL (what dagster-postgres needs), optionally pinned to a schema."""
    p = params(url)
    auth = quote(p.user, safe="")
    if p.password:
        auth += ":" + quote(p.password, safe="")
    query: list[str] = []
    if p.is_socket:
        netloc = f"{auth}@"
        query.append(f"host={quote(p.host, safe='/')}")
        query.append(f"port={p.port}")
    else:
        netloc = f"{auth}@{p.host}:{p.port}"
    if schema:
        query.append("options=" + quote(f"-csearch_path={schema}", safe=""))
    q = ("?" + "&".join(query)) if query else ""
    return f"postgresql+psycopg2://{netloc}/{quote(p.dbname, safe='')}{q}"


def connect(url: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a psycopg 3 connection with a clear error when the server cannot be reached."""
    resolved = resolve_database_url(url)
    try:
        return psycopg.connect(resolved, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"Cannot connect to PostgreSQL at {redact(resolved)}: {str(exc).strip().splitlines()[0]}. "
            "Check PARLAY_DATABASE_URL (unset it to use the embedded server)."
        ) from exc


def with_database(url: str, dbname: str) -> str:
    """The same server and credentials, another database (a libpq key=value string)."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(url, dbname=dbname)


@contextmanager
def temporary_database(url: str | None = None, prefix: str = "parlay_tmp",
                       template: str | None = None) -> Iterator[str]:
    """Create a fresh database on the server of ``url`` (default: the project's), yield its URL, drop it.
    ``template``: the name of a database to copy (nobody may be connected to it meanwhile)."""
    from psycopg import sql

    base = resolve_database_url(url)
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin_url = with_database(base, "postgres")
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create = sql.SQL("{} TEMPLATE {}").format(create, sql.Identifier(template))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(create)
    try:
        yield with_database(base, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
