"""The four synthetic experiments of the ParlayMarket evaluation, their claims, registry and runner.

Setting (the paper's, §3 of MISSION.md; every knob in :class:`Settings`): n correlated binary assets whose
scores follow an arithmetic Brownian motion with pairwise correlation ρ; trading runs over game time
[0, horizon) (default horizon 0.5; ``horizon = 0`` is the static-truth setting, labeled as such); each round
one contract is drawn uniformly from the regime (complete-parlay: all 2ⁿ − 1 all-YES contracts; base-only:
the n base markets) and one trader arrives: informed (target = the exact conditional probability given the
current scores) with probability 1 − φ, else a noise trader (target σ(logit π + ε), ε ~ N(0, 1)). Market
makers: :data:`models.experiments.makers.DEFINITIONS`.

Per-market loss (the paper's loss per contract per round) of a market maker in one run:

    L_n = (1 / (T·M)) · Σ_{t=1..T} ℓ_t,   ℓ_t = b·[π_t ln(q_t/p_t) + (1 − π_t) ln((1 − q_t)/(1 − p_t))],

with T rounds, M contracts in the regime (2ⁿ − 1 with parlays, n base-only), p_t the price the market maker
posted for round t's contract, q_t the trader's target, π_t the exact probability at round t, b = 1.
ℓ_t is the expected value of the trade's realised loss given everything known at round t (its expectation
equals the realised loss's; see :mod:`models.experiments.simulation`). Tables give the mean over runs and
its standard error; ``total_loss`` = M·L_n is the total per-round loss. The realised version (the outcome
instead of π_t) is given next to it.

Every experiment returns an :class:`ExperimentResult`: a table (columns :data:`TABLE_COLUMNS`), a PNG, the
JSON payload of the command line (:attr:`ExperimentResult.payload`), the paper's claims computed on its own
output (:class:`Claim`: holds or not, with the numbers), notes and the exact configuration.
``quick=True`` are the pipeline's sizes (:data:`QUICK`), ``quick=False`` paper-like sizes (:data:`FULL`).
``workers > 1`` spreads batches of runs over processes; results do not depend on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.experiments.makers import (
    ALL_MAKERS,
    DEFINITIONS,
    LABELS,
    MAKERS,
    ORACLES,
    VARIANTS,
    IsingSettings,
)
from models.experiments.market import DEFAULT_HORIZON, MarketConfig, Regime
from models.experiments.plots import convergence_figure, loss_scaling_figure, noise_figure, reversal_figure
from models.experiments.simulation import RunResult, SimulationConfig, simulate

PER_MARKET_LOSS = (
    "per-market loss L_n = (1/(T·M)) Σ_t ℓ_t, mean over runs; T rounds, M contracts of the regime "
    "(2^n − 1 with parlays, n base-only); ℓ_t = b·[π_t ln(q_t/p_t) + (1 − π_t) ln((1 − q_t)/(1 − p_t))] is the "
    "market maker's expected loss on round t's trade (posted price p_t, trader's target q_t, exact probability "
    "π_t at that round), b = 1; total_loss = M·L_n (total per-round loss); ± is 2 standard errors over runs."
)

_LOSS = ("n", "contracts", "market_maker", "label", "headline", "oracle", "runs", "rounds", "per_market_loss",
         "per_market_loss_se", "total_loss", "total_loss_se", "realized_per_market_loss",
         "realized_per_market_loss_se", "informed_per_market_loss", "noise_per_market_loss", "final_mae", "rank")
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "loss-scaling": (*_LOSS, "ratio_to_previous_n"),
    "convergence": ("bucket", "round_start", "round_end", "n", "market_maker", "label", "headline", "oracle",
                    "mae", "mae_se"),
    "parlay-reversal": ("regime", *_LOSS),
    "noise": ("noise", *_LOSS),
}
DISPLAY_COLUMNS: dict[str, list[str]] = {
    "loss-scaling": ["n", "contracts", "label", "per_market_loss", "per_market_loss_se", "total_loss",
                     "realized_per_market_loss", "ratio_to_previous_n", "final_mae", "rank"],
    "convergence": ["bucket", "round_start", "round_end", "label", "mae", "mae_se"],
    "parlay-reversal": ["regime", "n", "contracts", "label", "per_market_loss", "per_market_loss_se",
                        "total_loss", "realized_per_market_loss", "rank"],
    "noise": ["noise", "n", "label", "per_market_loss", "per_market_loss_se", "informed_per_market_loss",
              "noise_per_market_loss", "final_mae", "rank"],
}


@dataclass(frozen=True)
class Sizes:
    """Run counts and sizes of one mode: ``n_min``…``n_max`` (loss-scaling and parlay-reversal run every n;
    convergence and noise run n_max), the φ grid of the noise experiment, the convergence experiment's MAE
    points and round buckets."""

    runs: int
    rounds: int
    n_min: int
    n_max: int
    noises: tuple[float, ...]
    mae_points: int
    buckets: int


QUICK = Sizes(runs=4, rounds=400, n_min=4, n_max=6, noises=(0.0, 0.3, 0.5), mae_points=41, buckets=5)
FULL = Sizes(runs=20, rounds=2000, n_min=4, n_max=9, noises=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5), mae_points=201,
             buckets=10)


@dataclass(frozen=True)
class Settings:
    """Everything one experiment call was asked for (after defaults by mode)."""

    mode: str
    seed: int
    runs: int
    rounds: int
    horizon: float
    rho: float
    noise: float
    noises: tuple[float, ...]
    n_min: int
    n_max: int
    mae_points: int
    buckets: int
    workers: int = 1
    ising: IsingSettings = field(default_factory=IsingSettings)

    @property
    def ns(self) -> tuple[int, ...]:
        return tuple(range(self.n_min, self.n_max + 1))

    @property
    def static(self) -> bool:
        return self.horizon == 0.0

    def market(self, **fields: Any) -> MarketConfig:
        base = {"n": self.n_max, "rho": self.rho, "rounds": self.rounds, "noise": self.noise,
                "horizon": self.horizon}
        return MarketConfig(**{**base, **fields})

    def sim(self, mae_points: int = 11, **fields: Any) -> SimulationConfig:
        return SimulationConfig(market=self.market(**fields), makers=ALL_MAKERS, ising=self.ising,
                                mae_points=mae_points)


def resolve(
    *,
    quick: bool = True,
    seed: int = 0,
    runs: int | None = None,
    rounds: int | None = None,
    workers: int = 1,
    horizon: float | None = None,
    rho: float = 0.5,
    noise: float = 0.0,
    noises: Sequence[float] | None = None,
    n_min: int | None = None,
    n_max: int | None = None,
    ising: IsingSettings | None = None,
) -> Settings:
    """Settings from a mode and overrides (``None`` = the mode's default), validated."""
    base = QUICK if quick else FULL
    s = Settings(
        mode="quick" if quick else "full", seed=int(seed), runs=base.runs if runs is None else int(runs),
        rounds=base.rounds if rounds is None else int(rounds),
        horizon=DEFAULT_HORIZON if horizon is None else float(horizon), rho=float(rho), noise=float(noise),
        noises=tuple(float(v) for v in (base.noises if noises is None else noises)),
        n_min=base.n_min if n_min is None else int(n_min), n_max=base.n_max if n_max is None else int(n_max),
        mae_points=base.mae_points, buckets=base.buckets, workers=int(workers), ising=ising or IsingSettings(),
    )
    if s.runs < 1 or s.rounds < 1:
        raise ValueError("runs and rounds must be ≥ 1")
    if s.workers < 1:
        raise ValueError("workers must be ≥ 1")
    if not 1 <= s.n_min <= s.n_max <= 12:
        raise ValueError(f"need 1 ≤ n-min ≤ n-max ≤ 12, got {s.n_min}, {s.n_max}")
    if not s.noises or any(not 0.0 <= v <= 1.0 for v in s.noises):
        raise ValueError(f"noise fractions must lie in [0, 1], got {list(s.noises)}")
    s.market(n=s.n_min)  # validates horizon, ρ and φ
    return dataclasses.replace(s, mae_points=min(s.mae_points, s.rounds + 1))


# ----------------------------------------------------------------------------- running
def _task(args: tuple[SimulationConfig, int, tuple[int, ...]]) -> list[RunResult]:
    return simulate(*args)


def run_many(configs: Sequence[SimulationConfig], seed: int, runs: int, workers: int = 1) -> list[list[RunResult]]:
    """``runs`` runs of every config (run r of every config shares the market's random numbers), in order.
    Runs of one config are simulated as one batch, or as ``workers`` contiguous batches spread over a process
    pool (the command line starts with one BLAS thread per process: the matrices are small)."""
    if runs < 1:
        raise ValueError("runs must be ≥ 1")
    chunks = [tuple(int(r) for r in c) for c in np.array_split(np.arange(runs), min(workers, runs))]
    tasks = [(cfg, seed, chunk) for cfg in configs for chunk in chunks]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(_task, tasks))
    else:
        parts = [_task(t) for t in tasks]
    flat = [r for part in parts for r in part]
    return [flat[i * runs : (i + 1) * runs] for i in range(len(configs))]


