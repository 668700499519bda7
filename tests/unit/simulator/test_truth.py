from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from models.records import NO, YES, ComboLeg
from models.simulator import (
    DayTruth,
    SimulatedDay,
    SimulationConfig,
    game_joint_probability,
    market_probability_path,
    simulate_games,
)
from models.simulator.truth import GameTruth, MarketSpec


def _specs(truth: DayTruth, game: int, family: str) -> list[MarketSpec]:
    return [s for s in truth.markets.values() if s.game == game and s.family == family]


def test_probability_path_matches_the_oracle_at_every_minute(default_day: SimulatedDay) -> None:
    truth = default_day.truth
    game = truth.games[0]
    for spec in [s for s in truth.markets.values() if s.game == 0][:8]:
        path = market_probability_path(game, spec)
        for minute in (0, 1, 45, 90, 179, 180):
            assert path[minute] == pytest.approx(game_joint_probability(game, minute, [(spec, YES)]), abs=1e-12)
            assert 1.0 - path[minute] == pytest.approx(game_joint_probability(game, minute, [(spec, NO)]),
                                                       abs=1e-12)
        assert path[game.minutes] == float(spec.resolves_yes(game.final))


def test_exclusive_families_sum_to_one_along_the_path(default_day: SimulatedDay) -> None:
    truth = default_day.truth
    for g, _game in enumerate(truth.games):
        for family in ("moneyline", "total_bracket"):
            paths = np.array([truth.probability_paths[s.ticker] for s in _specs(truth, g, family)])
            assert np.allclose(paths.sum(axis=0), 1.0, atol=1e-12)


def test_ladders_are_monotone_in_the_threshold(default_day: SimulatedDay) -> None:
    truth = default_day.truth
    for g in range(len(truth.games)):
        for family in ("spread", "total", "team_total", "prop"):
            groups: dict[tuple[float, ...], list[MarketSpec]] = {}
            for s in _specs(truth, g, family):
                groups.setdefault(tuple(s.weights), []).append(s)
            for rungs in groups.values():
                rungs.sort(key=lambda s: s.lower)
                paths = np.array([truth.probability_paths[s.ticker] for s in rungs])
                assert np.all(np.diff(paths, axis=0) <= 1e-12)


