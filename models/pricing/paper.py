"""Paper-scale game clusters from the simulator, mapped by the structural layer, for benchmarks.

:func:`paper_cluster` builds one simulated game with ``markets`` markets (moneyline, spread ladders on the
margin, total ladder and brackets, team totals, player-prop ladders), maps it to variables with
:mod:`models.structural` exactly as the pipeline does, and derives a replay: the minute panel of mids (the
true probabilities rounded to half a cent) and ``combo_trades`` all-YES combo targets on 2–4 legs of
different events at their true joint probability (no markup) at uniformly drawn minutes. Everything is a
pure function of the seed; no database, no dbt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from models import structural as S
from models.pricing.replay import LiteralMap, conjunction_mids, literal_map, variable_mids
from models.simulator.config import SimulationConfig, max_markets_per_game
from models.simulator.games import SERIES_BY_TICKER, build_game
from models.simulator.truth import GameTruth, MarketSpec, game_joint_probability_batch, market_probability_path

__all__ = ["PaperCluster", "paper_cluster", "paper_config"]


def paper_config(markets: int = 135, base: SimulationConfig | None = None) -> SimulationConfig:
    """The simulator configuration with ``markets`` markets per game (more prop players when needed)."""
    cfg = base or SimulationConfig()
    players = cfg.players_per_team
    while max_markets_per_game(players, cfg.prop_stats) < markets:
        players += 1
    return replace(cfg, players_per_team=players, min_markets_per_game=markets, max_markets_per_game=markets)


@dataclass(frozen=True, eq=False)
class PaperCluster:
    cluster_id: str
    game: GameTruth
    specs: tuple[MarketSpec, ...]
    literals: LiteralMap
    variables: tuple[str, ...]
    panel: pd.DataFrame  # minute, market_ticker, mid
    mids: pd.DataFrame  # the fit's input: variable and conjunction (bracket) mids
    conjunctions: dict[str, tuple[tuple[str, bool], ...]]
    targets: pd.DataFrame  # ts, legs ((variable_id, value), …), target, trade_id, contracts

    @property
    def n_markets(self) -> int:
        return len(self.specs)


def _families(series: str, strike_type: str | None, exclusive: bool) -> tuple[str, str]:
    """(market_family, market_subfamily) as the warehouse classifies them (dbt macro ``market_family``)."""
    if "SPREAD" in series:
        family = "spread"
    elif "TOTAL" in series:
        family = "total"
    elif series.endswith("GAME"):
        family = "moneyline"
    elif re.search("PROP|PTS|REB|AST|3PT|PRA|PLAYER", series):
        family = "prop"
    else:
        family = "other"
    if family != "total":
        return family, family
    if "TEAMTOTAL" in series:
        return family, "team_total"
    return family, "total_bracket" if exclusive and strike_type is not None else "total_ladder"


def _markets_frame(specs: list[MarketSpec], cluster: str) -> pd.DataFrame:
    rows = []
    for s in specs:
        exclusive = SERIES_BY_TICKER[s.series_ticker].mutually_exclusive
        family, subfamily = _families(s.series_ticker, s.strike_type, exclusive)
        rows.append({
            "market_ticker": s.ticker, "cluster_id": cluster, "event_ticker": s.event_ticker,
            "series_ticker": s.series_ticker, "market_family": family, "market_subfamily": subfamily,
            "strike_type": s.strike_type, "floor_strike": s.floor_strike, "cap_strike": s.cap_strike,
            "mutually_exclusive": exclusive,
        })
    return pd.DataFrame(rows)


def paper_cluster(seed: int = 0, markets: int = 135, combo_trades: int = 500,
                  config: SimulationConfig | None = None) -> PaperCluster:
    """One paper-scale game and its replay (see the module docstring)."""
    cfg = config or paper_config(markets)
    day = date(2026, 3, 7)
    ss = np.random.SeedSequence([cfg.seed, seed])
    game, specs = build_game(cfg, 0, day, ("BOS", "Boston"), ("MIL", "Milwaukee"), ss)
    cluster = game.code
    frame = _markets_frame(specs, cluster)
    moneyline = {s.event_ticker for s in specs if s.family == "moneyline"}
    mapping = S.place_markets(frame, moneyline)
    lits = literal_map(S.binary_variables(mapping, frame))
    minutes = game.minutes
    stamps = pd.date_range(pd.Timestamp(game.tipoff), periods=minutes, freq="1min")
    rows = []
    for s in specs:
        path = np.clip(np.round(market_probability_path(game, s)[:minutes] * 200.0) / 200.0, 0.005, 0.995)
        rows.append(pd.DataFrame({"minute": stamps, "market_ticker": s.ticker, "mid": path}))
    panel = pd.concat(rows, ignore_index=True)
    mids = variable_mids(panel, lits, cluster)
    conj, conj_legs = conjunction_mids(panel, lits, cluster)
    if not conj.empty:
        mids = mids.join(conj, how="outer")
    rng = np.random.default_rng([seed, 99])
    by_event: dict[str, list[MarketSpec]] = {}
    for s in specs:
        by_event.setdefault(s.event_ticker, []).append(s)
    events = sorted(by_event)
    names = lits.variables[cluster]
    targets = []
    for t in range(combo_trades):
        k = int(rng.integers(2, 5))
        chosen = rng.choice(len(events), size=min(k, len(events)), replace=False)
        legs = [by_event[events[e]][int(rng.integers(len(by_event[events[e]])))] for e in chosen]
        minute = int(rng.integers(0, minutes))
        p = float(game_joint_probability_batch(game, [minute], [(s, "yes") for s in legs])[0])
        if not 0.01 <= p <= 0.95:
            continue
        event = lits.event([(s.ticker, "yes") for s in legs])
        if event.impossible:
            continue
        (ev,) = event.clusters
        targets.append({"ts": stamps[minute] + pd.Timedelta(seconds=30),
                        "legs": tuple((names[i], v) for i, v in ev.required), "target": p,
                        "trade_id": f"T{t:05d}", "contracts": 10.0})
    frame_t = pd.DataFrame(targets, columns=["ts", "legs", "target", "trade_id", "contracts"])
    return PaperCluster(cluster, game, tuple(specs), lits, tuple(names), panel, mids, conj_legs, frame_t)

