from __future__ import annotations

import dataclasses
import itertools
import pickle
from collections import Counter
from datetime import date, time, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.records import YES
from models.simulator import SimulatedDay, SimulationConfig, simulate_day, simulate_games
from parlay.sources.base import trading_day

from .conftest import DAY
from .invariants import check_day

RECORD_FIELDS = (
    "series", "events", "markets", "combo_markets", "book_snapshots", "book_deltas", "trades",
    "combo_trades", "settlements", "stream",
)
SMALL = SimulationConfig(n_games=2, session_minutes=30, n_combo_markets=40, combo_trades_per_day=80)


def test_default_day_satisfies_every_invariant(default_day: SimulatedDay) -> None:
    check_day(default_day)


def test_default_sizes(default_day: SimulatedDay) -> None:
    cfg = default_day.config
    assert len(default_day.truth.games) == 6
    per_game = Counter(m.event_ticker.split("-")[1] for m in default_day.markets)
    assert len(per_game) == 6 and all(20 <= n <= 40 for n in per_game.values())
    assert len(default_day.combo_trades) == cfg.combo_trades_per_day == 3000
    # 180 in-game minutes and 32 pre-game snapshots (8 h before tip-off, one every 15 min)
    assert len(default_day.book_snapshots) == len(default_day.markets) * (180 + 32)
    tradable = len(default_day.combo_markets) - len(default_day.truth.impossible_combos)
    assert tradable == cfg.n_combo_markets
    assert 3 <= len(default_day.truth.impossible_combos) <= cfg.n_impossible_combos
    assert len(default_day.trades) > 1000
    legs = Counter(len(c.legs) for c in default_day.combo_markets)
    assert set(legs) == {2, 3, 4}
    cross = sum(
        len({default_day.truth.markets[leg.market_ticker].game for leg in c.legs}) > 1
        for c in default_day.combo_markets
    )
    assert 0.1 < cross / len(default_day.combo_markets) < 0.3  # cross_game_fraction = 0.2
    families = Counter(s.family for s in default_day.truth.markets.values())
    assert set(families) == {"moneyline", "spread", "total", "total_bracket", "team_total", "prop"}


def test_games_belong_to_the_requested_trading_day(default_day: SimulatedDay) -> None:
    for game in default_day.truth.games:
        assert trading_day(game.tipoff) == DAY
        assert game.code.startswith("26MAR07")
    tipoffs = [g.tipoff for g in default_day.truth.games]
    stagger = timedelta(minutes=default_day.config.tipoff_stagger_minutes)
    assert all(b - a == stagger for a, b in itertools.pairwise(tipoffs))


def test_same_config_and_day_give_identical_output(default_day: SimulatedDay) -> None:
    again = simulate_day(SimulationConfig(), DAY)
    for name in RECORD_FIELDS:
        assert getattr(again, name) == getattr(default_day, name), name
    for a, b in zip(again.truth.games, default_day.truth.games, strict=True):
        assert np.array_equal(a.path, b.path) and np.array_equal(a.factor, b.factor)
    assert dict(again.combo_trade_truth) == dict(default_day.combo_trade_truth)


def test_different_days_and_seeds_give_different_games() -> None:
    a = simulate_day(SMALL, date(2026, 3, 7))
    b = simulate_day(SMALL, date(2026, 3, 8))
    c = simulate_day(dataclasses.replace(SMALL, seed=8), date(2026, 3, 7))
    for other in (b, c):
        assert not np.array_equal(a.truth.games[0].path, other.truth.games[0].path)
        assert [t.trade_id for t in a.trades] != [t.trade_id for t in other.trades]
    assert all(m.ticker.split("-")[1].startswith("26MAR08") for m in b.markets)


def test_books_bracket_the_true_probability_mostly(default_day: SimulatedDay) -> None:
    """With quoting noise (sd 0.5¢) and spreads of 2–6¢, at least 90 % of snapshots whose true
    probability lies in [0.01, 0.99] have YES bid ≤ p ≤ YES ask."""
    inside = total = 0
    truth = default_day.truth
    for s in default_day.book_snapshots:
        game = truth.game_of(s.market_ticker)
        p = truth.probability_paths[s.market_ticker][game.minute_at(s.ts)]
        if 0.01 <= p <= 0.99:
            total += 1
            inside += float(s.yes[-1][0]) <= p <= 1.0 - float(s.no[-1][0])
    assert total > 10_000
    assert inside / total >= 0.90


def test_noiseless_books_always_bracket_the_true_probability() -> None:
    day = simulate_day(dataclasses.replace(SMALL, book_center_noise=0.0), DAY)
    truth = day.truth
    checked = 0
    for s in day.book_snapshots:
        p = truth.probability_paths[s.market_ticker][truth.game_of(s.market_ticker).minute_at(s.ts)]
        if 0.01 <= p <= 0.99:
            checked += 1
            assert float(s.yes[-1][0]) <= p <= 1.0 - float(s.no[-1][0])
    assert checked > 500


