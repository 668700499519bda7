"""The paper-scale day (``PARLAY_SIM_PROFILE=paper``): 6 game clusters of 70–135 markets, prop ladders on
four player statistics, each mapped by the structural layer to nested thresholds on its own quantity."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict

import numpy as np
import pytest

from models import structural as S
from models.pricing.paper import _markets_frame
from models.simulator import SimulatedDay, SimulationConfig, simulate_day, simulate_games
from models.simulator.config import PROP_STATS, max_markets_per_game, profile_config
from models.simulator.games import SERIES_ASSISTS, SERIES_PROP, SERIES_REBOUNDS, SERIES_THREES

from .conftest import DAY

PAPER = profile_config("paper")


@pytest.fixture(scope="module")
def paper_day() -> SimulatedDay:
    return simulate_day(PAPER, DAY)

PROP_SERIES = (SERIES_PROP, SERIES_REBOUNDS, SERIES_ASSISTS, SERIES_THREES)


def test_paper_day_has_paper_scale_clusters(paper_day: SimulatedDay) -> None:
    per_game = Counter(m.event_ticker.split("-")[1] for m in paper_day.markets)
    assert len(per_game) == 6 and all(70 <= n <= 135 for n in per_game.values())
    assert max_markets_per_game(4, PROP_STATS) >= 135
    for game in paper_day.truth.games:
        specs = [s for s in paper_day.truth.markets.values() if s.game == game.index]
        players = {s.ticker.rsplit("-", 1)[1].rstrip("0123456789") for s in specs if s.family == "prop"}
        assert len(players) == 8  # 4 per team
        assert {s.series_ticker for s in specs if s.family == "prop"} == set(PROP_SERIES)
        assert len(game.latent_names) == 2 + 8 * 4


def test_each_prop_ladder_is_nested_thresholds_on_its_own_quantity() -> None:
    games, specs = simulate_games(PAPER, DAY)
    for game in games:
        mine = [s for s in specs if s.game == game.index]
        by_ticker = {s.ticker: s for s in mine}
        frame = _markets_frame(mine, game.code)
        mapping = S.place_markets(frame, {s.event_ticker for s in mine if s.family == "moneyline"})
        variables = S.binary_variables(mapping, frame).set_index("market_ticker")
        ladders: dict[str, list[tuple[float, str]]] = defaultdict(list)
        for s in mine:
            if s.family != "prop":
                continue
            player = s.ticker.rsplit("-", 1)[1].rstrip("0123456789")
            axis = mapping.ranges[s.ticker].axis_id
            assert axis == f"{game.code}:prop:{s.series_ticker}:{player}"
            assert mapping.kinds[axis] == S.NUMERIC
            ladders[axis].append((s.lower, s.ticker))
            assert int(np.count_nonzero(s.weights)) == 1
        assert len({a.split(":")[2] for a in ladders}) == 4  # points, rebounds, assists, threes
        for axis, rungs in ladders.items():
            rungs.sort()
            # one latent quantity per axis: every rung's weights pick the same single column
            columns = {int(np.flatnonzero(by_ticker[t].weights)[0]) for _, t in rungs}
            assert len(columns) == 1, axis
            # over b ⇒ over a for a < b: rung k is the cumulative variable y_k of its axis, k increasing
            cells = [mapping.ranges[t] for _, t in rungs]
            assert [c.lo for c in cells] == list(range(1, len(cells) + 1))
            assert all(c.hi == c.n_cells == len(cells) + 1 for c in cells)
            assert all(int(variables.loc[t, "orientation"]) == 1 for _, t in rungs)
        # distinct axes live on distinct quantities
        col_of_axis = {axis: int(np.flatnonzero(by_ticker[rungs[0][1]].weights)[0])
                       for axis, rungs in ladders.items()}
        assert len(set(col_of_axis.values())) == len(col_of_axis)


def test_prop_ladders_settle_nested(paper_day: SimulatedDay) -> None:
    results = {m.ticker: m.result for m in paper_day.markets}
    ladders: dict[tuple[str, int], list[tuple[float, str]]] = defaultdict(list)
    for t, s in paper_day.truth.markets.items():
        if s.family == "prop":
            ladders[(s.event_ticker, int(np.flatnonzero(s.weights)[0]))].append((s.lower, results[t]))
    assert len(ladders) >= 6 * 8 * 2
    for rungs in ladders.values():
        ordered = [r for _, r in sorted(rungs)]
        assert ordered == sorted(ordered, key=lambda r: r == "no")


def test_points_only_keeps_the_points_day() -> None:
    """Other statistics draw from their own stream: with points props only, the margin, total and points
    paths are those of the full day's first columns."""
    cfg = dataclasses.replace(PAPER, n_games=2, session_minutes=30, n_combo_markets=20, combo_trades_per_day=20)
    full, _ = simulate_games(cfg, DAY)
    points, _ = simulate_games(dataclasses.replace(cfg, prop_stats=("points",), min_markets_per_game=20,
                                                   max_markets_per_game=40), DAY)
    for a, b in zip(full, points, strict=True):
        d0 = len(b.latent_names)
        assert a.latent_names[:d0] == b.latent_names
        assert np.array_equal(a.path[:, :d0], b.path)
        assert np.array_equal(a.factor[:d0, :d0], b.factor)
    day = simulate_day(dataclasses.replace(cfg, prop_stats=("points", "threes"), min_markets_per_game=30,
                                           max_markets_per_game=60), DAY)
    assert {m.series_ticker for m in day.markets if "PROP" in m.series_ticker or "3PT" in m.series_ticker} \
        == {SERIES_PROP, SERIES_THREES}


def test_profiles_pick_the_default_day_size(monkeypatch: pytest.MonkeyPatch) -> None:
    from parlay.sources.simulated import SimulatedSource

    assert profile_config("small") == SimulationConfig()
    paper = profile_config("paper")
    assert profile_config() == profile_config(" ") == paper  # the default day is the paper's scale
    assert (paper.min_markets_per_game, paper.max_markets_per_game, paper.players_per_team) == (70, 135, 4)
    assert paper.prop_stats == PROP_STATS
    monkeypatch.setenv("PARLAY_SIM_PROFILE", "paper")
    assert SimulatedSource().config == paper
    from dagster_project.resources import MarketSourceResource

    built = MarketSourceResource(kind="simulated", seed=3).build()
    assert built.config == dataclasses.replace(paper, seed=3)  # type: ignore[attr-defined]
    monkeypatch.setenv("PARLAY_SIM_PROFILE", "small")
    assert SimulatedSource().config == SimulationConfig()
    monkeypatch.delenv("PARLAY_SIM_PROFILE")
    assert SimulatedSource().config == paper
    with pytest.raises(ValueError, match="unknown simulation profile"):
        profile_config("huge")
