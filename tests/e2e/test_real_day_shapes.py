"""Real days of shapes the pipeline had not seen: nothing inside 5–95 %, one game, one side, no trades, no book.

Each day is synthesized (tests/fakes/captures.py) and run through the main job's three phases; every one must
complete, and a day with nothing quotable says so ("nothing to quote: <reason>")."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from parlay.orchestration import DayOutcome, run_main_job
from tests.fakes.captures import CaptureWriter

pytestmark = pytest.mark.e2e

DAY = "2026-03-07"
GAME_A = ("KXNBAGAME-26MAR07AAABBB-BBB", "KXNBAGAME-26MAR07AAABBB-AAA")
GAME_B = ("KXNBAGAME-26MAR07EEEFFF-FFF", "KXNBAGAME-26MAR07EEEFFF-EEE")


def _book(
    w: CaptureWriter, home: str, away: str, home_cents: int, trades: bool = True, n: int = 120, away_side: bool = True
) -> None:
    """Snapshots and deltas around ``home_cents`` for the home side (the away side its complement)."""
    w.snapshot(home, home, [(home_cents - 1, 100)], [(100 - home_cents - 1, 80)])
    if away_side:
        w.snapshot(away, away, [(100 - home_cents - 1, 70)], [(home_cents - 1, 60)])
    for i in range(n):
        w.delta(home, home, "yes", home_cents - 1, 3 if i % 2 else -3)
        if away_side:
            w.delta(away, away, "no", home_cents - 1, 2 if i % 2 else -2)
        if i % 4 == 0:
            if trades:
                w.trade(home, home, home_cents, 5)
                if away_side:
                    w.trade(away, away, 100 - home_cents, 4, taker="no")
            w.tick(60)


def _close(w: CaptureWriter, home: str, away: str | None, home_wins: bool = True) -> None:
    w.trade(home, home, 99 if home_wins else 1, 10)
    if away is not None:
        w.trade(away, away, 1 if home_wins else 99, 10)


def extreme_day() -> CaptureWriter:
    """Two games whose every market is outside 5–95 % all day (a blowout and a lock)."""
    w = CaptureWriter(shape="both")
    _book(w, *GAME_A, home_cents=97)
    _book(w, *GAME_B, home_cents=3)
    _close(w, *GAME_A, home_wins=True)
    _close(w, *GAME_B, home_wins=False)
    return w


def run_day(tmp_path: Path, monkeypatch, url: str, writer: CaptureWriter, name: str) -> DayOutcome:
    captures = tmp_path / name
    writer.write(captures)
    for key, value in {
        "PARLAY_DATABASE_URL": url,
        "PARLAY_SOURCE": "recorded",
        "PARLAY_CAPTURES_DIR": str(captures),
        "PARLAY_STORAGE_URL": str(tmp_path / "lake"),
    }.items():
        monkeypatch.setenv(key, value)
    from dagster_project.assets import ingest

    ingest._cached_source.cache_clear()
    (outcome,) = run_main_job(
        "recorded",
        [date.fromisoformat(DAY)],
        [captures],
        log=lambda _: None,
        instance=dg.DagsterInstance.ephemeral(),
        exclude_groups=("evaluation",),
    )
    return outcome


def done(outcome: DayOutcome) -> set[str]:
    return {k.split("[")[0] for k in outcome.materialized}


def assert_day_completes(outcome: DayOutcome, url: str) -> None:
    assert outcome.success, (outcome.failed_steps, outcome.failed_checks)
    assert {"risk/simulated_bets", "hedging/deltas", "hedging/orders", "ledger/settlements", "ledger/pnl"} <= done(
        outcome
    ), outcome.not_materialized
    assert outcome.metadata["ledger/pnl"]["trial_balance"] == 0
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT coalesce(sum(amount), 0) FROM ledger.entries").fetchone()[0] == 0


def test_a_day_with_every_market_outside_5_95_completes_and_says_nothing_to_quote(
    tmp_path, monkeypatch, fresh_database_url
) -> None:
    out = run_day(tmp_path, monkeypatch, fresh_database_url, extreme_day(), "extreme")
    assert_day_completes(out, fresh_database_url)
    bets = out.metadata["risk/simulated_bets"]
    assert bets["bets_placed"] == 0, bets
    assert str(bets["nothing_to_quote"]).startswith("nothing to quote: "), bets
    assert "5" in bets["nothing_to_quote"] and "95" in bets["nothing_to_quote"]
    assert any(str(n).startswith("nothing to quote: ") for n in out.nothing_to_quote.values()), out.nothing_to_quote


def one_side_day() -> CaptureWriter:
    """One game, and only its home side was captured."""
    w = CaptureWriter(shape="both")
    _book(w, *GAME_A, home_cents=60, away_side=False)
    _close(w, GAME_A[0], None, home_wins=True)
    return w


def no_trades_day() -> CaptureWriter:
    """Two games with books all day and not one trade (so no closing price and no outcome either)."""
    w = CaptureWriter(shape="both")
    _book(w, *GAME_A, home_cents=60, trades=False)
    _book(w, *GAME_B, home_cents=35, trades=False)
    return w


def no_book_day() -> CaptureWriter:
    """Two games with trades only: no snapshot, no delta."""
    w = CaptureWriter(shape="both")
    for i in range(40):
        w.trade(GAME_A[0], GAME_A[0], 60 + i % 3, 5)
        w.trade(GAME_A[1], GAME_A[1], 40 - i % 3, 4, taker="no")
        w.trade(GAME_B[0], GAME_B[0], 35 + i % 2, 3)
        w.tick(60)
    _close(w, *GAME_A, home_wins=True)
    _close(w, *GAME_B, home_wins=False)
    return w


@pytest.mark.parametrize("shape", ["one_side", "no_trades", "no_book"])
def test_a_day_of_an_unseen_shape_completes(shape: str, tmp_path, monkeypatch, fresh_database_url) -> None:
    writer = {"one_side": one_side_day, "no_trades": no_trades_day, "no_book": no_book_day}[shape]()
    out = run_day(tmp_path, monkeypatch, fresh_database_url, writer, shape)
    assert_day_completes(out, fresh_database_url)
    bets = out.metadata["risk/simulated_bets"]
    if bets["bets_placed"] == 0:  # nothing placed: the day says why
        assert str(bets.get("nothing_to_quote") or "").startswith("nothing to quote: ") or bets["attempts"] > 0, bets
