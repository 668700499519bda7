"""The simulator's ground truth: latent score processes, market definitions, and the exact oracle.

Each game carries a vector of latent scores ``Z(s)`` (home margin, total points, and per prop player points
and the other statistics of ``SimulationConfig.prop_stats``) on game time ``s ∈ [0, 1]``: an arithmetic
Brownian motion ``Z(s) = drift·s + factor @ W(s)`` with ``W`` standard Brownian in ``q`` dimensions,
observed on a grid of ``minutes`` steps. Every market is a threshold event on a linear combination of the
final scores: it resolves YES iff ``lower < weights · Z(1) ≤ upper`` (``lower``/``upper`` may be infinite).

Given the state at minute ``i`` (``s = i / minutes``), the final scores are Gaussian:
``Z(1) ~ N(Z(s) + drift·(1 − s), (1 − s)·factor @ factor.T)``, so the true probability of any set of legs
is a Gaussian box probability (:func:`models.simulator.gaussian.box_probability`). Games are independent.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from models.records import NO, YES, ComboLeg
from models.simulator.gaussian import box_probability_batch, interval_mass

LegLike = ComboLeg | tuple[str, str]


@dataclass(frozen=True, eq=False)
class MarketSpec:
    """How one binary market resolves: YES iff ``lower < weights · Z(1) ≤ upper`` for its game."""

    ticker: str
    event_ticker: str
    series_ticker: str
    family: str  # moneyline | spread | total | total_bracket | team_total | prop
    game: int  # index into DayTruth.games
    weights: np.ndarray  # (d,) over the game's latent scores
    lower: float
    upper: float
    title: str
    yes_sub_title: str
    no_sub_title: str
    strike_type: str | None
    floor_strike: float | None
    cap_strike: float | None

    def resolves_yes(self, final: np.ndarray) -> bool:
        x = float(self.weights @ final)
        return self.lower < x <= self.upper


@dataclass(frozen=True, eq=False)
class GameTruth:
    """One game's latent law and its realised path.

    ``drift`` is the expected final score vector at tip-off; ``factor`` (d × q) gives the covariance of the
    final scores at tip-off, ``cov = factor @ factor.T``; ``path[i]`` is the score vector after ``i``
    minutes (``path[0] = 0``, ``path[minutes]`` the final scores).
    """

    index: int
    code: str  # e.g. "26MAR07BOSMIL": date, away, home
    away: str
    home: str
    away_name: str
    home_name: str
    tipoff: datetime
    minutes: int
    latent_names: tuple[str, ...]
    drift: np.ndarray
    factor: np.ndarray
    path: np.ndarray

    @property
    def end(self) -> datetime:
        return self.tipoff + timedelta(minutes=self.minutes)

    @property
    def cov(self) -> np.ndarray:
        return self.factor @ self.factor.T

    @property
    def final(self) -> np.ndarray:
        return self.path[self.minutes]

    def time_at(self, minute: int) -> datetime:
        return self.tipoff + timedelta(minutes=minute)

    def minute_at(self, t: datetime) -> int:
        """The last completed state minute at ``t``: 0 before tip-off, ``minutes`` from the end on."""
        elapsed = (t - self.tipoff).total_seconds()
        return int(min(max(math.floor(elapsed / 60.0), 0), self.minutes))

    def conditional(self, minute: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean and factor of the final scores given the state at ``minute`` (factor is 0 at the end)."""
        if not 0 <= minute <= self.minutes:
            raise ValueError(f"minute {minute} outside 0..{self.minutes}")
        remaining = 1.0 - minute / self.minutes
        return self.path[minute] + self.drift * remaining, self.factor * math.sqrt(remaining)

    def conditional_moments(self, minute: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean vector and covariance matrix of the final scores given the state at ``minute``."""
        mean, factor = self.conditional(minute)
        return mean, factor @ factor.T


def _leg_pieces(spec: MarketSpec, side: str) -> list[tuple[float, float]]:
    """Disjoint intervals of ``weights · Z(1)`` on which the leg pays (NO of a bracket has two)."""
    if side == YES:
        return [(spec.lower, spec.upper)]
    if side != NO:
        raise ValueError(f"side must be 'yes' or 'no', got {side!r}")
    pieces = []
    if spec.lower > -math.inf:
        pieces.append((-math.inf, spec.lower))
    if spec.upper < math.inf:
        pieces.append((spec.upper, math.inf))
    return pieces


def game_joint_probability_batch(
    game: GameTruth, minutes: np.ndarray | Sequence[int], legs: Sequence[tuple[MarketSpec, str]]
) -> np.ndarray:
    """True probability that every leg (all of ``game``) resolves on its side, given the state at each
    of ``minutes`` (one value per minute)."""
    mins = np.asarray(minutes, dtype=np.int64).reshape(-1)
    if mins.size and (mins.min() < 0 or mins.max() > game.minutes):
        raise ValueError(f"minutes outside 0..{game.minutes}")
    if not legs:
        return np.ones(mins.size)
    remaining = 1.0 - mins / game.minutes
    means = game.path[mins] + remaining[:, None] * game.drift[None, :]
    scales = np.sqrt(remaining)
    weights = np.array([spec.weights for spec, _ in legs])
    total = np.zeros(mins.size)
    for combo in itertools.product(*(_leg_pieces(spec, side) for spec, side in legs)):
        lower = np.array([lo for lo, _ in combo])
        upper = np.array([hi for _, hi in combo])
        total += box_probability_batch(means, game.factor, scales, weights, lower, upper)
    return np.clip(total, 0.0, 1.0)


def game_joint_probability(
    game: GameTruth, minute: int, legs: Sequence[tuple[MarketSpec, str]]
) -> float:
    """True probability that every leg (all of ``game``) resolves on its side, given the state at
    ``minute``."""
    return float(game_joint_probability_batch(game, [minute], legs)[0])


def market_probability_path(game: GameTruth, spec: MarketSpec) -> np.ndarray:
    """True YES probability of one market at every state minute ``0 … minutes`` (vectorised)."""
    n = game.minutes
    remaining = 1.0 - np.arange(n + 1) / n
    loc = game.path @ spec.weights + (spec.weights @ game.drift) * remaining
    scale = float(np.linalg.norm(spec.weights @ game.factor)) * np.sqrt(remaining)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(scale > 0, (spec.lower - loc) / scale, np.where(spec.lower < loc, -np.inf, np.inf))
        hi = np.where(scale > 0, (spec.upper - loc) / scale, np.where(loc <= spec.upper, np.inf, -np.inf))
    return interval_mass(lo, hi)


def _leg_key(leg: LegLike) -> tuple[str, str]:
    if isinstance(leg, ComboLeg):
        return leg.market_ticker, leg.side
    ticker, side = leg
    return ticker, side


@dataclass(frozen=True, eq=False)
class DayTruth:
    """Everything the simulator knows and the market does not.

    ``markets``: ticker → :class:`MarketSpec`; ``probability_paths``: ticker → true YES probability at each
    in-game book-snapshot minute ``0 … minutes − 1`` of its game (index ``game.minute_at(ts)`` of a
    snapshot; pre-game snapshots have minute 0, the pre-game probability);
    ``combo_legs``: combo ticker → legs; ``impossible_combos``: listed combos whose legs cannot all hold.
    """

    day: date
    games: tuple[GameTruth, ...]
    markets: Mapping[str, MarketSpec]
    probability_paths: Mapping[str, np.ndarray]
    combo_legs: Mapping[str, tuple[ComboLeg, ...]]
    impossible_combos: frozenset[str]

    def game_of(self, ticker: str) -> GameTruth:
        return self.games[self.markets[ticker].game]

    def legs_of(self, combo_ticker: str) -> tuple[ComboLeg, ...]:
        return self.combo_legs[combo_ticker]

    def _by_game(self, legs: Iterable[LegLike]) -> dict[int, list[tuple[MarketSpec, str]]]:
        by_game: dict[int, list[tuple[MarketSpec, str]]] = {}
        for leg in legs:
            ticker, side = _leg_key(leg)
            spec = self.markets[ticker]
            by_game.setdefault(spec.game, []).append((spec, side))
        return by_game

    def probability_at_minutes(
        self, minutes: Mapping[int, np.ndarray | Sequence[int]], legs: Iterable[LegLike]
    ) -> np.ndarray:
        """Joint probability of ``legs`` for a batch of states: game ``g`` at ``minutes[g][b]`` in state ``b``
        (every game of the legs needs an entry; all entries have the same length)."""
        by_game = self._by_game(legs)
        sizes = {len(np.atleast_1d(m)) for m in minutes.values()}
        if len(sizes) > 1:
            raise ValueError("every game needs the same number of minutes")
        p = np.ones(sizes.pop() if sizes else 1)
        for g, game_legs in by_game.items():
            p *= game_joint_probability_batch(self.games[g], minutes[g], game_legs)
        return p

    def probability_at(self, minutes: Mapping[int, int], legs: Iterable[LegLike]) -> float:
        """Joint probability of ``legs`` with each game's state at ``minutes[game index]``."""
        by_game = self._by_game(legs)
        p = 1.0
        for g, game_legs in by_game.items():
            p *= game_joint_probability(self.games[g], minutes[g], game_legs)
            if p == 0.0:
                break
        return p

    def probability(self, t: datetime, legs: Iterable[LegLike]) -> float:
        """The true oracle: probability at time ``t`` that every leg resolves on its side.

        ``legs``: :class:`~models.records.ComboLeg` s or ``(market_ticker, side)`` pairs, any games.
        A single leg gives the market's conditional probability; several give the joint (parlay) law.
        """
        return float(self.probability_batch([t], legs)[0])

    def probability_batch(self, times: Sequence[datetime], legs: Iterable[LegLike]) -> np.ndarray:
        """The oracle at several times at once (one probability per time)."""
        leg_list = [_leg_key(leg) for leg in legs]
        games = {self.markets[ticker].game for ticker, _ in leg_list}
        minutes = {g: np.array([self.games[g].minute_at(t) for t in times], dtype=np.int64) for g in games}
        if not games:
            return np.ones(len(times))
        return self.probability_at_minutes(minutes, leg_list)

    def combo_probability(self, t: datetime, combo_ticker: str) -> float:
        return self.probability(t, self.combo_legs[combo_ticker])

    def outcome(self, legs: Iterable[LegLike]) -> bool:
        """Whether every leg resolved on its side (from the final scores)."""
        for leg in legs:
            ticker, side = _leg_key(leg)
            spec = self.markets[ticker]
            yes = spec.resolves_yes(self.games[spec.game].final)
            if yes != (side == YES):
                return False
        return True