# ----------------------------------------------------------------------------- results and claims
CLAIM_NAMES: dict[str, str] = {
    "a": "ising_lowest_with_parlays",
    "b": "ising_loss_halves_per_asset",
    "c": "ising_total_loss_flat",
    "d": "ising_worst_base_only",
    "e": "ising_mae_decreases",
    "f": "ising_best_non_oracle_low_noise",
}
EXPERIMENT_CLAIMS: dict[str, tuple[str, ...]] = {
    "loss-scaling": ("a", "b", "c"),
    "convergence": ("e",),
    "parlay-reversal": ("a", "d"),
    "noise": ("f",),
}

@dataclass(frozen=True)
class Claim:
    """One of the paper's claims evaluated on an experiment's own output."""

    key: str
    name: str
    statement: str
    holds: bool
    numbers: dict[str, Any]
    detail: str

    def line(self) -> str:
        verdict = "HOLDS" if self.holds else "DOES NOT HOLD"
        return f"({self.key}) {self.statement} — {verdict}. {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "statement": self.statement, "holds": self.holds,
                "numbers": self.numbers, "detail": self.detail}


@dataclass(frozen=True, eq=False)
class ExperimentResult:
    """One experiment's output (see the module docstring)."""

    name: str
    table: pd.DataFrame
    figure_png: bytes
    config: dict[str, Any]
    notes: str
    claims: tuple[Claim, ...]
    payload: dict[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "payload", json_safe(self.payload))

    @property
    def checks(self) -> dict[str, bool]:
        """Claim name → holds."""
        return {c.name: c.holds for c in self.claims}


