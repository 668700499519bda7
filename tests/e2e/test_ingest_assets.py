"""The ingest assets end to end, in process, for each source."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from dagster_project.resources import MarketSourceResource
from tests.fakes.kalshi_server import FakeKalshi, fake_private_key

pytestmark = pytest.mark.e2e

TABLES = ("series", "events", "markets", "orderbook_snapshots", "orderbook_tops", "trades", "candles",
          "combo_markets", "combo_legs", "combo_trades", "settlements")


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0] for t in TABLES}


def test_live_source_against_a_local_kalshi(materialize_ingest, fresh_database_url: str, monkeypatch,
                                            tmp_path: Path) -> None:
    with FakeKalshi(fake_private_key().public_key()) as fake:
        monkeypatch.setenv("PARLAY_KALSHI_BASE_URL", fake.base_url)
        result = materialize_ingest(MarketSourceResource(kind="live", live_series="KXNBAGAME"), "2026-03-07")
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    got = counts(fresh_database_url)
    assert got["markets"] >= 6 and got["trades"] > 0
    assert got["candles"] > 0 and got["combo_markets"] > 0
    # a live book snapshot is taken now, so it belongs to today's partition, not to a past day
    assert got["orderbook_snapshots"] == 0
    stream = result.asset_materializations_for_node("market_stream")[0].metadata
    assert stream["outside_day"].value >= 4
    # history written for the day
    assert list((tmp_path / "lake" / "raw" / "trades").glob("trading_day=2026-03-07/*.parquet"))


def test_simulated_source_day_is_loaded_and_reloading_replaces_it(materialize_ingest,
                                                                  fresh_database_url: str) -> None:
    from models.simulator import SimulationConfig

    small = MarketSourceResource(kind="simulated", seed=11)
    first = materialize_ingest(small, "2026-03-07")
    assert first.success
    got = counts(fresh_database_url)
    assert got["markets"] >= 120 and got["combo_markets"] >= 1000 and got["combo_trades"] >= 2000
    assert got["orderbook_snapshots"] > 10_000 and got["settlements"] > 100 and got["candles"] > 0
    meta = first.asset_materializations_for_node("market_stream")[0].metadata
    assert meta["quarantined"].value == 0 and meta["outside_day"].value == 0 and meta["balanced"].value
    # one winner per moneyline event, from the simulator's settlements
    with psycopg.connect(fresh_database_url) as conn:
        bad = conn.execute(
            """SELECT m.event_ticker FROM raw.settlements s JOIN raw.markets m ON m.ticker = s.market_ticker
               JOIN raw.events e ON e.event_ticker = m.event_ticker
               WHERE e.mutually_exclusive GROUP BY 1 HAVING count(*) FILTER (WHERE s.result = 'yes') <> 1"""
        ).fetchall()
    assert bad == []
    second = materialize_ingest(small, "2026-03-07")
    assert second.success
    assert counts(fresh_database_url) == got  # re-materializing the partition replaces, never duplicates
    assert SimulationConfig(seed=11).n_games == 6
