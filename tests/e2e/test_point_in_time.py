"""A replay at instant T uses only data stamped at or before T.

Two recorded days share every message up to T and differ in every message after it: other prices, other
trades, the other winner. Each runs through the main job into its own database. The pricer a replay as of T
quotes from (``parlay.pricing_store.as_of_pricer``, which the quote service loads under
``PARLAY_SERVICE_AS_OF``) and the market states it shows must be identical on both; 40 minutes after T, once
the paths have parted, they must differ (so the comparison can fail).
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from parlay.db.connection import temporary_database
from parlay.db.migrate import migrate
from parlay.orchestration import DayOutcome, run_main_job
from parlay.pricing_store import as_of_pricer, load_pricer
from service.state import as_of_snapshot
from tests.fakes.captures import T0, CaptureWriter

pytestmark = pytest.mark.e2e

DAY = date(2026, 3, 7)  # T0 is 19:30 New York time on this day
GAMES = (("KXNBAGAME-26MAR07AAABBB-BBB", "KXNBAGAME-26MAR07AAABBB-AAA"),
         ("KXNBAGAME-26MAR07EEEFFF-FFF", "KXNBAGAME-26MAR07EEEFFF-EEE"))
MINUTES = 150
T = T0 + timedelta(minutes=75)


def home_cents(game: int, minute: int, perturbed_after: datetime | None, now: datetime) -> int:
    """The home side's mid in cents: a slow wave; on the perturbed day, another path once past T."""
    if perturbed_after is not None and now > perturbed_after:
        return (85, 12)[game] - minute % 7
    return (55, 40)[game] + round(8 * math.sin(minute / (12 + 5 * game)))


def capture_day(perturbed: bool) -> CaptureWriter:
    """Two games quoted once a minute for ``MINUTES`` minutes, with trades every third minute and a closing
    trade per market. ``perturbed``: every message after ``T`` differs (prices, sizes, the winners)."""
    after = T if perturbed else None
    w = CaptureWriter(shape="both")
    last: dict[str, int] = {}
    for (home, away), g in zip(GAMES, (0, 1), strict=True):
        c = home_cents(g, 0, after, w.t)
        w.snapshot(home, home, [(c - 1, 100)], [(100 - c - 1, 80)])
        w.snapshot(away, away, [(100 - c - 1, 70)], [(c - 1, 60)])
        last[home] = c
    for minute in range(1, MINUTES):
        for (home, away), g in zip(GAMES, (0, 1), strict=True):
            old, new = last[home], home_cents(g, minute, after, w.t)
            if new != old:  # move both books, the falling bid first so that no book is ever crossed
                up = new > old
                moves = {
                    (home, "yes"): (old - 1, new - 1, 100), (home, "no"): (100 - old - 1, 100 - new - 1, 80),
                    (away, "yes"): (100 - old - 1, 100 - new - 1, 70), (away, "no"): (old - 1, new - 1, 60),
                }
                order = [(home, "no"), (home, "yes"), (away, "yes"), (away, "no")] if up else \
                    [(home, "yes"), (home, "no"), (away, "no"), (away, "yes")]
                for ticker, side in order:
                    before, after_, size = moves[(ticker, side)]
                    w.delta(ticker, ticker, side, before, -size)
                    w.delta(ticker, ticker, side, after_, size)
                last[home] = new
            if minute % 3 == 0:
                size = 7 if perturbed and w.t > T else 5
                w.trade(home, home, new, size)
                w.trade(away, away, 100 - new, size - 1, taker="no")
        w.tick(60)
    for (home, away), g in zip(GAMES, (0, 1), strict=True):
        home_wins = (g == 0) != perturbed  # the perturbed day has the other winners
        w.trade(home, home, 99 if home_wins else 1, 10)
        w.trade(away, away, 1 if home_wins else 99, 10)
    return w


def run_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, name: str, perturbed: bool) -> DayOutcome:
    captures = tmp_path / name
    capture_day(perturbed).write(captures)
    for key, value in {"PARLAY_DATABASE_URL": url, "PARLAY_SOURCE": "recorded", "PARLAY_CAPTURES_DIR": str(captures),
                       "PARLAY_STORAGE_URL": str(tmp_path / f"lake-{name}")}.items():
        monkeypatch.setenv(key, value)
    from dagster_project.assets import ingest

    ingest._cached_source.cache_clear()
    (outcome,) = run_main_job("recorded", [DAY], [captures], log=lambda _: None,
                              instance=dg.DagsterInstance.ephemeral(), exclude_groups=("evaluation",))
    assert outcome.success, (outcome.failed_steps, outcome.failed_checks)
    return outcome


def view_at(url: str, when: datetime) -> dict[str, object]:
    """Everything a replay as of ``when`` shows: per market its state and model probability, and the price of
    every cross-game parlay of two legs."""
    with psycopg.connect(url) as conn:
        pricer = as_of_pricer(conn, DAY, when, load_pricer(conn, day=DAY))
        snap = as_of_snapshot(conn, pricer, DAY, when)
    markets = {t: (m.probability, m.mid, m.status) for t, m in sorted(pricer.markets().items())}
    states = {t: (s.status, s.book_ts, s.mid) for t, s in sorted(snap.markets.items())}
    parlays = {}
    for a in GAMES[0]:
        for b in GAMES[1]:
            for side in ("yes", "no"):
                q = pricer.quote([(a, "yes"), (b, side)])
                parlays[(a, b, side)] = (round(q.probability, 12), round(q.uncertainty, 12))
    return {"markets": markets, "states": states, "parlays": parlays}


def test_quotes_at_t_do_not_see_messages_after_t(tmp_path, monkeypatch, pg_server) -> None:
    with temporary_database(pg_server, prefix="parlay_pit_a") as url_a, \
            temporary_database(pg_server, prefix="parlay_pit_b") as url_b:
        for url in (url_a, url_b):
            with psycopg.connect(url) as conn:
                migrate(conn)
        run_day(tmp_path, monkeypatch, url_a, "original", perturbed=False)
        run_day(tmp_path, monkeypatch, url_b, "perturbed", perturbed=True)

        at_a, at_b = view_at(url_a, T), view_at(url_b, T)
        assert len(at_a["markets"]) == 4 and len(at_a["parlays"]) == 8, at_a
        assert all(s[0] == "active" and s[1] is not None and s[1] <= T for s in at_a["states"].values()), at_a
        assert at_a == at_b

        # the control: once the paths have parted, the replays differ (the comparison above can fail)
        later = T + timedelta(minutes=40)
        late_a, late_b = view_at(url_a, later), view_at(url_b, later)
        assert late_a["states"] != late_b["states"]
        assert late_a["markets"] != late_b["markets"]
        assert late_a["parlays"] != late_b["parlays"]

        # the end-of-day model knows the later path: it is not what a replay at T shows
        with psycopg.connect(url_a) as conn:
            final = load_pricer(conn, day=DAY)
        assert {t: m.probability for t, m in final.markets().items()} != \
            {t: v[0] for t, v in at_a["markets"].items()}