def json_safe(value: Any) -> Any:
    """A JSON-ready copy: numpy scalars and arrays to Python, NaN and ±inf to None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    a = np.asarray(values, dtype=np.float64)
    se = float(a.std(ddof=1) / np.sqrt(a.size)) if a.size > 1 else float("nan")
    return float(a.mean()), se


def _loss_rows(results: list[RunResult], cfg: SimulationConfig) -> list[dict[str, Any]]:
    """One row per market maker: per-market losses (mean, SE over runs) and the rest of :data:`_LOSS`."""
    mc = cfg.market
    scale = 1.0 / (mc.rounds * mc.contracts)
    rows = []
    for key in cfg.makers:
        pm, pm_se = _mean_se(np.array([r.expected_loss[key] for r in results]) * scale)
        real, real_se = _mean_se(np.array([r.loss[key] for r in results]) * scale)
        rows.append({
            "n": mc.n, "contracts": mc.contracts, "market_maker": key, "label": LABELS[key],
            "headline": key in MAKERS, "oracle": key in ORACLES, "runs": len(results), "rounds": mc.rounds,
            "per_market_loss": pm, "per_market_loss_se": pm_se, "total_loss": pm * mc.contracts,
            "total_loss_se": pm_se * mc.contracts, "realized_per_market_loss": real,
            "realized_per_market_loss_se": real_se,
            "informed_per_market_loss": float(np.mean([r.expected_loss_informed[key] for r in results])) * scale,
            "noise_per_market_loss": float(np.mean([r.expected_loss_noise[key] for r in results])) * scale,
            "final_mae": float(np.mean([r.mae[key][-1] for r in results])),
        })
    head = [row for row in rows if row["headline"]]
    order = np.argsort([round(row["per_market_loss"], 12) for row in head], kind="stable")
    for rank, i in enumerate(order, start=1):
        head[i]["rank"] = rank
    for row in rows:
        row.setdefault("rank", 0)
    return rows


def _per_run(results: list[RunResult], cfg: SimulationConfig) -> dict[str, np.ndarray]:
    """Per-run per-market (expected) loss of every maker: the paired samples behind the claims."""
    scale = 1.0 / (cfg.market.rounds * cfg.market.contracts)
    return {k: np.array([r.expected_loss[k] for r in results]) * scale for k in cfg.makers}


def _paired(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Mean and standard error of the per-run difference a − b (common random numbers pair the runs)."""
    d = np.asarray(a) - np.asarray(b)
    mean, se = _mean_se(d)
    return {"difference": mean, "difference_se": se}


