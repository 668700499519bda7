"""Games of one simulated day: teams, latent score laws and paths, and each game's market catalogue."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from models.simulator.config import (
    MAX_AWAY_SPREADS,
    MAX_HOME_SPREADS,
    MAX_PROPS_PER_STAT,
    MAX_TEAM_TOTALS_PER_TEAM,
    MAX_TOTAL_BRACKETS,
    MAX_TOTAL_LADDER,
    SimulationConfig,
)
from models.simulator.truth import GameTruth, MarketSpec

EXCHANGE_TZ = ZoneInfo("America/New_York")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

TEAMS: tuple[tuple[str, str], ...] = (
    ("ATL", "Atlanta"), ("BOS", "Boston"), ("BKN", "Brooklyn"), ("CHA", "Charlotte"),
    ("CHI", "Chicago"), ("CLE", "Cleveland"), ("DAL", "Dallas"), ("DEN", "Denver"),
    ("DET", "Detroit"), ("GSW", "Golden State"), ("HOU", "Houston"), ("IND", "Indiana"),
    ("LAC", "Los Angeles C"), ("LAL", "Los Angeles L"), ("MEM", "Memphis"), ("MIA", "Miami"),
    ("MIL", "Milwaukee"), ("MIN", "Minnesota"), ("NOP", "New Orleans"), ("NYK", "New York"),
    ("OKC", "Oklahoma City"), ("ORL", "Orlando"), ("PHI", "Philadelphia"), ("PHX", "Phoenix"),
    ("POR", "Portland"), ("SAC", "Sacramento"), ("SAS", "San Antonio"), ("TOR", "Toronto"),
    ("UTA", "Utah"), ("WAS", "Washington"),
)
_FIRST_NAMES = (
    "Avery", "Blake", "Cameron", "Dorian", "Elias", "Felix", "Gideon", "Hollis", "Isaac", "Jalen",
    "Keegan", "Lamar", "Marcus", "Nolan", "Omar", "Parker", "Quinn", "Rashad", "Silas", "Tobias",
)
_LAST_NAMES = (
    "Abbott", "Barlow", "Castillo", "Dawson", "Ellery", "Fontaine", "Garrison", "Hendrix", "Irving",
    "Jessup", "Kessler", "Lockhart", "Merritt", "Norwood", "Okafor", "Pruitt", "Radcliffe", "Sterling",
    "Thornton", "Vance", "Whitaker", "Yardley",
)

SERIES_GAME = "SIMNBAGAME"
SERIES_SPREAD = "SIMNBASPREAD"
SERIES_TOTAL = "SIMNBATOTAL"
SERIES_TOTAL_RANGE = "SIMNBATOTALRANGE"
SERIES_TEAM_TOTAL = "SIMNBATEAMTOTAL"
SERIES_PROP = "SIMNBAPROP"  # player points
SERIES_REBOUNDS = "SIMNBAREB"
SERIES_ASSISTS = "SIMNBAAST"
SERIES_THREES = "SIMNBA3PT"


@dataclass(frozen=True)
class SeriesInfo:
    ticker: str
    title: str
    family: str
    mutually_exclusive: bool
    event_title: str  # formatted with {away} and {home}


SERIES: tuple[SeriesInfo, ...] = (
    SeriesInfo(SERIES_GAME, "Simulated Pro Basketball Game", "moneyline", True, "{away} at {home} Winner?"),
    SeriesInfo(SERIES_SPREAD, "Simulated Pro Basketball Spread", "spread", False, "{away} at {home}: Spread"),
    SeriesInfo(SERIES_TOTAL, "Simulated Pro Basketball Total Points", "total", False,
               "{away} at {home}: Total Points"),
    SeriesInfo(SERIES_TOTAL_RANGE, "Simulated Pro Basketball Total Points Range", "total_bracket", True,
               "{away} at {home}: Total Points Range"),
    SeriesInfo(SERIES_TEAM_TOTAL, "Simulated Pro Basketball Team Total Points", "team_total", False,
               "{away} at {home}: Team Totals"),
    SeriesInfo(SERIES_PROP, "Simulated Pro Basketball Player Points", "prop", False,
               "{away} at {home}: Player Points"),
    SeriesInfo(SERIES_REBOUNDS, "Simulated Pro Basketball Player Rebounds", "prop", False,
               "{away} at {home}: Player Rebounds"),
    SeriesInfo(SERIES_ASSISTS, "Simulated Pro Basketball Player Assists", "prop", False,
               "{away} at {home}: Player Assists"),
    SeriesInfo(SERIES_THREES, "Simulated Pro Basketball Player Three-Pointers", "prop", False,
               "{away} at {home}: Player Three-Pointers"),
)
SERIES_BY_TICKER = {s.ticker: s for s in SERIES}


@dataclass(frozen=True)
class PropStat:
    """A player statistic with "k+" prop ladders: strikes ``step`` apart, none below ``floor``; a player's
    mean is drawn from ``mean_range`` and the sd is ``sd_slope·mean + U(sd_extra)``."""

    name: str
    series: str
    label: str  # in titles: "Avery Abbott: 8+ rebounds"
    step: int
    floor: int
    mean_range: tuple[float, float]
    sd_slope: float
    sd_extra: tuple[float, float]


# Statistics other than points (points keep their own draws; see ``_players``).
EXTRA_PROP_STATS: dict[str, PropStat] = {
    "rebounds": PropStat("rebounds", SERIES_REBOUNDS, "rebounds", 2, 2, (3.0, 12.0), 0.3, (1.0, 2.0)),
    "assists": PropStat("assists", SERIES_ASSISTS, "assists", 2, 2, (2.0, 9.0), 0.3, (1.0, 2.0)),
    "threes": PropStat("threes", SERIES_THREES, "threes", 1, 1, (0.8, 4.0), 0.4, (0.5, 1.0)),
}


def child_seed(seed: np.random.SeedSequence, key: int) -> np.random.SeedSequence:
    """A fixed child of ``seed`` (the same whatever was spawned from it before)."""
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, key), pool_size=seed.pool_size)


def day_code(day: date) -> str:
    """Kalshi's date part of an event ticker: ``26MAR07``."""
    return f"{day.year % 100:02d}{_MONTHS[day.month - 1]}{day.day:02d}"


