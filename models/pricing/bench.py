"""Accuracy and speed figures of the pricing core, as plain functions returning dicts (for the CLI and the
benchmark tests). Nothing here asserts; callers print or store the figures.

Random clusters (:func:`random_cluster`): an Erdős–Rényi graph with the given mean degree; couplings
|N(0, s)| (``"ferro"``, attractive, not frustrated) or N(0, s) (``"mixed"``, frustrated loops); fields
h_i = N(0, 1) − ½Σ_j J_ij, which puts the spin-picture fields θ_i = h_i/2 + ¼Σ_j J_ij at N(0, ½): legs near
50/50, the regime where loopy BP on attractive models is weakest (symmetry breaking). Each accuracy row
also reports the median and maximum |correlation| of coupled pairs under the exact law, so the coupling
scale can be read in market terms.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from models.pricing.baselines import GaussianCopula, independence_price
from models.pricing.bp import BPConfig
from models.pricing.ising import InferenceConfig, IsingModel
from models.pricing.learning import LearnerConfig, OnlineLearner, sgd_step
from models.pricing.results import NotConvergedError


def random_cluster(
    n: int,
    mean_degree: float,
    coupling_scale: float,
    kind: Literal["ferro", "mixed"],
    rng: np.random.Generator,
    config: InferenceConfig | None = None,
) -> IsingModel:
    """A random Ising cluster (see the module docstring)."""
    p = min(1.0, mean_degree / max(n - 1, 1))
    adjacency = np.triu(rng.random((n, n)) < p, 1)
    weights = rng.normal(0.0, coupling_scale, (n, n))
    if kind == "ferro":
        weights = np.abs(weights)
    elif kind != "mixed":
        raise ValueError(f"kind must be 'ferro' or 'mixed', got {kind!r}")
    J = np.triu(weights * adjacency, 1)
    J = J + J.T
    h = rng.normal(0.0, 1.0, n) - J.sum(axis=1) / 2.0
    return IsingModel(h, J, config or InferenceConfig())


def _random_legs(n: int, k: int, rng: np.random.Generator) -> dict[int, bool]:
    return {int(i): bool(rng.random() < 0.5) for i in rng.choice(n, size=k, replace=False)}


def _coupled_correlations(model: IsingModel) -> np.ndarray:
    second = model.pairwise_moments("exact")
    mean = np.diag(second)
    cov = second - np.outer(mean, mean)
    sd = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
    corr = cov / np.outer(sd, sd)
    return np.abs(corr[np.triu(model.J != 0, 1)])


def accuracy_benchmark(
    n: int = 18,
    kinds: Sequence[str] = ("ferro", "mixed"),
    coupling_scales: Sequence[float] = (0.25, 0.5, 1.0),
    mean_degree: float = 6.0,
    models: int = 10,
    queries: int = 40,
    legs: tuple[int, int] = (2, 10),
    methods: Sequence[str] = ("bp", "bp-chain"),
    cutsets: Sequence[int] = (0, 2),
    seed: int = 0,
) -> dict[str, Any]:
    """Approximate vs exact ``joint_probability`` on random n-variable clusters.

    One row per (kind, coupling scale, method, cutset): mean and max absolute error over
    ``models × queries`` random contracts of ``legs[0]``…``legs[1]`` legs (random sides), and how many
    queries BP could not converge on (those are excluded from the errors and counted instead).
    """
    rows = []
    for kind in kinds:
        for scale in coupling_scales:
            rng = np.random.default_rng([seed, int(scale * 1000), 0 if kind == "ferro" else 1])
            base_models = [
                random_cluster(n, mean_degree, scale, kind, rng)  # type: ignore[arg-type]
                for _ in range(models)
            ]
            query_sets = [
                [_random_legs(n, int(rng.integers(legs[0], legs[1] + 1)), rng) for _ in range(queries)]
                for _ in base_models
            ]
            truth = [
                [float(m.joint_probability(q, "exact")) for q in qs]
                for m, qs in zip(base_models, query_sets, strict=True)
            ]
            corr = np.concatenate([_coupled_correlations(m) for m in base_models])
            for method in methods:
                for cutset in cutsets:
                    cfg = InferenceConfig(bp=BPConfig(cutset=cutset))
                    errors: list[float] = []
                    failures = 0
                    for m, qs, ts in zip(base_models, query_sets, truth, strict=True):
                        model = IsingModel(m.h, m.J, cfg)
                        for q, t in zip(qs, ts, strict=True):
                            try:
                                p = model.joint_probability(q, method)  # type: ignore[arg-type]
                                errors.append(abs(float(p) - t))
                            except NotConvergedError:
                                failures += 1
                    err = np.array(errors) if errors else np.array([np.nan])
                    rows.append({
                        "kind": kind,
                        "coupling_scale": scale,
                        "method": method,
                        "cutset": cutset,
                        "mean_abs_error": float(np.mean(err)),
                        "p99_abs_error": float(np.percentile(err, 99)),
                        "max_abs_error": float(np.max(err)),
                        "not_converged": failures,
                        "queries": models * queries,
                        "median_abs_corr": float(np.median(corr)) if corr.size else 0.0,
                        "max_abs_corr": float(np.max(corr)) if corr.size else 0.0,
                    })
    return {"n": n, "mean_degree": mean_degree, "legs": list(legs), "rows": rows}


def _percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = np.array(samples_s) * 1e3
    return {
        "p50_ms": float(np.median(ms)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
    }


def speed_benchmark(
    n: int = 135,
    mean_degree: float = 10.0,
    coupling_scale: float = 0.5,
    kind: Literal["ferro", "mixed"] = "mixed",
    legs: int = 10,
    quotes: int = 300,
    seed: int = 0,
    config: InferenceConfig | None = None,
) -> dict[str, Any]:
    """Latency of one ``joint_probability`` of ``legs`` legs on an n-variable cluster (BP, warm model).

    Reports wall-clock and thread-CPU percentiles (CPU time excludes waiting for a busy machine), plus the
    one-off cost of the unclamped fixed point of a fresh model.
    """
    rng = np.random.default_rng(seed)
    model = random_cluster(n, mean_degree, coupling_scale, kind, rng, config)
    t0 = time.perf_counter()
    model.log_partition("bp")
    base_s = time.perf_counter() - t0
    wall: list[float] = []
    cpu: list[float] = []
    iterations: list[int] = []
    failures = 0
    queries = [_random_legs(n, legs, rng) for _ in range(quotes)]
    for q in queries:
        w0, c0 = time.perf_counter(), time.thread_time()
        try:
            p = model.joint_probability(q, "bp")
            iterations.append(p.diagnostics.iterations)
        except NotConvergedError:
            failures += 1
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    # the baselines on the same queries and marginals, in the same run
    marginals = model.marginals("bp")
    corr = 0.15 * np.tanh(model.J)  # a correlation pattern on the cluster's edges (repaired to PSD if needed)
    np.fill_diagonal(corr, 1.0)
    copula = GaussianCopula(corr, seed=0)
    ind_wall: list[float] = []
    cop_wall: list[float] = []
    for q in queries[: max(1, len(queries) // 3)]:
        w0 = time.perf_counter()
        independence_price(marginals, q)
        ind_wall.append(time.perf_counter() - w0)
        w0 = time.perf_counter()
        copula.joint_probability(marginals, q)
        cop_wall.append(time.perf_counter() - w0)
    edges = int(np.count_nonzero(np.triu(model.J, 1)))
    return {
        "n": n,
        "edges": edges,
        "mean_degree": 2 * edges / n,
        "coupling_scale": coupling_scale,
        "kind": kind,
        "legs": legs,
        "cutset": model.log_partition("bp").diagnostics.cutset,
        "base_fixed_point_ms": base_s * 1e3,
        "wall": _percentiles(wall),
        "cpu": _percentiles(cpu),
        "median_sweeps_per_quote_incl_base": float(np.median(iterations)) if iterations else float("nan"),
        "not_converged": failures,
        "independence_wall": _percentiles(ind_wall),
        "scipy_copula_wall": _percentiles(cop_wall),
    }


def sgd_benchmark(
    n: int = 135,
    mean_degree: float = 10.0,
    coupling_scale: float = 0.5,
    updates: int = 200,
    legs: tuple[int, int] = (1, 4),
    books: int = 50,
    seed: int = 0,
) -> dict[str, Any]:
    """Cost of one SGD update (conditional moments of the traded contract + the new model's unclamped
    fixed point, warm-started), and of a full learner observation that also re-prices ``books`` books."""
    rng = np.random.default_rng(seed)
    model = random_cluster(n, mean_degree, coupling_scale, "mixed", rng)
    config = LearnerConfig(eta_h=0.05, eta_J=0.05)
    model.moments("bp")
    step_wall: list[float] = []
    step_cpu: list[float] = []
    for _ in range(updates):
        contract = _random_legs(n, int(rng.integers(legs[0], legs[1] + 1)), rng)
        target = float(rng.uniform(0.05, 0.95))
        w0, c0 = time.perf_counter(), time.thread_time()
        model, _ = sgd_step(model, contract, target, config)
        model.moments("bp")  # the new model's fixed point, needed by the next quote or update
        step_cpu.append(time.thread_time() - c0)
        step_wall.append(time.perf_counter() - w0)
    contracts = [_random_legs(n, int(rng.integers(2, 5)), rng) for _ in range(books)]
    learner = OnlineLearner(model, config, contracts)
    obs_wall: list[float] = []
    for _ in range(max(10, updates // 10)):
        contract = _random_legs(n, int(rng.integers(legs[0], legs[1] + 1)), rng)
        w0 = time.perf_counter()
        learner.observe(contract, float(rng.uniform(0.05, 0.95)), trade=False)
        obs_wall.append(time.perf_counter() - w0)
    return {
        "n": n,
        "mean_degree_start": mean_degree,
        "edges_end": int(np.count_nonzero(np.triu(model.J, 1))),
        "update_wall": _percentiles(step_wall),
        "update_cpu": _percentiles(step_cpu),
        "observe_with_books": books,
        "observe_wall": _percentiles(obs_wall),
    }


def exact_benchmark(sizes: Sequence[int] = (16, 20, 22), seed: int = 0) -> dict[str, Any]:
    """Wall time of exact enumeration: log Z, full moments, the cached probability table, a 3-leg joint."""
    rows = []
    for n in sizes:
        rng = np.random.default_rng([seed, n])
        base = random_cluster(n, 6.0, 0.5, "mixed", rng)
        h, J = base.h, base.J
        cfg = InferenceConfig(exact_max_n=min(n, 24), exact_limit_n=24, table_max_n=min(n, 22))
        t0 = time.perf_counter()
        IsingModel(h, J, cfg).log_partition("exact")
        t1 = time.perf_counter()
        model = IsingModel(h, J, cfg)
        model.moments("exact")
        t2 = time.perf_counter()
        legs = _random_legs(n, 3, rng)
        model.joint_probability(legs, "exact")  # builds the table
        t3 = time.perf_counter()
        for _ in range(20):
            model.joint_probability(_random_legs(n, 3, rng), "exact")
        t4 = time.perf_counter()
        rows.append({
            "n": n,
            "log_z_ms": (t1 - t0) * 1e3,
            "moments_ms": (t2 - t1) * 1e3,
            "table_build_ms": (t3 - t2) * 1e3,
            "joint_from_table_ms": (t4 - t3) / 20 * 1e3,
        })
    return {"rows": rows}


def run_all(quick: bool = False) -> dict[str, Any]:
    """Every figure: accuracy (n=18), quote speed (135 variables, degree ~10, and fully connected), SGD,
    exact enumeration."""
    acc = accuracy_benchmark(models=4 if quick else 10, queries=20 if quick else 40)
    quotes = 100 if quick else 300
    speed_sparse = speed_benchmark(quotes=quotes)
    speed_dense = speed_benchmark(mean_degree=134.0, coupling_scale=0.1, quotes=quotes // 3)
    sgd = sgd_benchmark(updates=50 if quick else 200)
    exact_speed = exact_benchmark((16, 20) if quick else (16, 20, 22))
    return {
        "accuracy": acc,
        "speed_sparse": speed_sparse,
        "speed_fully_connected": speed_dense,
        "sgd": sgd,
        "exact": exact_speed,
    }