def _head(s: Settings, name: str, ns: Sequence[int], noise: Any) -> dict[str, Any]:
    return {"experiment": name, "seed": s.seed, "runs": s.runs, "rounds": s.rounds, "horizon": s.horizon,
            "rho": s.rho, "noise": noise, "n": [int(n) for n in ns]}


def _shape(s: Settings, name: str, ns: Sequence[int], rows: Sequence[dict[str, Any]], noise: Any = None,
           ) -> dict[str, Any]:
    """The JSON object of the command line for the loss rows of one setting (lists aligned with ``n``)."""
    def series(key: str, col: str) -> list[float]:
        return [float(next(r[col] for r in rows if r["n"] == n and r["market_maker"] == key)) for n in ns]

    def block(keys: Sequence[str]) -> dict[str, Any]:
        cols = ("per_market_loss", "per_market_loss_se", "total_loss", "realized_per_market_loss")
        return {col: {k: series(k, col) for k in keys} for col in cols}

    out = _head(s, name, ns, s.noise if noise is None else noise)
    out.update(block(MAKERS))
    out["variants"] = block(VARIANTS)
    return out


def _meta(s: Settings) -> dict[str, Any]:
    return {"mode": s.mode, "setting": s.market(n=s.n_min).setting, "static": s.static, "definitions": DEFINITIONS,
            "per_market_loss_definition": PER_MARKET_LOSS}


def _config(s: Settings, name: str, **extra: Any) -> dict[str, Any]:
    return {"experiment": name, **dataclasses.asdict(s), "ns": list(s.ns), "makers": list(MAKERS),
            "variants": list(VARIANTS), "setting": s.market(n=s.n_min).setting, **extra}


