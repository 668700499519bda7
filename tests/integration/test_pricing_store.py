"""Fitted models round-trip through Postgres + object storage and quote identically."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from models.pricing.ensemble import synthetic_pricer
from parlay import pricing_store

pytestmark = pytest.mark.integration


def test_saved_pricer_loads_and_quotes_the_same(fresh_database_url: str, tmp_path) -> None:
    pricer = synthetic_pricer(n_clusters=2, markets_per_cluster=12, seed=3)
    with psycopg.connect(fresh_database_url) as conn:
        with pytest.raises(pricing_store.NoFittedModels, match="parlay run"):
            pricing_store.load_pricer(conn)
        version = pricing_store.save_pricer(conn, str(tmp_path / "lake"), date(2026, 3, 7), pricer)
        loaded = pricing_store.load_pricer(conn)
        assert loaded.version == version
        assert set(loaded.markets()) == set(pricer.markets())
        tickers = sorted(pricer.markets())
        legs = [(tickers[0], "yes"), (tickers[3], "no"), (tickers[15], "yes")]
        a, b = pricer.quote(legs), loaded.quote(legs)
        assert a.probability == pytest.approx(b.probability, abs=1e-12)
        assert a.uncertainty == pytest.approx(b.uncertainty, abs=1e-12)
        # saving the same content again is idempotent: one cluster row per content hash
        pricing_store.save_pricer(conn, str(tmp_path / "lake"), date(2026, 3, 7), pricer)
        assert conn.execute("SELECT count(*) FROM pricing.cluster_models").fetchone()[0] == 2
        with pytest.raises(pricing_store.NoFittedModels):
            pricing_store.load_pricer(conn, day=date(2026, 3, 8))
