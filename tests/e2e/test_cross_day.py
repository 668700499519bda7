"""README's steps in order: a recorded run, a bet on that replayed day through the API, then a simulated run.

The bet is placed after its day was settled, so it stays open; the next day's run must scope risk, hedging and
P&L to its own day (no ``KeyError: no variable mapping for market …``), and the replayed bet is settled from
its own day's outcomes."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from fastapi.testclient import TestClient

from parlay import apikeys
from parlay.orchestration import run_main_job
from tests.e2e.test_real_day_shapes import DAY, GAME_A, GAME_B
from tests.fakes.captures import T0, CaptureWriter

pytestmark = pytest.mark.e2e
SIMULATED_DAY = date(2025, 12, 15)


def two_games() -> CaptureWriter:
    """Two games traded side by side for an hour, then settled (BBB and EEE win)."""
    w = CaptureWriter(shape="both")
    books = {GAME_A[0]: 60, GAME_A[1]: 40, GAME_B[0]: 35, GAME_B[1]: 65}
    for ticker, cents in books.items():
        w.snapshot(ticker, ticker, [(cents - 1, 100)], [(100 - cents - 1, 80)])
    for i in range(240):
        for ticker, cents in books.items():
            w.delta(ticker, ticker, "yes", cents - 1, 3 if i % 2 else -3)
        if i % 4 == 0:
            for ticker, cents in books.items():
                w.trade(ticker, ticker, cents, 5)
            w.tick(60)
    for ticker, wins in ((GAME_A[0], True), (GAME_A[1], False), (GAME_B[0], False), (GAME_B[1], True)):
        w.trade(ticker, ticker, 99 if wins else 1, 10)
    return w


def test_readme_steps_recorded_run_replayed_bet_then_simulated_run(
    tmp_path: Path, monkeypatch, fresh_database_url: str
) -> None:
    from dagster_project.assets import ingest
    from service.app import create_app
    from service.settings import ServiceSettings

    url, lake, captures = fresh_database_url, tmp_path / "lake", tmp_path / "captures"
    two_games().write(captures)
    for k, v in {
        "PARLAY_DATABASE_URL": url,
        "PARLAY_STORAGE_URL": str(lake),
        "PARLAY_CAPTURES_DIR": str(captures),
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("PARLAY_EXECUTION_VENUE", raising=False)
    instance = dg.DagsterInstance.ephemeral()

    # 1. the recorded run
    ingest._cached_source.cache_clear()
    (recorded,) = run_main_job(
        "recorded",
        [date.fromisoformat(DAY)],
        [captures],
        log=lambda _: None,
        instance=instance,
        exclude_groups=("evaluation",),
    )
    assert recorded.success, (recorded.failed_steps, recorded.failed_checks)

    # 2. a bet on the replayed day through the API, as of an instant of that day (already settled: it stays open)
    with psycopg.connect(url) as conn:
        key = apikeys.create_api_key(conn, "me")
        conn.commit()
    settings = ServiceSettings.from_env(
        database_url=url,
        storage_url=str(lake),
        trading_day=date.fromisoformat(DAY),
        as_of=T0 + timedelta(minutes=30),
        live=False,
        redis_enabled=False,
    )
    headers = {"X-API-Key": key.api_key}
    with TestClient(create_app(settings)) as client:
        legs = [{"ticker": GAME_A[0], "side": "yes"}, {"ticker": GAME_B[1], "side": "yes"}]  # BBB and EEE: both win
        q = client.post("/quotes", json={"legs": legs, "stake": 10}, headers=headers)
        assert q.status_code == 201, q.text
        b = client.post(
            "/bets",
            json={"quote_id": q.json()["quote_id"], "stake": 10, "idempotency_key": "my-first-bet"},
            headers=headers,
        )
        assert b.status_code == 201, b.text
        bet_id = b.json()["bet_id"]
    with psycopg.connect(url) as conn:
        state, day = conn.execute("SELECT state, trading_day FROM ledger.bets WHERE bet_id = %s", (bet_id,)).fetchone()
    assert (state, day) == ("open", date.fromisoformat(DAY))

    # 3. a simulated run of another day: exits 0, and the replayed bet ends settled
    monkeypatch.setenv("PARLAY_SOURCE", "simulated")
    ingest._cached_source.cache_clear()
    (simulated,) = run_main_job(
        "simulated", [SIMULATED_DAY], log=lambda _: None, instance=instance, exclude_groups=("evaluation",)
    )
    assert simulated.success, (simulated.failed_steps, simulated.failed_checks)
    assert {"risk/listed_quotes", "hedging/deltas", "hedging/orders", "ledger/settlements", "ledger/pnl"} <= {
        k.split("[")[0] for k in simulated.materialized
    }
    with psycopg.connect(url) as conn:
        (state,) = conn.execute("SELECT state FROM ledger.bets WHERE bet_id = %s", (bet_id,)).fetchone()
        trial = conn.execute("SELECT coalesce(sum(amount), 0) FROM ledger.entries").fetchone()[0]
    assert state == "won", state
    assert trial == 0
    assert simulated.metadata["ledger/settlements"]["settled_bets_of_other_days"] == {DAY: 1}
    # the simulated day's hedge covers its own bets only: the replayed bet (still open then) is reported
    assert simulated.metadata["hedging/deltas"]["open_bets_other_days"] == {DAY: 1}
    assert simulated.metadata["ledger/settlements"]["open_bets_other_days"] == {}