def _notes(s: Settings, what: str, claims: Sequence[Claim], extra: Sequence[str] = ()) -> str:
    g = s.ising
    lines = [
        f"Setting: {s.market(n=s.n_min).setting}; {what}; {s.runs} runs × {s.rounds} rounds (seed {s.seed}); "
        f"ρ = {s.rho}; tip-off probabilities U[0.25, 0.75]; b = 1; Ising AMM η_h = {g.eta_h}, η_J = {g.eta_J}.",
        "Market makers:",
        *[f"  {LABELS[k]} ({k}): {DEFINITIONS[k]}" for k in ALL_MAKERS],
        f"Loss: {PER_MARKET_LOSS}",
        *extra,
        "Claims (computed on this output):",
        *[f"  {c.line()}" for c in claims],
    ]
    return "\n".join(lines)


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _ranking_claim(key: str, statement: str, groups: dict[str, dict[str, np.ndarray]], rivals: Sequence[str],
                   lowest: bool) -> Claim:
    """The Ising AMM's mean per-market loss is below (``lowest``) or above every rival's in every group (one
    n or one φ). Numbers per group: every maker's mean, the closest rival and the paired per-run difference
    to it with its standard error (the runs share their random numbers across makers)."""
    numbers: dict[str, Any] = {}
    fails = []
    for label, runs in groups.items():
        ising = float(runs["ising_amm"].mean())
        means = {k: float(runs[k].mean()) for k in rivals}
        closest = min(rivals, key=means.__getitem__) if lowest else max(rivals, key=means.__getitem__)
        numbers[label] = {"ising_amm": ising, **means, "closest_rival": closest,
                          **_paired(runs["ising_amm"], runs[closest])}
        if not (ising < means[closest] if lowest else ising > means[closest]):
            fails.append(f"{label}: {LABELS[closest]} {_fmt(means[closest])} {'≤' if lowest else '≥'} "
                         f"Ising {_fmt(ising)}")
    margins = "; ".join(
        f"{label}: Ising {_fmt(v['ising_amm'])}, " + ", ".join(f"{k} {_fmt(v[k])}" for k in rivals)
        + f" (Ising − {v['closest_rival']}: {_fmt(v['difference'])} ± {_fmt(2 * v['difference_se'])})"
        for label, v in numbers.items())
    detail = f"{margins}." if not fails else "Fails at " + "; ".join(fails) + f". All: {margins}."
    return Claim(key, CLAIM_NAMES[key], statement, bool(groups) and not fails, numbers,
                 detail if groups else "Nothing to compare.")


_NOT_TRUE = tuple(k for k in ALL_MAKERS if k not in ("true_oracle", "ising_amm"))


def _lowest_claim(per_n: dict[int, dict[str, np.ndarray]], what: str) -> Claim:
    """(a): lowest per-market loss of every maker but the true oracle (the product variant included)."""
    ns = ", ".join(map(str, per_n))
    return _ranking_claim("a", f"{what}, the Ising AMM has the lowest per-market loss of every maker except the "
                          f"true oracle at every n ({ns})", {f"n = {n}": v for n, v in per_n.items()}, _NOT_TRUE,
                          lowest=True)


# ----------------------------------------------------------------------------- 1. loss scaling
def loss_scaling(**knobs: Any) -> ExperimentResult:
    """Per-market loss of every market maker for n = n_min…n_max in the complete-parlay regime (2ⁿ − 1
    contracts), the same number of rounds for every n (Table 3 / Fig. 4). Extra column
    ``ratio_to_previous_n`` = L_n / L_(n−1) (NaN for the first n). Claims (a), (b), (c)."""
    s = resolve(**knobs)
    configs = [s.sim(n=n, regime="complete") for n in s.ns]
    results = run_many(configs, s.seed, s.runs, s.workers)
    rows: list[dict[str, Any]] = []
    previous: dict[str, float] = {}
    for cfg, res in zip(configs, results, strict=True):
        for row in _loss_rows(res, cfg):
            prev = previous.get(row["market_maker"])
            row["ratio_to_previous_n"] = row["per_market_loss"] / prev if prev else float("nan")
            previous[row["market_maker"]] = row["per_market_loss"]
            rows.append(row)
    table = _columns(pd.DataFrame(rows), "loss-scaling")
    per_n = {cfg.market.n: _per_run(res, cfg) for cfg, res in zip(configs, results, strict=True)}
    claims = (_lowest_claim(per_n, "With parlays"),
              *_scaling_claims(table))
    payload = {**_shape(s, "loss-scaling", s.ns, rows), **_meta(s), "claims": [c.as_dict() for c in claims]}
    notes = _notes(s, f"complete-parlay regime, n = {s.n_min}…{s.n_max}", claims)
    return ExperimentResult("loss-scaling", table, loss_scaling_figure(table), _config(s, "loss-scaling"), notes,
                            claims, payload)


