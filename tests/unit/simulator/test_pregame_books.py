"""Pre-game books: markets quote from their open, at the pre-game probability, until tip-off."""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from datetime import datetime, time, timedelta

from models.records import BookSnapshot
from models.simulator import SimulatedDay, SimulationConfig, simulate_day
from models.simulator.exchange import pregame_times
from models.simulator.games import EXCHANGE_TZ

from .conftest import DAY
from .invariants import check_day

SMALL = SimulationConfig(n_games=2, session_minutes=30, n_combo_markets=40, combo_trades_per_day=80)


def _pregame(day: SimulatedDay) -> list[BookSnapshot]:
    return [s for s in day.book_snapshots if s.ts < day.truth.game_of(s.market_ticker).tipoff]


def test_every_market_has_a_book_at_half_past_five_new_york(default_day: SimulatedDay) -> None:
    """A replay as of 17:30 New York time (before the first 18:00 tip-off) finds a book on every market,
    at most 15 minutes old."""
    at = datetime.combine(DAY, time(17, 30), tzinfo=EXCHANGE_TZ)
    latest: dict[str, datetime] = {}
    for s in default_day.book_snapshots:
        if s.ts <= at:
            latest[s.market_ticker] = max(latest.get(s.market_ticker, s.ts), s.ts)
    assert set(latest) == {m.ticker for m in default_day.markets}
    assert all(at - ts <= timedelta(minutes=15) for ts in latest.values())


def test_pregame_snapshots_run_every_15_minutes_from_the_open_to_tipoff(default_day: SimulatedDay) -> None:
    opens = {m.ticker: m.open_time for m in default_day.markets}
    times: dict[str, list[datetime]] = {}
    for s in _pregame(default_day):
        times.setdefault(s.market_ticker, []).append(s.ts)
    assert set(times) == set(opens)
    for ticker, ts in times.items():
        tipoff = default_day.truth.game_of(ticker).tipoff
        assert ts[0] == opens[ticker] == tipoff - timedelta(hours=8)
        assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(ts))
        assert len(ts) == 32 and ts[-1] == tipoff - timedelta(minutes=15)


def test_noiseless_pregame_books_bracket_the_pregame_probability() -> None:
    day = simulate_day(dataclasses.replace(SMALL, book_center_noise=0.0), DAY)
    checked = 0
    for s in _pregame(day):
        p = float(day.truth.probability_paths[s.market_ticker][0])
        assert abs(day.truth.probability(s.ts, [(s.market_ticker, "yes")]) - p) < 1e-12  # the truth before tip-off
        if 0.01 <= p <= 0.99:
            checked += 1
            assert float(s.yes[-1][0]) <= p <= 1.0 - float(s.no[-1][0])
    assert checked > 500


def test_pregame_books_leave_in_game_books_and_trades_unchanged() -> None:
    with_pre = simulate_day(SMALL, DAY)
    without = simulate_day(dataclasses.replace(SMALL, pregame_snapshot_minutes=0), DAY)
    assert not _pregame(without) and _pregame(with_pre)

    def in_game(day: SimulatedDay) -> list[tuple[object, ...]]:
        return [(s.market_ticker, s.ts, s.yes, s.no) for s in day.book_snapshots
                if s.ts >= day.truth.game_of(s.market_ticker).tipoff]

    def trades(day: SimulatedDay, pre: bool) -> list[tuple[object, ...]]:
        return [(t.trade_id, t.ts, t.yes_price, t.count) for t in day.trades
                if (t.ts < day.truth.game_of(t.market_ticker).tipoff) == pre]

    assert in_game(with_pre) == in_game(without)
    assert trades(with_pre, False) == trades(without, False)
    assert trades(with_pre, True) and not trades(without, True)
    assert with_pre.combo_trades == without.combo_trades
    check_day(with_pre)
    check_day(without)


def test_pregame_books_start_no_earlier_than_the_trading_day() -> None:
    cfg = dataclasses.replace(SMALL, first_tipoff_et=time(9, 0), market_open_lead_hours=12.0,
                              pregame_snapshot_minutes=60)
    day = simulate_day(cfg, DAY)
    midnight = datetime.combine(DAY, time(0), tzinfo=EXCHANGE_TZ)
    for game in day.truth.games:
        ts = pregame_times(cfg, game)
        assert ts[0] == midnight and ts[-1] < game.tipoff
    counts = Counter(s.market_ticker for s in _pregame(day))
    assert set(counts.values()) == {9, 10}  # 00:00 … 08:00 before 09:00, 00:00 … 09:00 before 09:20
    check_day(day)