def day_seed(config: SimulationConfig, day: date) -> np.random.SeedSequence:
    """The root of all randomness of one simulated day."""
    return np.random.SeedSequence([config.seed, day.toordinal()])


@dataclass(frozen=True)
class _Player:
    code: str  # e.g. "MILJVANCE"
    name: str
    team: str
    mean: float
    sd: float
    margin_corr: float
    total_corr: float


def _players(rng: np.random.Generator, team: str, count: int, taken: set[str]) -> list[_Player]:
    out: list[_Player] = []
    while len(out) < count:
        first = _FIRST_NAMES[int(rng.integers(len(_FIRST_NAMES)))]
        last = _LAST_NAMES[int(rng.integers(len(_LAST_NAMES)))]
        code = f"{team}{first[0]}{last.upper()}"
        if code in taken:
            continue
        taken.add(code)
        mean = float(rng.uniform(10.0, 30.0))
        out.append(_Player(code, f"{first} {last}", team, mean, 0.25 * mean + float(rng.uniform(2.0, 4.0)),
                           float(rng.uniform(0.15, 0.35)), float(rng.uniform(0.3, 0.5))))
    return out


def _allocate(rng: np.random.Generator, n_markets: int, n_players: int,
              extra_stats: tuple[str, ...] = ()) -> dict[str, int]:
    """How many markets each family gets: the fixed minimum, then random draws up to each cap."""
    counts = {"home_spread": 1, "away_spread": 1, "total": 1, "bracket": 3, "home_tt": 0, "away_tt": 0}
    caps = {"home_spread": MAX_HOME_SPREADS, "away_spread": MAX_AWAY_SPREADS, "total": MAX_TOTAL_LADDER,
            "bracket": MAX_TOTAL_BRACKETS, "home_tt": MAX_TEAM_TOTALS_PER_TEAM,
            "away_tt": MAX_TEAM_TOTALS_PER_TEAM}
    weight = {"home_spread": 2.0, "away_spread": 1.5, "total": 2.0, "bracket": 1.5, "home_tt": 0.7,
              "away_tt": 0.7}
    half = n_players // 2
    for j in range(n_players):
        key = f"prop{j}"
        counts[key] = 1 if j in (0, half) else 0
        caps[key] = MAX_PROPS_PER_STAT["points"]
        weight[key] = 4.0 / n_players
    for stat in extra_stats:
        for j in range(n_players):
            key = f"{stat}{j}"
            counts[key] = 0
            caps[key] = MAX_PROPS_PER_STAT[stat]
            weight[key] = 3.0 / n_players
    remaining = n_markets - 2 - sum(counts.values())
    keys = list(counts)
    for _ in range(remaining):
        open_keys = [k for k in keys if counts[k] < caps[k]]
        w = np.array([weight[k] for k in open_keys])
        k = open_keys[int(rng.choice(len(open_keys), p=w / w.sum()))]
        counts[k] += 1
    return counts