def _scaling_claims(table: pd.DataFrame) -> tuple[Claim, Claim]:
    ising = table[table["market_maker"] == "ising_amm"].sort_values("n")
    ns = ising["n"].astype(int).tolist()
    ratios = ising["ratio_to_previous_n"].to_numpy()[1:]
    totals = ising["total_loss"].to_numpy()
    pairs = {f"{a}->{b}": float(r) for a, b, r in zip(ns[:-1], ns[1:], ratios, strict=True)}
    ok_b = bool(ratios.size) and bool(np.all((ratios >= 0.4) & (ratios <= 0.6)))
    out_b = [f"{k}: {_fmt(v)}" for k, v in pairs.items() if not 0.4 <= v <= 0.6]
    detail_b = ("L_n/L_(n−1): " + ", ".join(f"{k} {_fmt(v)}" for k, v in pairs.items())
                + (f"; outside [0.4, 0.6]: {', '.join(out_b)}" if out_b else "") + ". Halving would be 0.5.")
    if not ratios.size:
        detail_b = "Needs at least two values of n."
    b = Claim("b", CLAIM_NAMES["b"], "The Ising AMM's per-market loss ratio L_n/L_(n−1) lies in "
              "[0.4, 0.6] for every consecutive n", ok_b, {"ratios": pairs}, detail_b)
    spread = float(totals.max() / totals.min()) if totals.size and totals.min() > 0 else float("inf")
    listed = ", ".join(f"n = {n} {_fmt(v)}" for n, v in zip(ns, totals, strict=True))
    detail_c = f"total per-round loss (2^n − 1)·L_n: {listed}; max/min = {_fmt(spread)} (limit 1.5)."
    c = Claim("c", CLAIM_NAMES["c"], "The max/min over n of the Ising AMM's total per-round loss "
              "(2^n − 1)·L_n is ≤ 1.5", bool(totals.size >= 2 and spread <= 1.5),
              {"total_loss": {str(n): float(v) for n, v in zip(ns, totals, strict=True)}, "max_over_min": spread},
              detail_c)
    return b, c


# ----------------------------------------------------------------------------- 2. convergence
def convergence(**knobs: Any) -> ExperimentResult:
    """Price MAE over time in the complete-parlay regime at n = n_max (Fig. 5): MAE (mean over all contracts
    of |posted price − exact probability|) at ``mae_points`` evenly spaced rounds, averaged within
    ``buckets`` equal round buckets (then over runs: ``mae``, ``mae_se``). Claim (e)."""
    s = resolve(**knobs)
    n = s.n_max
    cfg = s.sim(mae_points=s.mae_points, n=n, regime="complete")
    (results,) = run_many([cfg], s.seed, s.runs, s.workers)
    marks = results[0].marks
    T = s.rounds
    edges = np.linspace(0, T, s.buckets + 1)
    bucket_of = np.minimum(np.searchsorted(edges, marks, side="right") - 1, s.buckets - 1)
    rows = []
    mae: dict[str, list[float]] = {}
    mae_se: dict[str, list[float]] = {}
    for key in ALL_MAKERS:
        per_run = np.array([r.mae[key] for r in results])  # (runs, marks)
        mae[key], mae_se[key] = [], []
        for b_i in range(s.buckets):
            sel = bucket_of == b_i
            m, se = _mean_se(per_run[:, sel].mean(axis=1)) if sel.any() else (float("nan"), float("nan"))
            mae[key].append(m)
            mae_se[key].append(se)
            rows.append({"bucket": b_i, "round_start": int(np.ceil(edges[b_i])),
                         "round_end": int(np.floor(edges[b_i + 1])), "n": n, "market_maker": key,
                         "label": LABELS[key], "headline": key in MAKERS, "oracle": key in ORACLES, "mae": m,
                         "mae_se": se})
    table = _columns(pd.DataFrame(rows), "convergence")
    series = np.array(mae["ising_amm"])
    steps = np.diff(series)
    rises = [f"bucket {i} → {i + 1}: {_fmt(series[i])} → {_fmt(series[i + 1])}" for i in np.flatnonzero(steps >= 0)]
    detail = ("Ising AMM MAE by bucket: " + ", ".join(_fmt(v) for v in series)
              + f"; first/last = {_fmt(series[0] / series[-1])}"
              + (f"; rises at {'; '.join(rises)}" if rises else "; falls at every bucket") + ".")
    claim = Claim("e", CLAIM_NAMES["e"], "The Ising AMM's price MAE decreases over time (every round bucket "
                  "below the previous one)", not rises and series.size > 1,
                  {"mae": [float(v) for v in series], "first_over_last": float(series[0] / series[-1])}, detail)
    loss = _loss_rows(results, cfg)
    payload = {**_shape(s, "convergence", [n], loss), **_meta(s),
               "round_start": [r["round_start"] for r in rows[: s.buckets]],
               "round_end": [r["round_end"] for r in rows[: s.buckets]],
               "mae": {k: mae[k] for k in MAKERS}, "mae_se": {k: mae_se[k] for k in MAKERS},
               "variants_mae": {k: mae[k] for k in VARIANTS}, "claims": [claim.as_dict()]}
    notes = _notes(s, f"complete-parlay regime, n = {n}; MAE at {marks.size} rounds in {s.buckets} buckets",
                   [claim])
    return ExperimentResult("convergence", table, convergence_figure(table), _config(s, "convergence", n=n), notes,
                            (claim,), payload)


