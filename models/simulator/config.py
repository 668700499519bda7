"""Configuration of the seeded market simulator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time

# Markets every game always lists: 2 moneylines, 1 home spread, 1 away spread, 1 "over" total,
# 3 total brackets, and one points prop for two players.
MIN_MARKETS_PER_GAME = 10

# Upper limits of each family's size (per game); props are per player and statistic.
MAX_HOME_SPREADS = 8
MAX_AWAY_SPREADS = 6
MAX_TOTAL_LADDER = 8
MAX_TOTAL_BRACKETS = 7
MAX_TEAM_TOTALS_PER_TEAM = 3
MAX_PROPS_PER_PLAYER = 4  # points ladder
MAX_TEAMS = 30

# Player statistics that can carry prop ladders ("k+" thresholds on the player's own quantity), with the
# longest ladder per player. Points are always listed.
PROP_STATS: tuple[str, ...] = ("points", "rebounds", "assists", "threes")
MAX_PROPS_PER_STAT: dict[str, int] = {"points": MAX_PROPS_PER_PLAYER, "rebounds": 3, "assists": 3, "threes": 3}


def max_markets_per_game(players_per_team: int, prop_stats: Sequence[str] = PROP_STATS) -> int:
    """The largest number of markets one game can list with ``players_per_team`` prop players and prop
    ladders on ``prop_stats``."""
    per_player = sum(MAX_PROPS_PER_STAT[s] for s in prop_stats)
    return (
        2 + MAX_HOME_SPREADS + MAX_AWAY_SPREADS + MAX_TOTAL_LADDER + MAX_TOTAL_BRACKETS
        + 2 * MAX_TEAM_TOTALS_PER_TEAM + 2 * players_per_team * per_player
    )


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that shapes one simulated trading day. Same config + same day → identical output.

    Time: every game lasts ``session_minutes`` minutes of game time; the score state advances once a
    minute and every market gets one book snapshot per minute, at minutes ``0 … session_minutes − 1``
    after tip-off; markets settle at minute ``session_minutes``. Markets open ``market_open_lead_hours``
    before tip-off and quote from their open: one pre-game book snapshot every
    ``pregame_snapshot_minutes`` (0: none) from the open (or from the start of the trading day, when the
    open falls before it) until tip-off, centred on the pre-game probability (the truth at minute 0).
    Base traders arrive after pre-game snapshots at the same rate as after in-game ones.

    A game lists between ``min_markets_per_game`` and ``max_markets_per_game`` markets: moneylines, spread
    ladders on the margin, a total ladder and brackets, team totals, and for ``players_per_team`` players
    of each team prop ladders on each statistic of ``prop_stats`` (each a ladder on its own quantity).

    Traders on base markets arrive at ``base_trade_rate`` per market-minute. A fraction
    ``informed_fraction`` of them target the true conditional probability ``p``; the others target
    ``(1 − noise_phi)·p + noise_phi·u`` with ``u ~ U(0, 1)``. A trader buys YES at the ask when the
    target is above it, NO at ``1 − bid`` when the target is below the bid, and otherwise walks away.

    Combo (parlay) trades execute at the ask ``p + combo_fee_rate·p·(1 − p) + combo_spread +
    U(0, combo_spread_jitter)`` rounded up to the tick, ``p`` the true joint probability of the legs.
    """

    seed: int = 7
    n_games: int = 6
    min_markets_per_game: int = 20
    max_markets_per_game: int = 40
    players_per_team: int = 2
    prop_stats: tuple[str, ...] = ("points",)

    # time
    session_minutes: int = 180
    first_tipoff_et: time = time(18, 0)
    tipoff_stagger_minutes: int = 20
    market_open_lead_hours: float = 8.0
    pregame_snapshot_minutes: int = 15

    # books (prices in ticks of one cent)
    book_levels: int = 5
    spread_ticks_min: int = 2
    spread_ticks_max: int = 5
    book_center_noise: float = 0.005  # sd of the quoted centre around the true probability
    depth_median: float = 400.0  # contracts resting on one level (lognormal median)
    depth_sigma: float = 0.8

    # base-market traders
    base_trade_rate: float = 0.2
    informed_fraction: float = 0.6
    noise_phi: float = 0.3
    trade_size_median: float = 20.0
    trade_size_sigma: float = 1.0

    # combos
    n_combo_markets: int = 1200
    combo_trades_per_day: int = 3000
    min_combo_legs: int = 2
    max_combo_legs: int = 4
    cross_game_fraction: float = 0.2
    no_leg_fraction: float = 0.15
    n_impossible_combos: int = 6
    min_combo_probability: float = 0.01  # listed combos have at least this pre-game probability …
    max_combo_probability: float = 0.85  # … and at most this one
    combo_fee_rate: float = 0.07
    combo_spread: float = 0.03
    combo_spread_jitter: float = 0.02
    combo_popularity_exponent: float = 0.8  # Zipf exponent of how trades spread over listed combos
    combo_size_median: float = 10.0
    collection_ticker: str = "KXMVESIMNBA"

    def __post_init__(self) -> None:
        problems = []
        if self.seed < 0:
            problems.append("seed must be ≥ 0")
        if not 1 <= self.n_games <= MAX_TEAMS // 2:
            problems.append(f"n_games must be in 1..{MAX_TEAMS // 2}")
        if self.players_per_team < 1:
            problems.append("players_per_team must be ≥ 1")
        stats = tuple(self.prop_stats)
        if "points" not in stats or len(set(stats)) != len(stats) or not set(stats) <= set(PROP_STATS):
            problems.append(f"prop_stats must be distinct members of {PROP_STATS} including 'points'")
            stats = ("points",)
        upper = max_markets_per_game(self.players_per_team, stats)
        if not MIN_MARKETS_PER_GAME <= self.min_markets_per_game <= self.max_markets_per_game <= upper:
            problems.append(
                f"need {MIN_MARKETS_PER_GAME} ≤ min_markets_per_game ≤ max_markets_per_game ≤ {upper}"
            )
        if self.session_minutes < 2:
            problems.append("session_minutes must be ≥ 2")
        if self.tipoff_stagger_minutes < 0 or self.market_open_lead_hours < 0:
            problems.append("tipoff_stagger_minutes and market_open_lead_hours must be ≥ 0")
        if self.pregame_snapshot_minutes < 0:
            problems.append("pregame_snapshot_minutes must be ≥ 0 (0: no pre-game books)")
        last_end = (self.first_tipoff_et.hour * 60 + self.first_tipoff_et.minute
                    + (self.n_games - 1) * self.tipoff_stagger_minutes + self.session_minutes)
        if last_end > 24 * 60:
            problems.append(
                "the last game would end after midnight ET, outside its trading day: start earlier, "
                "stagger less or shorten session_minutes"
            )
        if self.book_levels < 1:
            problems.append("book_levels must be ≥ 1")
        if not 1 <= self.spread_ticks_min <= self.spread_ticks_max <= 20:
            problems.append("need 1 ≤ spread_ticks_min ≤ spread_ticks_max ≤ 20")
        if self.book_center_noise < 0 or self.depth_median < 1 or self.depth_sigma < 0:
            problems.append("book_center_noise ≥ 0, depth_median ≥ 1, depth_sigma ≥ 0 required")
        if self.base_trade_rate < 0:
            problems.append("base_trade_rate must be ≥ 0")
        for name in ("informed_fraction", "noise_phi", "cross_game_fraction", "no_leg_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be in [0, 1]")
        if self.trade_size_median < 1 or self.combo_size_median < 1:
            problems.append("trade sizes must have a median ≥ 1")
        if self.trade_size_sigma < 0:
            problems.append("trade_size_sigma must be ≥ 0")
        if self.n_combo_markets < 0 or self.combo_trades_per_day < 0 or self.n_impossible_combos < 0:
            problems.append("combo counts must be ≥ 0")
        if self.combo_trades_per_day > 0 and self.n_combo_markets == 0:
            problems.append("combo trades need listed combos (n_combo_markets > 0)")
        if not 2 <= self.min_combo_legs <= self.max_combo_legs <= 6:
            problems.append("need 2 ≤ min_combo_legs ≤ max_combo_legs ≤ 6")
        if not 0.0 < self.min_combo_probability < self.max_combo_probability < 1.0:
            problems.append("need 0 < min_combo_probability < max_combo_probability < 1")
        if self.combo_fee_rate < 0 or self.combo_spread < 0 or self.combo_spread_jitter < 0:
            problems.append("combo markups must be ≥ 0")
        if self.combo_popularity_exponent < 0:
            problems.append("combo_popularity_exponent must be ≥ 0")
        if not self.collection_ticker:
            problems.append("collection_ticker must be non-empty")
        if problems:
            raise ValueError("invalid SimulationConfig: " + "; ".join(problems))


# Named sizes of the simulated day: ``paper`` (the default: the paper's scale, 70–135 markets per game, prop
# ladders on points, rebounds, assists and three-pointers for 4 players per team) and ``small`` (20–40
# markets per game, points props for 2 players per team: the bare ``SimulationConfig()``, quicker, which the
# test suite's simulated days use).
PROFILES: dict[str, dict[str, object]] = {
    "small": {},
    "paper": {"min_markets_per_game": 70, "max_markets_per_game": 135, "players_per_team": 4,
              "prop_stats": PROP_STATS},
}


DEFAULT_PROFILE = "paper"


def profile_config(name: str | None = None) -> SimulationConfig:
    """The configuration of a named profile (:data:`PROFILES`; None or empty: :data:`DEFAULT_PROFILE`)."""
    key = (name or "").strip().lower() or DEFAULT_PROFILE
    if key not in PROFILES:
        raise ValueError(f"unknown simulation profile {name!r}: expected one of {sorted(PROFILES)}")
    return SimulationConfig(**PROFILES[key])  # type: ignore[arg-type]
