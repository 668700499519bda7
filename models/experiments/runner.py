"""The four synthetic experiments of the ParlayMarket evaluation, their registry and runner.

Each experiment returns an :class:`ExperimentResult` (a table, a PNG figure, the exact configuration incl.
seeds and run counts, and notes that state the setup, our interpretations and the headline checks computed
from the table). ``quick=True`` is the pipeline's per-job size (all four together take well under a minute
on two cores); ``quick=False`` uses paper-like sizes (minutes). ``runs`` / ``rounds`` override either.
``workers > 1`` spreads independent runs over processes; results do not depend on it.

Setup shared by all four (see :mod:`models.experiments.market` and :mod:`models.experiments.simulation`):
ρ = 0.5, tip-off probabilities uniform in [0.25, 0.75], b = 1 (every loss is proportional to b: no posted
price depends on it), static truth (all rounds at tip-off), informed traders only unless the noise
fraction φ is varied, Ising AMM with η_h = η_J = 1 and couplings learned among each parlay's legs,
independent LMSR books opened at 0.5 (a fresh LMSR with no inventory). Losses are in units of b, averaged
over runs, with standard errors over runs (``*_se``).

Table columns are exactly :data:`TABLE_COLUMNS`. Common to the loss tables: ``market_maker`` (key),
``label``, ``oracle`` (bool), ``contracts``, ``rounds``, ``runs``; ``loss`` / ``loss_se`` (realised: what
traders won at settlement, total over the run); ``expected_loss`` / ``expected_loss_se`` (the same with
outcomes replaced by their exact probabilities: equal in expectation, much less noisy);
``expected_loss_informed`` and ``expected_loss_noise`` (its split by trader type); ``regret``
(Σ b·KL(truth‖posted price) over rounds); ``final_mae`` (mean |price − truth| over all contracts after the
last round); ``rank`` (1 = lowest expected loss within the setting). Experiment-specific columns are
listed in each function's docstring.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.experiments.makers import LABELS, MAKERS, ORACLES, IndependentOpening, IsingSettings
from models.experiments.market import MarketConfig
from models.experiments.plots import convergence_figure, loss_scaling_figure, noise_figure, reversal_figure
from models.experiments.simulation import RunResult, SimulationConfig, simulate

BASE_MARKET = MarketConfig(n=5, rho=0.5, regime="complete", rounds=1000, noise=0.0, noise_sd=1.0, b=1.0,
                           marginal_range=(0.25, 0.75), horizon=0.0)
BASE_ISING = IsingSettings(eta_h=1.0, eta_J=1.0, parlay_couplings="legs", max_abs_J=10.0)


_COMMON = ("market_maker", "label", "oracle", "contracts", "rounds", "runs", "loss", "loss_se",
           "expected_loss", "expected_loss_se", "expected_loss_informed", "expected_loss_noise", "regret",
           "final_mae", "rank")
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "loss-scaling": ("n", *_COMMON, "per_market_loss", "per_round_loss", "n_per_market_loss",
                     "expected_per_market_loss", "expected_per_round_loss", "n_expected_per_market_loss",
                     "expected_ratio_to_previous_n"),
    "convergence": ("round", "market_maker", "label", "oracle", "mae", "mae_se", "cum_loss",
                    "cum_expected_loss"),
    "parlay-reversal": ("regime", *_COMMON, "per_market_loss", "expected_per_market_loss", "rank_non_oracle"),
    "noise": ("noise", *_COMMON),
}


@dataclass(frozen=True)
class Sizes:
    """Run counts and sizes of one mode. ``ns``: the loss-scaling n range; ``n``: the cluster size of the
    other experiments; ``noises``: the φ grid of the noise experiment."""

    runs: int
    rounds: int
    ns: tuple[int, ...]
    n: int
    noises: tuple[float, ...]
    checkpoints: int = 20


QUICK = Sizes(runs=3, rounds=500, ns=(4, 5, 6), n=5, noises=(0.0, 0.2, 0.4), checkpoints=10)
FULL = Sizes(runs=20, rounds=2000, ns=(4, 5, 6, 7, 8, 9), n=7, noises=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5))


@dataclass(frozen=True, eq=False)
class ExperimentResult:
    """One experiment's output: ``table`` (documented columns), ``figure_png`` (PNG bytes), ``config``
    (everything needed to reproduce it: mode, seed, runs, rounds, market and learner settings) and
    ``notes`` (setup, interpretations and the headline checks)."""

    name: str
    table: pd.DataFrame
    figure_png: bytes
    config: dict[str, Any]
    notes: str
    checks: dict[str, bool] = field(default_factory=dict)


# Columns shown to a person (the table keeps more).
DISPLAY_COLUMNS = {
    "loss-scaling": ["n", "label", "contracts", "loss", "loss_se", "per_market_loss", "per_round_loss",
                     "n_per_market_loss", "expected_loss", "expected_loss_se", "expected_per_market_loss",
                     "n_expected_per_market_loss", "expected_ratio_to_previous_n", "final_mae", "rank"],
    "convergence": ["round", "label", "mae", "mae_se", "cum_expected_loss"],
    "parlay-reversal": ["regime", "label", "contracts", "loss", "loss_se", "expected_loss",
                        "expected_loss_se", "expected_per_market_loss", "rank", "rank_non_oracle"],
    "noise": ["noise", "label", "loss", "loss_se", "expected_loss", "expected_loss_se",
              "expected_loss_informed", "expected_loss_noise", "regret", "final_mae", "rank"],
}


# ----------------------------------------------------------------------------- running
def _task(args: tuple[SimulationConfig, int, int]) -> RunResult:
    return simulate(*args)


def run_many(
    configs: Sequence[SimulationConfig], seed: int, runs: int, workers: int = 1
) -> list[list[RunResult]]:
    """``runs`` runs of every config (run r of every config shares the market's random numbers), in
    order; with ``workers > 1`` the runs are spread over a process pool."""
    if runs < 1:
        raise ValueError("runs must be ≥ 1")
    tasks = [(cfg, seed, r) for cfg in configs for r in range(runs)]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            flat = list(pool.map(_task, tasks, chunksize=1))
    else:
        flat = [_task(t) for t in tasks]
    return [flat[i * runs : (i + 1) * runs] for i in range(len(configs))]


def _mean_se(values: Iterable[float]) -> tuple[float, float]:
    a = np.asarray(list(values), dtype=np.float64)
    se = float(a.std(ddof=1) / np.sqrt(a.size)) if a.size > 1 else float("nan")
    return float(a.mean()), se


def _summary_rows(results: list[RunResult], config: SimulationConfig) -> list[dict[str, Any]]:
    rows = []
    for name in config.makers:
        loss, loss_se = _mean_se(r.loss[name] for r in results)
        exp, exp_se = _mean_se(r.expected_loss[name] for r in results)
        rows.append({
            "market_maker": name,
            "label": LABELS[name],
            "oracle": name in ORACLES,
            "runs": len(results),
            "rounds": config.market.rounds,
            "contracts": config.market.contracts,
            "loss": loss,
            "loss_se": loss_se,
            "expected_loss": exp,
            "expected_loss_se": exp_se,
            "expected_loss_informed": float(np.mean([r.expected_loss_informed[name] for r in results])),
            "expected_loss_noise": float(np.mean([r.expected_loss_noise[name] for r in results])),
            "regret": float(np.mean([r.regret[name] for r in results])),
            "final_mae": float(np.mean([r.mae[name][-1] for r in results])),
        })
    # Rank on values rounded to 1e-9 b so that exact ties (e.g. two oracles at zero) keep maker order.
    order = np.argsort([round(row["expected_loss"], 9) for row in rows], kind="stable")
    for rank, i in enumerate(order, start=1):
        rows[i]["rank"] = rank
    return rows


@dataclass(frozen=True)
class _Context:
    """What one experiment call was asked for, resolved against the mode's sizes."""

    name: str
    quick: bool
    seed: int
    sizes: Sizes
    market: MarketConfig
    ising: IsingSettings
    workers: int
    independent_open: IndependentOpening

    @classmethod
    def make(cls, name: str, quick: bool, seed: int, runs: int | None, rounds: int | None, workers: int,
             market: MarketConfig | None, ising: IsingSettings | None,
             independent_open: IndependentOpening, **market_fields: Any) -> _Context:
        base = QUICK if quick else FULL
        sizes = dataclasses.replace(base, runs=runs if runs is not None else base.runs,
                                    rounds=rounds if rounds is not None else base.rounds)
        mc = dataclasses.replace(market or BASE_MARKET, rounds=sizes.rounds, **market_fields)
        return cls(name, quick, seed, sizes, mc, ising or BASE_ISING, workers, independent_open)

    def sim(self, **market_fields: Any) -> SimulationConfig:
        return SimulationConfig(market=dataclasses.replace(self.market, **market_fields), makers=MAKERS,
                                ising=self.ising, checkpoints=self.sizes.checkpoints,
                                independent_open=self.independent_open)

    def run(self, configs: Sequence[SimulationConfig]) -> list[list[RunResult]]:
        return run_many(configs, self.seed, self.sizes.runs, self.workers)

    def config(self, **extra: Any) -> dict[str, Any]:
        return {
            "experiment": self.name,
            "mode": "quick" if self.quick else "full",
            "seed": self.seed,
            "runs": self.sizes.runs,
            "rounds": self.sizes.rounds,
            "workers": self.workers,
            "market": dataclasses.asdict(self.market),
            "ising": dataclasses.asdict(self.ising),
            "independent_open": self.independent_open,
            "makers": list(MAKERS),
            **extra,
        }

    def note(self, what: str, noise_text: str | None = None) -> str:
        m, g = self.market, self.ising
        phi = noise_text or f"φ = {m.noise}"
        opening = "0.5" if self.independent_open == "half" else "the 0.5^k prior"
        return (
            f"Setup: {what}; {self.sizes.runs} runs × {self.sizes.rounds} rounds; ρ = {m.rho}; tip-off "
            f"probabilities U{list(m.marginal_range)}; {phi}; b = {m.b} (losses ∝ b); horizon = {m.horizon} "
            f"(0: static truth); Ising η_h = {g.eta_h}, η_J = {g.eta_J}, couplings '{g.parlay_couplings}'; "
            f"independent books open at {opening}; every other book opens at the independent 0.5 prior. "
            "Oracles: true (exact law), pairwise (Ising I-projection of the true law, fixed), Gaussian (true "
            "copula on its own base-book marginals; no learning of dependence)."
        )


def _best_non_oracle(table: pd.DataFrame) -> str:
    sub = table[~table["oracle"]]
    return str(sub.loc[sub["expected_loss"].idxmin(), "market_maker"])


def _worst_non_oracle(table: pd.DataFrame) -> str:
    sub = table[~table["oracle"]]
    return str(sub.loc[sub["expected_loss"].idxmax(), "market_maker"])


# ----------------------------------------------------------------------------- 1. loss scaling
def loss_scaling(
    *,
    quick: bool = True,
    seed: int = 0,
    runs: int | None = None,
    rounds: int | None = None,
    workers: int = 1,
    market: MarketConfig | None = None,
    ising: IsingSettings | None = None,
    independent_open: IndependentOpening = "half",
    ns: Sequence[int] | None = None,
) -> ExperimentResult:
    """Loss of every market maker for n assets in the complete-parlay regime (2ⁿ − 1 contracts), the same
    number of rounds for every n (Table 3 / Fig. 4).

    Extra columns: ``n``; ``per_market_loss`` = loss / contracts (L_n), ``per_round_loss`` = loss / rounds,
    ``n_per_market_loss`` = n·L_n; the same three from the expected loss (``expected_per_market_loss``,
    ``expected_per_round_loss``, ``n_expected_per_market_loss``); ``expected_ratio_to_previous_n`` =
    L_n / L_{n−1} (expected; NaN for the first n).
    """
    ctx = _Context.make("loss-scaling", quick, seed, runs, rounds, workers, market, ising, independent_open,
                        regime="complete")
    n_values = tuple(ns) if ns is not None else ctx.sizes.ns
    configs = [ctx.sim(n=n) for n in n_values]
    results = ctx.run(configs)
    rows: list[dict[str, Any]] = []
    previous: dict[str, float] = {}
    for n, cfg, res in zip(n_values, configs, results, strict=True):
        m = cfg.market.contracts
        for row in _summary_rows(res, cfg):
            name = row["market_maker"]
            row["n"] = n
            row["per_market_loss"] = row["loss"] / m
            row["per_round_loss"] = row["loss"] / cfg.market.rounds
            row["n_per_market_loss"] = n * row["loss"] / m
            row["expected_per_market_loss"] = row["expected_loss"] / m
            row["expected_per_round_loss"] = row["expected_loss"] / cfg.market.rounds
            row["n_expected_per_market_loss"] = n * row["expected_loss"] / m
            prev = previous.get(name)
            row["expected_ratio_to_previous_n"] = (
                row["expected_per_market_loss"] / prev if prev not in (None, 0.0) else float("nan")
            )
            previous[name] = row["expected_per_market_loss"]
            rows.append(row)
    table = _columns(pd.DataFrame(rows), "loss-scaling")
    best = {int(n): _best_non_oracle(g) for n, g in table.groupby("n")}
    ising_rows = table[table["market_maker"] == "ising"].sort_values("n")
    nl = ising_rows["n_expected_per_market_loss"].to_numpy()
    ratios = ising_rows["expected_ratio_to_previous_n"].dropna().to_numpy()
    checks = {
        "ising_best_non_oracle_every_n": all(v == "ising" for v in best.values()),
        "true_oracle_lowest_every_n": all(
            g.loc[g["expected_loss"].idxmin(), "market_maker"] == "true_oracle" for _, g in table.groupby("n")
        ),
        "ising_per_market_loss_decreasing": bool(np.all(ratios < 1.0)) if ratios.size else False,
    }
    spread = float(nl.max() / nl.min()) if nl.size and nl.min() > 0 else float("nan")
    notes = "\n".join([
        ctx.note("complete-parlay regime, n = " + ", ".join(map(str, n_values))),
        "L_n = total loss / number of contracts (per market); per-round = total / rounds; n·L_n as in "
        "Table 3. Realised and expected (outcome replaced by its exact probability) versions are both given; "
        "the checks use the expected one.",
        f"Best non-oracle by n: {best}.",
        "Ising L_n / L_(n-1) (expected): " + ", ".join(f"{r:.2f}" for r in ratios) + "; n·L_n (expected): "
        + ", ".join(f"{v:.4f}" for v in nl) + f" (max/min {spread:.2f}).",
        f"Checks: {checks}.",
    ])
    return ExperimentResult("loss-scaling", table, loss_scaling_figure(table), ctx.config(ns=list(n_values)),
                            notes, checks)


# ----------------------------------------------------------------------------- 2. convergence
def convergence(
    *,
    quick: bool = True,
    seed: int = 0,
    runs: int | None = None,
    rounds: int | None = None,
    workers: int = 1,
    market: MarketConfig | None = None,
    ising: IsingSettings | None = None,
    independent_open: IndependentOpening = "half",
) -> ExperimentResult:
    """Price error over time in the complete-parlay regime (Fig. 5).

    Columns: ``round`` (trades so far), ``market_maker``, ``label``, ``oracle``, ``mae`` / ``mae_se``
    (mean over contracts of |posted price − exact probability|, averaged over runs), ``cum_loss`` and
    ``cum_expected_loss`` (cumulative loss up to that round).
    """
    ctx = _Context.make("convergence", quick, seed, runs, rounds, workers, market, ising, independent_open,
                        regime="complete")
    cfg = ctx.sim(n=ctx.sizes.n)
    (results,) = ctx.run([cfg])
    rows = []
    marks = results[0].rounds
    k = len(results)
    for name in cfg.makers:
        mae = np.array([r.mae[name] for r in results])
        cum = np.array([r.cum_loss[name] for r in results])
        cum_e = np.array([r.cum_expected_loss[name] for r in results])
        se = mae.std(axis=0, ddof=1) / np.sqrt(k) if k > 1 else np.full(marks.size, np.nan)
        for j, t in enumerate(marks):
            rows.append({"round": int(t), "market_maker": name, "label": LABELS[name],
                         "oracle": name in ORACLES, "mae": float(mae[:, j].mean()), "mae_se": float(se[j]),
                         "cum_loss": float(cum[:, j].mean()),
                         "cum_expected_loss": float(cum_e[:, j].mean())})
    table = _columns(pd.DataFrame(rows), "convergence")
    ising_mae = table[table["market_maker"] == "ising"].sort_values("round")["mae"].to_numpy()
    half = ising_mae.size // 2
    checks = {
        "ising_mae_decreases": bool(ising_mae[-1] < ising_mae[0]
                                    and ising_mae[half:].mean() < ising_mae[: max(half, 1)].mean()),
        "true_oracle_mae_zero": bool(table[table["market_maker"] == "true_oracle"]["mae"].max() < 1e-9),
    }
    final = table[table["round"] == marks[-1]].set_index("market_maker")["mae"].to_dict()
    notes = "\n".join([
        ctx.note(f"complete-parlay regime, n = {cfg.market.n}"),
        "MAE over all 2^n − 1 contracts at evenly spaced rounds (before that round's trade; the last "
        "point after the last trade).",
        "Final MAE: " + ", ".join(f"{k} {v:.4f}" for k, v in final.items()) + ".",
        f"Checks: {checks}.",
    ])
    return ExperimentResult("convergence", table, convergence_figure(table), ctx.config(n=cfg.market.n),
                            notes, checks)


# ----------------------------------------------------------------------------- 3. parlay reversal
def parlay_reversal(
    *,
    quick: bool = True,
    seed: int = 0,
    runs: int | None = None,
    rounds: int | None = None,
    workers: int = 1,
    market: MarketConfig | None = None,
    ising: IsingSettings | None = None,
    independent_open: IndependentOpening = "half",
) -> ExperimentResult:
    """Base-only flow (only the n singletons trade) against complete parlay flow, same assets, same number
    of rounds (Fig. 4 vs Fig. 6).

    Extra columns: ``regime``, ``per_market_loss`` / ``expected_per_market_loss`` (per contract of the
    regime) and ``rank_non_oracle`` (rank among the non-oracle market makers by expected loss; 0 for
    oracles).
    """
    ctx = _Context.make("parlay-reversal", quick, seed, runs, rounds, workers, market, ising,
                        independent_open)
    n = ctx.sizes.n
    configs = [ctx.sim(n=n, regime=reg) for reg in ("complete", "base-only")]
    results = ctx.run(configs)
    rows = []
    for cfg, res in zip(configs, results, strict=True):
        part = _summary_rows(res, cfg)
        losses = {r["market_maker"]: round(r["expected_loss"], 9) for r in part if not r["oracle"]}
        non = sorted(losses, key=losses.__getitem__)
        for r in part:
            r["regime"] = cfg.market.regime
            r["per_market_loss"] = r["loss"] / cfg.market.contracts
            r["expected_per_market_loss"] = r["expected_loss"] / cfg.market.contracts
            r["rank_non_oracle"] = non.index(r["market_maker"]) + 1 if not r["oracle"] else 0
        rows.extend(part)
    table = _columns(pd.DataFrame(rows), "parlay-reversal")
    by = dict(iter(table.groupby("regime")))
    checks = {
        "ising_best_non_oracle_with_parlays": _best_non_oracle(by["complete"]) == "ising",
        "ising_worst_non_oracle_base_only": _worst_non_oracle(by["base-only"]) == "ising",
        "ising_worst_overall_base_only": bool(
            by["base-only"].loc[by["base-only"]["expected_loss"].idxmax(), "market_maker"] == "ising"
        ),
    }
    notes = "\n".join([
        ctx.note(f"n = {n}; complete-parlay vs base-only flow"),
        "Base-only: the Gaussian oracle's prices are its own singleton books, so it coincides with the "
        "independent LMSR there; the pairwise oracle knows the exact marginals, so it coincides with the "
        "true oracle.",
        f"Checks: {checks}.",
    ])
    return ExperimentResult("parlay-reversal", table, reversal_figure(table), ctx.config(n=n), notes, checks)


# ----------------------------------------------------------------------------- 4. noise
def noise(
    *,
    quick: bool = True,
    seed: int = 0,
    runs: int | None = None,
    rounds: int | None = None,
    workers: int = 1,
    market: MarketConfig | None = None,
    ising: IsingSettings | None = None,
    independent_open: IndependentOpening = "half",
    noises: Sequence[float] | None = None,
) -> ExperimentResult:
    """Loss as a function of the noise-trader fraction φ, complete-parlay regime (Fig. 7). Runs share
    their random numbers across φ (a trader is noisy iff a stored uniform is < φ).

    Extra column: ``noise`` (φ). ``expected_loss_informed`` grows with φ when noise corrupts prices;
    ``expected_loss_noise`` (negative) is what noise traders pay; ``regret`` is the price-quality part.
    """
    ctx = _Context.make("noise", quick, seed, runs, rounds, workers, market, ising, independent_open,
                        regime="complete")
    n = ctx.sizes.n
    grid = tuple(float(phi) for phi in (noises if noises is not None else ctx.sizes.noises))
    configs = [ctx.sim(n=n, noise=phi) for phi in grid]
    results = ctx.run(configs)
    rows = []
    for phi, cfg, res in zip(grid, configs, results, strict=True):
        for r in _summary_rows(res, cfg):
            r["noise"] = phi
            rows.append(r)
    table = _columns(pd.DataFrame(rows), "noise")
    best = {float(phi): _best_non_oracle(g) for phi, g in table.groupby("noise")}
    ising_rows = table[table["market_maker"] == "ising"].sort_values("noise")
    checks = {
        "ising_best_non_oracle_every_noise": all(v == "ising" for v in best.values()),
        "ising_regret_grows_with_noise": bool(ising_rows["regret"].iloc[-1] > ising_rows["regret"].iloc[0]),
    }
    notes = "\n".join([
        ctx.note(f"n = {n}; complete-parlay regime", noise_text=f"φ = {list(grid)}"),
        f"Noise traders move the book to σ(logit π + {ctx.market.noise_sd}·ε), ε ~ N(0, 1).",
        f"Best non-oracle by φ: {best}.",
        f"Checks: {checks}.",
    ])
    return ExperimentResult("noise", table, noise_figure(table), ctx.config(n=n, noises=list(grid)), notes,
                            checks)


def _columns(table: pd.DataFrame, name: str) -> pd.DataFrame:
    return table[list(TABLE_COLUMNS[name])].reset_index(drop=True)


ExperimentFn = Callable[..., ExperimentResult]
EXPERIMENTS: dict[str, ExperimentFn] = {
    "loss-scaling": loss_scaling,
    "convergence": convergence,
    "parlay-reversal": parlay_reversal,
    "noise": noise,
}


def run_experiment(
    name: str,
    *,
    quick: bool = True,
    seed: int = 0,
    runs: int | None = None,
    rounds: int | None = None,
    workers: int = 1,
) -> ExperimentResult:
    """Run the registered experiment ``name`` (see :data:`EXPERIMENTS`)."""
    try:
        fn = EXPERIMENTS[name]
    except KeyError:
        raise ValueError(f"unknown experiment {name!r}; use one of {sorted(EXPERIMENTS)}") from None
    if workers < 1:
        raise ValueError("workers must be ≥ 1")
    return fn(quick=quick, seed=seed, runs=runs, rounds=rounds, workers=workers)
