"""One run of the synthetic market against every market maker, and the loss accounting.

Loss. A trader who moves an LMSR book from price p to target q (YES shares if q > p, NO shares if
q < p) pays b·ln((1 − p)/(1 − q)) (resp. b·ln(p/q)) and is paid one per share of the winning side, so
the trader's net winnings — the market maker's loss on that real trade — at settlement are

    b·[ln q − ln p]               if the contract pays,
    b·[ln(1 − q) − ln(1 − p)]     if it does not

(the log-score improvement from p to q). A market maker's loss is the sum over its real trades (``loss``),
per market (``loss / contracts``) and per round (``loss / rounds``). Shadow trades are the market maker's
trades with itself and change no cash flow with traders.

``expected_loss`` is the same sum with the realised outcome replaced by its probability π at the time of
the trade (the exact conditional probability): b·[KL(π‖p) − KL(π‖q)] per trade. Its expectation equals
that of ``loss`` (π is the martingale of the outcome), with far less variance, so rankings and scaling
are read off it as well; both are reported. It splits into the part against informed traders
(``expected_loss_informed``, b·KL(π‖p) each, ≥ 0) and against noise traders (``expected_loss_noise``,
usually negative: noise traders pay the market maker on average). ``regret`` = Σ_t b·KL(π_t‖p_t) is what
the posted prices would have conceded had every trader been informed — a pure price-quality measure,
equal to ``expected_loss`` when there is no noise.

MAE: the mean over the regime's contracts of |posted price − exact conditional probability|, recorded at
``checkpoints`` + 1 evenly spaced rounds (before that round's trade; the last one after the last trade).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.experiments.makers import MAKERS, IndependentOpening, IsingSettings, build_maker
from models.experiments.market import MarketConfig, MarketRun


@dataclass(frozen=True)
class SimulationConfig:
    """A market setting, the market makers to run on it and the Ising AMM's learner settings."""

    market: MarketConfig = field(default_factory=MarketConfig)
    makers: tuple[str, ...] = MAKERS
    ising: IsingSettings = field(default_factory=IsingSettings)
    independent_open: IndependentOpening = "half"
    checkpoints: int = 20

    def __post_init__(self) -> None:
        unknown = set(self.makers) - set(MAKERS)
        if unknown or not self.makers:
            raise ValueError(f"unknown market makers {sorted(unknown)}; use some of {MAKERS}")
        if self.checkpoints < 1:
            raise ValueError("checkpoints must be ≥ 1")


@dataclass(frozen=True, eq=False)
class RunResult:
    """Per market maker: total ``loss`` (realised) and ``expected_loss``; and at the ``rounds`` checkpoints
    the cumulative realised / expected loss so far and the price MAE."""

    seed: int
    run: int
    rounds: np.ndarray
    loss: dict[str, float]
    expected_loss: dict[str, float]
    expected_loss_informed: dict[str, float]
    expected_loss_noise: dict[str, float]
    regret: dict[str, float]
    cum_loss: dict[str, np.ndarray]
    cum_expected_loss: dict[str, np.ndarray]
    mae: dict[str, np.ndarray]


def trade_losses(
    p: np.ndarray, q: np.ndarray, pays: np.ndarray | float, b: float
) -> np.ndarray:
    """Market-maker loss of each real trade p → q when the contract pays with probability (or indicator)
    ``pays``: b·[π ln(q/p) + (1 − π) ln((1 − q)/(1 − p))]."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    pi = np.asarray(pays, dtype=np.float64)
    return b * (pi * (np.log(q) - np.log(p)) + (1.0 - pi) * (np.log1p(-q) - np.log1p(-p)))


def simulate(config: SimulationConfig, seed: int, run: int) -> RunResult:
    """Run every market maker of ``config`` on the market run (seed, run) with common random numbers."""
    mc = config.market
    market = MarketRun.generate(mc, seed, run)
    makers = [build_maker(name, market, config.ising, config.independent_open) for name in config.makers]
    T, eps = mc.rounds, mc.eps
    marks = np.unique(np.linspace(0, T, config.checkpoints + 1).round().astype(np.int64))
    posted = np.zeros((len(makers), T))
    truth = np.zeros(T)
    target = np.zeros(T)
    mae = np.zeros((len(makers), marks.size))
    mark = 0
    for t in range(T):
        for mm in makers:
            mm.set_round(t)
        if mark < marks.size and marks[mark] == t:
            exact = market.truth(t)[1]
            for i, mm in enumerate(makers):
                mae[i, mark] = float(np.mean(np.abs(mm.prices() - exact)))
            mark += 1
        k = int(market.draws[t])
        pi, q = market.target(t)
        q = min(max(q, eps), 1.0 - eps)
        truth[t], target[t] = pi, q
        for i, mm in enumerate(makers):
            posted[i, t] = min(max(mm.price(k), eps), 1.0 - eps)
            mm.observe(k, q)
    exact = market.truth(T - 1)[1]
    for i, mm in enumerate(makers):
        mae[i, mark] = float(np.mean(np.abs(mm.prices() - exact)))
    pays = market.contract_outcomes[market.draws]
    realised = trade_losses(posted, target[None, :], pays[None, :], mc.b)
    expected = trade_losses(posted, target[None, :], truth[None, :], mc.b)
    clipped = np.clip(truth, eps, 1.0 - eps)
    regret = trade_losses(posted, clipped[None, :], truth[None, :], mc.b)
    noisy = market.noisy
    zero = np.zeros((len(makers), 1))
    cum_r = np.concatenate([zero, np.cumsum(realised, axis=1)], axis=1)[:, marks]
    cum_e = np.concatenate([zero, np.cumsum(expected, axis=1)], axis=1)[:, marks]
    names = [mm.name for mm in makers]
    return RunResult(
        seed=int(seed),
        run=int(run),
        rounds=marks,
        loss={nm: float(realised[i].sum()) for i, nm in enumerate(names)},
        expected_loss={nm: float(expected[i].sum()) for i, nm in enumerate(names)},
        expected_loss_informed={nm: float(expected[i, ~noisy].sum()) for i, nm in enumerate(names)},
        expected_loss_noise={nm: float(expected[i, noisy].sum()) for i, nm in enumerate(names)},
        regret={nm: float(regret[i].sum()) for i, nm in enumerate(names)},
        cum_loss={nm: cum_r[i] for i, nm in enumerate(names)},
        cum_expected_loss={nm: cum_e[i] for i, nm in enumerate(names)},
        mae={nm: mae[i] for i, nm in enumerate(names)},
    )