def test_snapshot_probability_path_is_the_oracle(default_day: SimulatedDay) -> None:
    truth = default_day.truth
    snaps = default_day.book_snapshots[::997]
    for s in snaps:
        p_path = truth.probability_paths[s.market_ticker][truth.game_of(s.market_ticker).minute_at(s.ts)]
        assert truth.probability(s.ts, [(s.market_ticker, YES)]) == pytest.approx(p_path, abs=1e-12)


def test_informed_flow_trades_toward_the_truth(default_day: SimulatedDay) -> None:
    """In game, base-market takers beat the truth often (before tip-off the truth stands still inside the
    books' spread, so almost only noise takers cross it)."""
    truth = default_day.truth
    edges = []
    for t in default_day.trades:
        if t.ts < truth.game_of(t.market_ticker).tipoff:
            continue
        p = truth.probability(t.ts, [(t.market_ticker, YES)])
        edges.append((p - float(t.yes_price)) if t.taker_side == YES else (float(t.yes_price) - p))
    edges_a = np.array(edges)
    # informed takers make money (mostly where the truth has left the books' range, near 0 or 1); noise
    # takers mostly lose. The share depends on the day's mix of markets (0.27 on the paper-scale day).
    assert (edges_a > 0).mean() > 0.3


config_strategy = st.builds(
    SimulationConfig,
    seed=st.integers(0, 2**32 - 1),
    n_games=st.integers(1, 3),
    min_markets_per_game=st.integers(10, 20),
    max_markets_per_game=st.integers(20, 45),
    players_per_team=st.integers(1, 3),
    prop_stats=st.sampled_from([("points",), ("points", "threes"), ("points", "rebounds", "assists", "threes")]),
    session_minutes=st.integers(2, 25),
    first_tipoff_et=st.sampled_from([time(12, 0), time(19, 0), time(22, 0)]),
    tipoff_stagger_minutes=st.integers(0, 30),
    book_levels=st.integers(1, 6),
    spread_ticks_min=st.integers(1, 3),
    spread_ticks_max=st.integers(3, 8),
    book_center_noise=st.floats(0.0, 0.03),
    base_trade_rate=st.floats(0.0, 1.0),
    informed_fraction=st.floats(0.0, 1.0),
    noise_phi=st.floats(0.0, 1.0),
    n_combo_markets=st.integers(1, 40),
    combo_trades_per_day=st.integers(0, 60),
    min_combo_legs=st.integers(2, 3),
    max_combo_legs=st.integers(3, 5),
    cross_game_fraction=st.floats(0.0, 1.0),
    no_leg_fraction=st.floats(0.0, 0.5),
    n_impossible_combos=st.integers(0, 8),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=config_strategy, offset=st.integers(0, 3000))
def test_random_configs_keep_every_invariant(config: SimulationConfig, offset: int) -> None:
    day = simulate_day(config, date(2024, 1, 1) + timedelta(days=offset))
    check_day(day)


@pytest.mark.parametrize(
    "changes",
    [
        {"n_games": 0},
        {"n_games": 16},
        {"min_markets_per_game": 9},
        {"min_markets_per_game": 30, "max_markets_per_game": 25},
        {"max_markets_per_game": 100},
        {"max_markets_per_game": 200, "players_per_team": 4, "prop_stats": ("points", "rebounds", "assists", "threes")},
        {"prop_stats": ("rebounds",)},  # points are always listed
        {"prop_stats": ("points", "points")},
        {"prop_stats": ("points", "steals")},
        {"noise_phi": 1.5},
        {"min_combo_legs": 1},
        {"spread_ticks_min": 0},
        {"combo_trades_per_day": 10, "n_combo_markets": 0},
        {"seed": -1},
        {"first_tipoff_et": time(23, 0)},  # games would run past midnight, out of their trading day
    ],
)
def test_invalid_configs_are_rejected(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="invalid SimulationConfig"):
        SimulationConfig(**changes)  # type: ignore[arg-type]


def test_simulate_games_gives_the_games_of_the_day(default_day: SimulatedDay) -> None:
    games, specs = simulate_games(SimulationConfig(), DAY)
    assert [s.ticker for s in specs] == list(default_day.truth.markets)
    for a, b in zip(games, default_day.truth.games, strict=True):
        assert np.array_equal(a.path, b.path) and a.tipoff == b.tipoff


def test_a_simulated_day_survives_pickling() -> None:
    """Orchestration hands days between processes by pickling them."""
    day = simulate_day(SMALL, DAY)
    back = pickle.loads(pickle.dumps(day))
    assert back.stream == day.stream and back.combo_trades == day.combo_trades
    legs = back.combo_markets[0].legs
    t = back.truth.games[0].tipoff
    assert back.truth.probability(t, legs) == day.truth.probability(t, legs)