def _ladder(center: float, step: int, n: int, floor: int) -> list[int]:
    """``n`` integer strikes ``step`` apart, centred near ``center``, none below ``floor``."""
    start = max(floor, round(center - step * (n - 1) / 2))
    return [start + step * j for j in range(n)]


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def _unit(d: int, i: int, scale: float = 1.0) -> np.ndarray:
    w = np.zeros(d)
    w[i] = scale
    return w


def build_game(
    config: SimulationConfig,
    index: int,
    day: date,
    away: tuple[str, str],
    home: tuple[str, str],
    seed: np.random.SeedSequence,
) -> tuple[GameTruth, list[MarketSpec]]:
    """One game: latent law, realised path on the minute grid, and its markets."""
    rng = np.random.default_rng(seed)
    code = f"{day_code(day)}{away[0]}{home[0]}"
    tip_local = datetime.combine(day, config.first_tipoff_et, tzinfo=EXCHANGE_TZ)
    tipoff = (tip_local + timedelta(minutes=index * config.tipoff_stagger_minutes)).astimezone(UTC)

    taken: set[str] = set()
    players = (_players(rng, home[0], config.players_per_team, taken)
               + _players(rng, away[0], config.players_per_team, taken))
    n_players = len(players)
    d0 = 2 + n_players
    extra = tuple(EXTRA_PROP_STATS[s] for s in config.prop_stats if s != "points")
    # Other statistics draw from their own stream: the margin, total and points draws stay those of a day
    # with points props only.
    x_rng = np.random.default_rng(child_seed(seed, 0))

    # Latent law of the final scores: margin (home − away), total, and one points score per player.
    mu_margin = float(rng.normal(2.0, 5.0))
    mu_total = float(rng.normal(226.0, 7.0))
    sd_margin = float(rng.uniform(11.0, 14.0))
    sd_total = float(rng.uniform(16.0, 20.0))
    rho = float(rng.uniform(-0.1, 0.1))
    loadings = np.zeros((d0, d0))  # unit-norm rows over (margin factor, total factor, player idiosyncrasies)
    loadings[0, 0] = 1.0
    loadings[1, 0], loadings[1, 1] = rho, math.sqrt(1.0 - rho * rho)
    for j, pl in enumerate(players):
        a = pl.margin_corr if pl.team == home[0] else -pl.margin_corr
        b = (pl.total_corr - rho * a) / math.sqrt(1.0 - rho * rho)
        loadings[2 + j, 0], loadings[2 + j, 1] = a, b
        loadings[2 + j, 2 + j] = math.sqrt(1.0 - a * a - b * b)
    sds = np.array([sd_margin, sd_total] + [pl.sd for pl in players])
    drift0 = np.array([mu_margin, mu_total] + [pl.mean for pl in players])
    factor0 = sds[:, None] * loadings

    n = config.session_minutes
    shocks = rng.standard_normal((n, d0))
    steps = drift0 / n + (shocks @ factor0.T) / math.sqrt(n)
    names = ["margin", "total", *(f"points_{pl.code}" for pl in players)]
    # Other statistics (rows after the points): loadings on the margin and total factors and on the
    # player's own points factor (a busy night lifts every statistic), plus an idiosyncratic factor each.
    dx = len(extra) * n_players
    x_rows = np.zeros((dx, d0 + dx))
    x_drift = np.zeros(dx)
    row = 0
    for stat in extra:
        for j, pl in enumerate(players):
            mean = float(x_rng.uniform(*stat.mean_range))
            sd = stat.sd_slope * mean + float(x_rng.uniform(*stat.sd_extra))
            a = 0.5 * (pl.margin_corr if pl.team == home[0] else -pl.margin_corr)
            b = (float(x_rng.uniform(0.1, 0.3)) - rho * a) / math.sqrt(1.0 - rho * rho)
            c = float(x_rng.uniform(0.2, 0.5))
            x_rows[row, 0], x_rows[row, 1], x_rows[row, 2 + j] = a, b, c
            x_rows[row, d0 + row] = math.sqrt(1.0 - a * a - b * b - c * c)
            x_rows[row] *= sd
            x_drift[row] = mean
            names.append(f"{stat.name}_{pl.code}")
            row += 1
    d = d0 + dx
    factor = np.zeros((d, d))
    factor[:d0, :d0] = factor0
    factor[d0:] = x_rows
    drift = np.concatenate([drift0, x_drift])
    if dx:
        x_shocks = x_rng.standard_normal((n, dx))
        x_steps = x_drift / n + (shocks @ x_rows[:, :d0].T + x_shocks @ x_rows[:, d0:].T) / math.sqrt(n)
        steps = np.hstack([steps, x_steps])
    path = np.vstack([np.zeros(d), np.cumsum(steps, axis=0)])
    for arr in (drift, factor, path):
        arr.setflags(write=False)
    game = GameTruth(index, code, away[0], home[0], away[1], home[1], tipoff, n, tuple(names), drift, factor,
                     path)

    n_markets = int(rng.integers(config.min_markets_per_game, config.max_markets_per_game + 1))
    counts = _allocate(rng, n_markets, n_players, tuple(s.name for s in extra))
    specs: list[MarketSpec] = []
    inf = math.inf
    ev = {s.ticker: f"{s.ticker}-{code}" for s in SERIES}

    def add(series: str, family: str, suffix: str, weights: np.ndarray, lower: float, upper: float,
            title: str, yes_sub: str, strike_type: str | None, floor_strike: float | None,
            cap_strike: float | None) -> None:
        weights.setflags(write=False)
        specs.append(MarketSpec(
            f"{ev[series]}-{suffix}", ev[series], series, family, index, weights, lower, upper,
            title, yes_sub, yes_sub, strike_type, floor_strike, cap_strike,
        ))

    matchup = f"{away[1]} at {home[1]}"
    # Moneylines: home wins iff margin > 0, away wins iff −margin > 0 (ties have probability 0).
    add(SERIES_GAME, "moneyline", away[0], _unit(d, 0, -1.0), 0.0, inf, f"{matchup} Winner?", away[1],
        None, None, None)
    add(SERIES_GAME, "moneyline", home[0], _unit(d, 0), 0.0, inf, f"{matchup} Winner?", home[1],
        None, None, None)
    # Spread ladders (nested thresholds of the margin), for each team.
    for team, sign, key in ((home, 1.0, "home_spread"), (away, -1.0, "away_spread")):
        for k in _ladder(max(sign * mu_margin, 4.0), 3, counts[key], 1):
            x = k + 0.5
            add(SERIES_SPREAD, "spread", f"{team[0]}{k}", _unit(d, 0, sign), x, inf,
                f"{team[1]} wins by over {_fmt(x)} points?", f"{team[1]} wins by over {_fmt(x)} Points",
                "greater", x, None)
    # Total points, "over" ladder.
    for k in _ladder(mu_total, 5, counts["total"], 100):
        x = k + 0.5
        add(SERIES_TOTAL, "total", str(k), _unit(d, 1), x, inf, f"{matchup}: Total Points",
            f"Over {_fmt(x)} points scored", "greater", x, None)
    # Total points, mutually exclusive brackets covering the line.
    edges = [k + 0.5 for k in _ladder(mu_total, 6, counts["bracket"] - 1, 100)]
    add(SERIES_TOTAL_RANGE, "total_bracket", f"T{math.floor(edges[0])}", _unit(d, 1), -inf, edges[0],
        f"{matchup}: Total Points Range", f"{_fmt(edges[0])} points or fewer", "less", None, edges[0])
    for lo, hi in itertools.pairwise(edges):
        add(SERIES_TOTAL_RANGE, "total_bracket", f"B{math.floor(hi)}", _unit(d, 1), lo, hi,
            f"{matchup}: Total Points Range", f"{_fmt(lo)} to {_fmt(hi)} points", "between", lo, hi)
    add(SERIES_TOTAL_RANGE, "total_bracket", f"T{math.ceil(edges[-1])}", _unit(d, 1), edges[-1], inf,
        f"{matchup}: Total Points Range", f"Over {_fmt(edges[-1])} points", "greater", edges[-1], None)
    # Team totals: home points = (total + margin) / 2, away points = (total − margin) / 2.
    for team, sign, key in ((home, 1.0, "home_tt"), (away, -1.0, "away_tt")):
        w = np.zeros(d)
        w[0], w[1] = 0.5 * sign, 0.5
        center = 0.5 * (mu_total + sign * mu_margin)
        for k in _ladder(center, 4, counts[key], 50):
            x = k + 0.5
            add(SERIES_TEAM_TOTAL, "team_total", f"{team[0]}{k}", w.copy(), x, inf,
                f"{team[1]} team total", f"{team[1]} over {_fmt(x)} points", "greater", x, None)
    # Player points props ("k+ points" ladders).
    for j, pl in enumerate(players):
        for k in _ladder(5.0 * round(pl.mean / 5.0), 5, counts[f"prop{j}"], 5):
            x = k - 0.5
            add(SERIES_PROP, "prop", f"{pl.code}{k}", _unit(d, 2 + j), x, inf,
                f"{pl.name}: {k}+ points", f"{pl.name}: {k}+", "greater", x, None)
    # Other player statistics: one "k+" ladder per player and statistic, each on its own quantity.
    for s_index, stat in enumerate(extra):
        for j, pl in enumerate(players):
            column = d0 + s_index * n_players + j
            mean = float(drift[column])
            for k in _ladder(stat.step * round(mean / stat.step), stat.step, counts[f"{stat.name}{j}"],
                             stat.floor):
                x = k - 0.5
                add(stat.series, "prop", f"{pl.code}{k}", _unit(d, column), x, inf,
                    f"{pl.name}: {k}+ {stat.label}", f"{pl.name}: {k}+ {stat.label}", "greater", x, None)
    return game, specs


def build_games(config: SimulationConfig, day: date, seed: np.random.SeedSequence
                ) -> tuple[list[GameTruth], list[MarketSpec]]:
    """All games of the day; teams are drawn without replacement, game ``k`` tips off ``k`` staggers
    after the first tip-off (exchange time)."""
    team_seed, *game_seeds = seed.spawn(1 + config.n_games)
    order = np.random.default_rng(team_seed).permutation(len(TEAMS))
    games, specs = [], []
    for g in range(config.n_games):
        away, home = TEAMS[int(order[2 * g])], TEAMS[int(order[2 * g + 1])]
        game, game_specs = build_game(config, g, day, away, home, game_seeds[g])
        games.append(game)
        specs.extend(game_specs)
    return games, specs