# ----------------------------------------------------------------------------- 3. parlay reversal
def parlay_reversal(**knobs: Any) -> ExperimentResult:
    """With-parlay flow (complete regime) against base-only flow (only the n base markets trade), the same
    assets and rounds, n = n_min…n_max (Fig. 4 vs Fig. 6). Per-market loss is per contract of the regime.
    Claims (a) on the with-parlay half and (d) on the base-only half."""
    s = resolve(**knobs)
    regimes: tuple[Regime, ...] = ("complete", "base-only")
    configs = [s.sim(n=n, regime=reg) for reg in regimes for n in s.ns]
    results = run_many(configs, s.seed, s.runs, s.workers)
    rows = []
    per: dict[str, dict[int, dict[str, np.ndarray]]] = {reg: {} for reg in regimes}
    by_regime: dict[str, list[dict[str, Any]]] = {reg: [] for reg in regimes}
    for cfg, res in zip(configs, results, strict=True):
        part = _loss_rows(res, cfg)
        for r in part:
            r["regime"] = cfg.market.regime
        by_regime[cfg.market.regime].extend(part)
        rows.extend(part)
        per[cfg.market.regime][cfg.market.n] = _per_run(res, cfg)
    table = _columns(pd.DataFrame(rows), "parlay-reversal")
    claims = (_lowest_claim(per["complete"], "With parlays"),
              _worst_claim(per["base-only"]))
    payload = {**_head(s, "parlay-reversal", s.ns, s.noise),
               "with_parlays": _shape(s, "parlay-reversal", s.ns, by_regime["complete"]),
               "base_only": _shape(s, "parlay-reversal", s.ns, by_regime["base-only"]),
               **_meta(s), "claims": [c.as_dict() for c in claims]}
    notes = _notes(s, f"n = {s.n_min}…{s.n_max}; complete-parlay vs base-only flow", claims, [
        "Base-only: the product variant coincides with the independent LMSR (no parlays to price)."])
    return ExperimentResult("parlay-reversal", table, reversal_figure(table), _config(s, "parlay-reversal"), notes,
                            claims, payload)


def _worst_claim(per_n: dict[int, dict[str, np.ndarray]]) -> Claim:
    """(d): highest per-market loss of every maker but the true oracle, with base-only flow."""
    ns = ", ".join(map(str, per_n))
    return _ranking_claim("d", "With base-only flow, the Ising AMM has the highest per-market loss of every "
                          f"maker except the true oracle at every n ({ns})",
                          {f"n = {n}": v for n, v in per_n.items()}, _NOT_TRUE, lowest=False)