def _mc_final(game: GameTruth, minute: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Direct Monte Carlo of the latent model: add up the remaining Brownian increments, drawn in
    blocks of up to ten minutes."""
    total = np.zeros((n, game.factor.shape[0]))
    left = game.minutes - minute
    while left > 0:
        block = min(10, left)
        frac = block / game.minutes
        total += game.drift * frac + (rng.standard_normal((n, game.factor.shape[1])) @ game.factor.T) * math.sqrt(frac)
        left -= block
    return game.path[minute] + total


def _mc_probability(finals: np.ndarray, legs: list[tuple[MarketSpec, str]]) -> float:
    hit = np.ones(finals.shape[0], dtype=bool)
    for spec, side in legs:
        x = finals @ spec.weights
        yes = (x > spec.lower) & (x <= spec.upper)
        hit &= yes if side == YES else ~yes
    return float(hit.mean())


@pytest.mark.parametrize("minute", [0, 120])
def test_joint_probabilities_match_monte_carlo_of_the_latent_model(default_day: SimulatedDay,
                                                                   minute: int) -> None:
    truth = default_day.truth
    game = truth.games[2]
    ml = _specs(truth, 2, "moneyline")
    spread = _specs(truth, 2, "spread")
    total = _specs(truth, 2, "total")
    bracket = _specs(truth, 2, "total_bracket")
    prop = _specs(truth, 2, "prop")
    team_total = _specs(truth, 2, "team_total") or total
    leg_sets = [
        [(ml[1], YES), (total[0], YES)],
        [(spread[0], YES), (prop[0], NO)],
        [(ml[0], YES), (bracket[1], NO)],
        [(ml[1], YES), (total[0], NO), (prop[0], YES)],
        [(spread[0], NO), (team_total[0], YES), (total[-1], YES)],  # linearly dependent scores
        [(bracket[1], YES), (prop[-1], YES), (ml[0], NO)],
    ]
    rng = np.random.default_rng(11 + minute)
    n = 200_000
    finals = _mc_final(game, minute, n, rng)
    for legs in leg_sets:
        p = game_joint_probability(game, minute, legs)
        freq = _mc_probability(finals, legs)
        tol = 4.5 * math.sqrt(max(p * (1 - p), 1e-4) / n) + 2e-4
        assert abs(p - freq) < tol, ([s.ticker for s, _ in legs], p, freq)


def test_oracle_accepts_combo_legs_and_pairs(default_day: SimulatedDay) -> None:
    truth = default_day.truth
    combo = next(c for c in default_day.combo_markets if c.ticker not in truth.impossible_combos)
    t = max(truth.game_of(leg.market_ticker).tipoff for leg in combo.legs) + timedelta(minutes=17, seconds=5)
    as_pairs = [(leg.market_ticker, leg.side) for leg in combo.legs]
    assert truth.probability(t, combo.legs) == truth.probability(t, as_pairs)
    assert truth.combo_probability(t, combo.ticker) == truth.probability(t, as_pairs)
    batch = truth.probability_batch([t, t + timedelta(minutes=3)], combo.legs)
    assert batch[0] == pytest.approx(truth.probability(t, combo.legs), abs=1e-14)


def test_cross_game_joint_is_the_product_of_game_joints(default_day: SimulatedDay) -> None:
    truth = default_day.truth
    a = _specs(truth, 0, "moneyline")[1]
    b = _specs(truth, 1, "total")[0]
    c = _specs(truth, 1, "prop")[0]
    t = truth.games[1].tipoff + timedelta(minutes=40)
    legs = [(a.ticker, YES), (b.ticker, NO), (c.ticker, YES)]
    want = truth.probability(t, legs[:1]) * truth.probability(t, legs[1:])
    assert truth.probability(t, legs) == pytest.approx(want, rel=1e-12)


def test_joint_probabilities_respect_frechet_bounds(default_day: SimulatedDay) -> None:
    truth = default_day.truth
    rng = np.random.default_rng(5)
    combos = [c for c in default_day.combo_markets if c.ticker not in truth.impossible_combos]
    for i in rng.choice(len(combos), size=60, replace=False):
        legs = combos[int(i)].legs
        games = [truth.game_of(leg.market_ticker) for leg in legs]
        start, end = max(g.tipoff for g in games), min(g.end for g in games)
        t = start + (end - start) * float(rng.random())
        singles = [truth.probability(t, [leg]) for leg in legs]
        joint = truth.probability(t, legs)
        assert max(0.0, sum(singles) - (len(legs) - 1)) - 2e-4 <= joint <= min(singles) + 2e-4


def test_inclusion_exclusion_identity_of_the_fee_correction(default_day: SimulatedDay) -> None:
    """P(A ∧ ¬B) = P(A) − P(A ∧ B) for threshold and bracket legs alike."""
    truth = default_day.truth
    t = truth.games[3].tipoff + timedelta(minutes=25)
    for a, b in [("moneyline", "total"), ("spread", "total_bracket"), ("prop", "team_total")]:
        sa, sb = _specs(truth, 3, a)[0], (_specs(truth, 3, b) or _specs(truth, 3, "total"))[-1]
        lhs = truth.probability(t, [(sa.ticker, YES), (sb.ticker, NO)])
        rhs = truth.probability(t, [(sa.ticker, YES)]) - truth.probability(t, [(sa.ticker, YES), (sb.ticker, YES)])
        assert lhs == pytest.approx(rhs, abs=1e-6)


def test_final_state_oracle_is_the_outcome(default_day: SimulatedDay) -> None:
    truth = default_day.truth
    for c in default_day.combo_markets[:200]:
        p = truth.probability(c.close_time + timedelta(hours=1), c.legs)
        assert p == (1.0 if c.result == YES else 0.0)
    for m in default_day.markets:
        assert truth.probability(m.close_time, [(m.ticker, YES)]) == (1.0 if m.result == YES else 0.0)


def test_impossible_combos_have_zero_probability_throughout(default_day: SimulatedDay) -> None:
    truth = default_day.truth
    assert truth.impossible_combos
    for ticker in truth.impossible_combos:
        legs = truth.legs_of(ticker)
        game = truth.game_of(legs[0].market_ticker)
        times = [game.tipoff + timedelta(minutes=m) for m in range(0, game.minutes + 1, 15)]
        assert np.all(truth.probability_batch(times, legs) == 0.0)


def test_pre_game_probabilities_are_calibrated_across_many_days() -> None:
    """Settlement frequencies over 150 simulated days match the tip-off probabilities (single markets
    per family and a three-leg joint), within 4.5 standard errors."""
    config = SimulationConfig()
    per_family: dict[str, tuple[float, float, float]] = {}
    joint_gap = joint_var = 0.0
    mid_gap = mid_var = 0.0
    for offset in range(150):
        day = date(2025, 1, 1) + timedelta(days=offset)
        games, specs = simulate_games(config, day)
        for spec in specs:
            game = games[spec.game]
            path = market_probability_path(game, spec)
            outcome = float(spec.resolves_yes(game.final))
            gap, var, cnt = per_family.get(spec.family, (0.0, 0.0, 0.0))
            per_family[spec.family] = (gap + outcome - path[0], var + path[0] * (1 - path[0]), cnt + 1)
            mid_gap += outcome - path[90]
            mid_var += path[90] * (1 - path[90])
        for g, game in enumerate(games):
            legs = [(next(s for s in specs if s.game == g and s.family == fam), side)
                    for fam, side in (("moneyline", YES), ("total", YES), ("prop", NO))]
            p = game_joint_probability(game, 0, legs)
            hit = all(spec.resolves_yes(game.final) == (side == YES) for spec, side in legs)
            joint_gap += float(hit) - p
            joint_var += p * (1 - p)
    for family, (gap, var, cnt) in per_family.items():
        assert cnt > 100
        assert abs(gap) / math.sqrt(var) < 4.5, family
    assert abs(mid_gap) / math.sqrt(mid_var) < 4.5
    assert abs(joint_gap) / math.sqrt(joint_var) < 4.5


def test_latent_parameters_are_exposed(default_day: SimulatedDay) -> None:
    game = default_day.truth.games[0]
    d = len(game.latent_names)
    assert game.latent_names[:2] == ("margin", "total")
    assert game.drift.shape == (d,) and game.cov.shape == (d, d)
    assert np.allclose(game.cov, game.cov.T) and np.all(np.linalg.eigvalsh(game.cov) > 0)
    assert game.path.shape == (game.minutes + 1, d) and np.all(game.path[0] == 0)
    mean, cov = game.conditional_moments(60)
    assert np.allclose(cov, game.cov * (1 - 60 / game.minutes))
    assert np.allclose(mean, game.path[60] + game.drift * (1 - 60 / game.minutes))
    leg = ComboLeg(None, next(iter(default_day.truth.markets)), YES)
    assert 0.0 <= default_day.truth.probability(game.tipoff, [leg]) <= 1.0
