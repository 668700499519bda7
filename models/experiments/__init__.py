"""Synthetic experiments of the ParlayMarket evaluation (MISSION §3), in the paper's setting: a correlated
Brownian score process whose exact conditional probabilities the informed traders trade to, the Ising AMM
against independent LMSR books and three oracles, and four experiments (loss scaling, convergence,
parlay-flow ranking reversal, noise) with the paper's claims computed on their own output. Pure
numpy/scipy/pandas; figures via matplotlib Agg.

Run ``parlay experiment NAME [--full] [--json]`` to print a table, its claims and write CSV + PNG.
"""

from models.experiments.makers import ALL_MAKERS, DEFINITIONS, LABELS, MAKERS, ORACLES, VARIANTS, IsingSettings
from models.experiments.market import DEFAULT_HORIZON, MarketConfig, MarketRun, Regime
from models.experiments.runner import (
    DISPLAY_COLUMNS,
    EXPERIMENTS,
    FULL,
    PER_MARKET_LOSS,
    QUICK,
    TABLE_COLUMNS,
    Claim,
    ExperimentResult,
    Settings,
    Sizes,
    convergence,
    loss_scaling,
    noise,
    parlay_reversal,
    resolve,
    run_experiment,
    run_many,
)
from models.experiments.simulation import RunResult, SimulationConfig, simulate, trade_losses

__all__ = [
    "ALL_MAKERS",
    "DEFAULT_HORIZON",
    "DEFINITIONS",
    "DISPLAY_COLUMNS",
    "EXPERIMENTS",
    "FULL",
    "LABELS",
    "MAKERS",
    "ORACLES",
    "PER_MARKET_LOSS",
    "QUICK",
    "TABLE_COLUMNS",
    "VARIANTS",
    "Claim",
    "ExperimentResult",
    "IsingSettings",
    "MarketConfig",
    "MarketRun",
    "Regime",
    "RunResult",
    "Settings",
    "SimulationConfig",
    "Sizes",
    "convergence",
    "loss_scaling",
    "noise",
    "parlay_reversal",
    "resolve",
    "run_experiment",
    "run_many",
    "simulate",
    "trade_losses",
]
