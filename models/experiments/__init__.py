"""Synthetic experiments of the ParlayMarket evaluation (MISSION §3): a correlated Brownian-score market,
the Ising AMM against independent LMSR books and three oracles, and four experiments (loss scaling,
convergence, parlay-flow ranking reversal, noise). Pure numpy/scipy/pandas; figures via matplotlib Agg.

Run ``parlay experiment NAME [--full]`` to print a table and write its plot.
"""

from models.experiments.makers import LABELS, MAKERS, ORACLES, IsingSettings
from models.experiments.market import MarketConfig, MarketRun, Regime
from models.experiments.runner import (
    EXPERIMENTS,
    FULL,
    QUICK,
    TABLE_COLUMNS,
    ExperimentResult,
    Sizes,
    convergence,
    loss_scaling,
    noise,
    parlay_reversal,
    run_experiment,
    run_many,
)
from models.experiments.simulation import RunResult, SimulationConfig, simulate, trade_losses

__all__ = [
    "EXPERIMENTS",
    "FULL",
    "LABELS",
    "MAKERS",
    "ORACLES",
    "QUICK",
    "TABLE_COLUMNS",
    "ExperimentResult",
    "IsingSettings",
    "MarketConfig",
    "MarketRun",
    "Regime",
    "RunResult",
    "SimulationConfig",
    "Sizes",
    "convergence",
    "loss_scaling",
    "noise",
    "parlay_reversal",
    "run_experiment",
    "run_many",
    "simulate",
    "trade_losses",
]