# ----------------------------------------------------------------------------- 4. noise
def noise(**knobs: Any) -> ExperimentResult:
    """Per-market loss against the noise-trader fraction φ in the complete-parlay regime at n = n_max
    (Fig. 7). Runs share their random numbers across φ (a trader is noisy iff a stored uniform is < φ).
    ``informed_per_market_loss`` / ``noise_per_market_loss`` split the loss by trader type. Claim (f)."""
    s = resolve(**knobs)
    n = s.n_max
    configs = [s.sim(n=n, regime="complete", noise=phi) for phi in s.noises]
    results = run_many(configs, s.seed, s.runs, s.workers)
    rows = []
    per: dict[float, dict[str, np.ndarray]] = {}
    for phi, cfg, res in zip(s.noises, configs, results, strict=True):
        for r in _loss_rows(res, cfg):
            r["noise"] = phi
            rows.append(r)
        per[phi] = _per_run(res, cfg)
    table = _columns(pd.DataFrame(rows), "noise")
    claim = _noise_claim(per)
    def series(col: str, keys: Sequence[str]) -> dict[str, list[float]]:
        return {k: [float(table[(table["noise"] == phi) & (table["market_maker"] == k)][col].iloc[0])
                    for phi in s.noises] for k in keys}

    payload = _head(s, "noise", [n], list(s.noises))
    payload.update({**{col: series(col, MAKERS) for col in (
        "per_market_loss", "per_market_loss_se", "total_loss", "realized_per_market_loss")},
        "variants": {col: series(col, VARIANTS) for col in ("per_market_loss", "per_market_loss_se", "total_loss",
                                                             "realized_per_market_loss")},
        **_meta(s), "claims": [claim.as_dict()]})
    notes = _notes(s, f"complete-parlay regime, n = {n}; φ = {list(s.noises)}", [claim],
                   ["Noise traders move the book to σ(logit π + ε), ε ~ N(0, 1)."])
    return ExperimentResult("noise", table, noise_figure(table), _config(s, "noise", n=n), notes, (claim,), payload)


def _noise_claim(per: dict[float, dict[str, np.ndarray]]) -> Claim:
    """(f): lowest per-market loss of the non-oracle makers at every φ ≤ 0.3."""
    rivals = [k for k in ALL_MAKERS if k not in ORACLES and k != "ising_amm"]
    groups = {f"φ = {phi:g}": v for phi, v in per.items() if phi <= 0.3 + 1e-12}
    return _ranking_claim("f", "The Ising AMM has the lowest per-market loss of the non-oracle makers "
                          "(independent LMSR and its product variant) at every φ ≤ 0.3", groups, rivals, lowest=True)


def _columns(table: pd.DataFrame, name: str) -> pd.DataFrame:
    return table[list(TABLE_COLUMNS[name])].reset_index(drop=True)


ExperimentFn = Callable[..., ExperimentResult]
EXPERIMENTS: dict[str, ExperimentFn] = {
    "loss-scaling": loss_scaling,
    "convergence": convergence,
    "parlay-reversal": parlay_reversal,
    "noise": noise,
}


def run_experiment(name: str, **knobs: Any) -> ExperimentResult:
    """Run the registered experiment ``name`` (see :data:`EXPERIMENTS`; knobs as :func:`resolve`)."""
    try:
        fn = EXPERIMENTS[name]
    except KeyError:
        raise ValueError(f"unknown experiment {name!r}; use one of {sorted(EXPERIMENTS)}") from None
    return fn(**knobs)


__all__ = [
    "CLAIM_NAMES",
    "DISPLAY_COLUMNS",
    "EXPERIMENTS",
    "EXPERIMENT_CLAIMS",
    "FULL",
    "PER_MARKET_LOSS",
    "QUICK",
    "TABLE_COLUMNS",
    "Claim",
    "ExperimentResult",
    "Settings",
    "Sizes",
    "convergence",
    "json_safe",
    "loss_scaling",
    "noise",
    "parlay_reversal",
    "resolve",
    "run_experiment",
    "run_many",
]
