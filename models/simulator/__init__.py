"""Seeded market simulator: a synthetic NBA-like slate of correlated binary markets and combos.

Each game is a cluster driven by a correlated Gaussian score process (home margin, total points, and per
prop player points, rebounds, assists and three-pointers). ``profile_config()`` (the default day, the
``paper`` profile) has 6 games of 70–135 markets, the paper's scale, with prop ladders for 4 players per team;
``SimulationConfig()`` (the ``small`` profile) 6 games of 20–40 markets. Every
market is a threshold event on a linear combination of the final scores, so true conditional probabilities
are normal CDFs and true joint probabilities are Gaussian box probabilities. ``simulate_day(config, day)``
returns the day's normalized records (:mod:`models.records`) together with the truth (:class:`DayTruth`),
whose ``probability(t, legs)`` is the exact oracle.
"""

from models.simulator.config import SimulationConfig
from models.simulator.day import SOURCE, SimulatedDay, simulate_day, simulate_games
from models.simulator.gaussian import box_probability, box_probability_batch
from models.simulator.truth import (
    DayTruth,
    GameTruth,
    LegLike,
    MarketSpec,
    game_joint_probability,
    game_joint_probability_batch,
    market_probability_path,
)

__all__ = [
    "SOURCE",
    "DayTruth",
    "GameTruth",
    "LegLike",
    "MarketSpec",
    "SimulatedDay",
    "SimulationConfig",
    "box_probability",
    "box_probability_batch",
    "game_joint_probability",
    "game_joint_probability_batch",
    "market_probability_path",
    "simulate_day",
    "simulate_games",
]
