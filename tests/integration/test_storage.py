"""Storage edges: the embedded Postgres, versioned migrations, Parquet history through fsspec."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import fsspec
import psycopg
import pyarrow.parquet as pq
import pytest

from parlay.db import embedded
from parlay.db import migrate as migrations
from parlay.db.connection import redact, resolve_database_url, sqlalchemy_url
from parlay.warehouse.history import export_day

pytestmark = pytest.mark.integration


def test_embedded_default_starts_a_private_server_when_no_url_is_configured(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("PARLAY_DATABASE_URL", raising=False)
    monkeypatch.setenv("PARLAY_HOME", str(tmp_path))
    url = resolve_database_url()
    try:
        assert str(tmp_path) in url
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == embedded.DATABASE
            applied = migrations.migrate(conn)
            assert applied and applied[0].startswith("0001_")
            assert migrations.migrate(conn) == []  # idempotent
        assert "socket" in redact(url)
        assert sqlalchemy_url(url, schema="dagster").startswith("postgresql+psycopg2://postgres@/parlay?host=")
    finally:
        assert embedded.stop()


def test_an_applied_migration_must_not_change(fresh_database_url: str, monkeypatch) -> None:
    real = migrations.available()
    changed = [migrations.Migration(m.version, m.name, m.sql + "\n-- edited") for m in real]
    monkeypatch.setattr(migrations, "available", lambda: changed)
    with psycopg.connect(fresh_database_url) as conn, pytest.raises(RuntimeError, match="changed after it was applied"):
        migrations.migrate(conn)


def test_history_roundtrip_is_exact_on_any_fsspec_store(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        conn.execute(
            """INSERT INTO raw.trades (trade_id, market_ticker, ts, trading_day, yes_price, no_price, count,
                                       taker_side, sid, seq, source)
               VALUES ('t1', 'M', '2026-03-08T00:11:49.123456Z', '2026-03-07', 0.4250, 0.5750, 12.50, 'yes',
                       2, 1, 'test'),
                      ('t2', 'M', '2026-03-09T00:00:00Z', '2026-03-08', 0.1000, 0.9000, 1, NULL, 2, 2, 'test')"""
        )
        written = export_day(conn, "memory://lake", date(2026, 3, 7), ["trades"])
    assert [(w.table, w.rows) for w in written] == [("raw.trades", 1)]
    fs = fsspec.filesystem("memory")
    with fs.open(written[0].path, "rb") as fh:
        rows = pq.read_table(fh).to_pylist()
    assert rows[0]["yes_price"] == Decimal("0.4250") and rows[0]["count"] == Decimal("12.50")
    assert rows[0]["ts"].isoformat() == "2026-03-08T00:11:49.123456+00:00"
    assert written[0].path.endswith("raw/trades/trading_day=2026-03-07/part-0.parquet")
