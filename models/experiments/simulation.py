"""Runs of the synthetic market against every market maker, batched over runs, and the loss accounting.

Loss. A trader who moves an LMSR book from price p to target q (YES shares if q > p, NO shares if
q < p) pays b·ln((1 − p)/(1 − q)) (resp. b·ln(p/q)) and is paid one per share of the winning side, so
the trader's net winnings — the market maker's loss on that real trade — at settlement are

    b·[ln q − ln p]               if the contract pays,
    b·[ln(1 − q) − ln(1 − p)]     if it does not

(the log-score improvement from p to q). ``loss`` (realised) sums this over a run's real trades. Shadow
trades are the market maker's trades with itself and change no cash flow with traders.

``expected_loss`` is the same sum with the outcome replaced by its exact conditional probability π_t at the
time of the trade: ℓ_t = b·[π_t ln(q_t/p_t) + (1 − π_t) ln((1 − q_t)/(1 − p_t))] = b·[KL(π_t‖p_t) −
KL(π_t‖q_t)]. Since π_t = E[outcome | everything known at round t] and p_t, q_t are known then, E[ℓ_t]
equals the expected realised loss of the trade: the same expectation with far less variance (it removes
the outcome's coin flip). The experiments' headline per-market loss is built from it; the realised one is
reported next to it. ``expected_loss`` splits into the part against informed traders
(``expected_loss_informed``, b·KL(π‖p) each, ≥ 0) and against noise traders (``expected_loss_noise``).
``regret`` = Σ_t b·KL(π_t‖p_t) is what the posted prices would have conceded had every trader been
informed.

MAE: the mean over the regime's contracts of |posted price − exact conditional probability|, recorded at
the rounds ``marks`` (before that round's trade; mark ``rounds`` is after the last trade, against the last
round's law).

Batching: the B runs of one call share nothing but the loop; each run's numbers come from its own
generator, so results do not depend on how runs are grouped into calls (up to floating-point rounding of
the batched matrix products).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from models.experiments.makers import ALL_MAKERS, Batch, IsingSettings, build_maker
from models.experiments.market import MarketConfig, MarketRun


@dataclass(frozen=True)
class SimulationConfig:
    """A market setting, the market makers to run on it, the Ising AMM's settings and the MAE rounds:
    ``mae_points`` evenly spaced rounds from 0 to ``rounds`` (both included)."""

    market: MarketConfig = field(default_factory=MarketConfig)
    makers: tuple[str, ...] = ALL_MAKERS
    ising: IsingSettings = field(default_factory=IsingSettings)
    mae_points: int = 11

    def __post_init__(self) -> None:
        unknown = set(self.makers) - set(ALL_MAKERS)
        if unknown or not self.makers:
            raise ValueError(f"unknown market makers {sorted(unknown)}; use some of {ALL_MAKERS}")
        if self.mae_points < 2:
            raise ValueError("mae_points must be ≥ 2 (the first and the last round)")

    @property
    def marks(self) -> np.ndarray:
        T = self.market.rounds
        return np.unique(np.linspace(0, T, self.mae_points).round().astype(np.int64))


@dataclass(frozen=True, eq=False)
class RunResult:
    """One run, per market maker: total ``loss`` (realised), ``expected_loss`` and its split, ``regret``;
    at the rounds ``marks``: the cumulative expected loss so far and the price MAE."""

    seed: int
    run: int
    marks: np.ndarray
    loss: dict[str, float]
    expected_loss: dict[str, float]
    expected_loss_informed: dict[str, float]
    expected_loss_noise: dict[str, float]
    regret: dict[str, float]
    cum_expected_loss: dict[str, np.ndarray]
    mae: dict[str, np.ndarray]


def trade_losses(p: np.ndarray, q: np.ndarray, pays: np.ndarray | float, b: float) -> np.ndarray:
    """Market-maker loss of each real trade p → q when the contract pays with probability (or indicator)
    ``pays``: b·[π ln(q/p) + (1 − π) ln((1 − q)/(1 − p))]."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    pi = np.asarray(pays, dtype=np.float64)
    return b * (pi * (np.log(q) - np.log(p)) + (1.0 - pi) * (np.log1p(-q) - np.log1p(-p)))


def simulate(config: SimulationConfig, seed: int, runs: Sequence[int]) -> list[RunResult]:
    """Run every market maker of ``config`` on the market runs (seed, r) for r in ``runs``, together."""
    mc = config.market
    markets = [MarketRun.generate(mc, seed, r) for r in runs]
    if not markets:
        return []
    batch = Batch.of(markets)
    makers = [build_maker(key, batch, config.ising) for key in config.makers]
    T, eps, B = mc.rounds, mc.eps, batch.size
    marks = config.marks
    truth_at_marks = np.array([m.truth_prices(marks) for m in markets])  # (B, M, K)
    draws = np.array([m.draws for m in markets])
    targets = np.array([m.targets for m in markets])
    drawn = np.array([m.drawn_truth for m in markets])
    posted = np.empty((len(makers), B, T))
    mae = np.empty((len(makers), B, marks.size))
    mark = 0
    for t in range(T + 1):
        if mark < marks.size and marks[mark] == t:
            for i, mm in enumerate(makers):
                mae[i, :, mark] = np.mean(np.abs(mm.prices(t) - truth_at_marks[:, mark]), axis=1)
            mark += 1
        if t == T:
            break
        k, q = draws[:, t], targets[:, t]
        for i, mm in enumerate(makers):
            posted[i, :, t] = mm.trade(t, k, q)
    np.clip(posted, eps, 1.0 - eps, out=posted)
    pays = np.array([m.contract_outcomes[m.draws] for m in markets])
    realised = trade_losses(posted, targets[None], pays[None], mc.b)
    expected = trade_losses(posted, targets[None], drawn[None], mc.b)
    regret = trade_losses(posted, np.clip(drawn, eps, 1.0 - eps)[None], drawn[None], mc.b)
    noisy = np.array([m.noisy for m in markets])[None]
    cum = np.concatenate([np.zeros((*expected.shape[:2], 1)), np.cumsum(expected, axis=2)], axis=2)[:, :, marks]
    keys = [mm.key for mm in makers]
    out = []
    for b_i, market in enumerate(markets):
        out.append(RunResult(
            seed=int(seed),
            run=int(market.run),
            marks=marks,
            loss={k: float(realised[i, b_i].sum()) for i, k in enumerate(keys)},
            expected_loss={k: float(expected[i, b_i].sum()) for i, k in enumerate(keys)},
            expected_loss_informed={k: float((expected * ~noisy)[i, b_i].sum()) for i, k in enumerate(keys)},
            expected_loss_noise={k: float((expected * noisy)[i, b_i].sum()) for i, k in enumerate(keys)},
            regret={k: float(regret[i, b_i].sum()) for i, k in enumerate(keys)},
            cum_expected_loss={k: cum[i, b_i] for i, k in enumerate(keys)},
            mae={k: mae[i, b_i] for i, k in enumerate(keys)},
        ))
    return out


__all__ = ["RunResult", "SimulationConfig", "simulate", "trade_losses"]
