"""`parlay quote` on a market of an older day's models says which day, and the --date that quotes it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg
import pytest

from models.pricing.ensemble import synthetic_pricer
from parlay.pricing_store import save_pricer
from service.bench import seed_database

pytestmark = pytest.mark.integration
PARLAY = str(Path(sys.executable).with_name("parlay"))


def test_quote_of_an_older_days_market_suggests_its_date(fresh_database_url: str, tmp_path: Path) -> None:
    storage = str(tmp_path / "lake")
    seed_database(fresh_database_url, storage, synthetic_pricer(2, 6, 2.0, seed=1), day=date(2026, 3, 7))
    with psycopg.connect(fresh_database_url) as conn:  # the newest day's models hold only the first cluster
        save_pricer(conn, storage, date(2026, 3, 10), synthetic_pricer(1, 6, 2.0, seed=2))
    env = {**os.environ, "PARLAY_STORAGE_URL": storage}
    legs = "KXSYN-SYN01-M000:yes,KXSYN-SYN01-M001:no"
    proc = subprocess.run([PARLAY, "quote", "--legs", legs, "--database-url", fresh_database_url],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0
    assert "unknown_market" in proc.stderr and "--date 2026-03-07" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
