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

import itertools
import time
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from models.pricing.baselines import GaussianCopula, independence_price
from models.pricing.bp import BPConfig
from models.pricing.ising import InferenceConfig, IsingModel
from models.pricing.learning import LearnerConfig, OnlineLearner, sgd_step
from models.pricing.replay import DEFAULT_FIT
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
    """Every figure of ``parlay bench pricing``: the accuracy table (cases a–d, old vs new, pgmpy beside),
    the 10-leg quote latency on a fitted 135-market game cluster (with independence and the scipy copula),
    one paper-scale fit over a simulated day, BP latency on a random unconstrained 135-variable
    cluster (the approximate path that remains for models beyond every exact budget), and the fee-correction
    ablation (:func:`fee_correction_ablation`)."""
    fit = fit_benchmark()
    return {
        "accuracy": accuracy_cases(queries=20 if quick else 60, pgmpy_queries=5 if quick else 10),
        "quote_latency_paper_cluster": quote_benchmark(quotes=60 if quick else 300),
        "fit_paper_cluster": fit,
        "bp_latency_unconstrained_135": speed_benchmark(quotes=60 if quick else 300),
        "fee_correction_ablation": fee_correction_ablation(trades=600 if quick else 1500),
    }


# ----------------------------------------------------------------------------- issue-8 accuracy cases
# Truths here are independent of the engine: the pre-existing chunked enumerator on clamped models,
# itertools brute force per block, transfer matrices along a ladder, and enumeration per hub state.
def _truth_enumeration(h: np.ndarray, J: np.ndarray, legs: dict[int, bool], log_z: float) -> float:
    """P(legs) of an unconstrained model by chunked enumeration of the clamped model (models.pricing.exact)."""
    from models.pricing import exact

    idx = np.array(sorted(legs), dtype=np.intp)
    vals = np.array([float(legs[i]) for i in idx])
    free = np.setdiff1d(np.arange(h.size), idx)
    h_red = h[free] + J[np.ix_(free, idx)] @ vals
    const = float(h[idx] @ vals + 0.5 * vals @ J[np.ix_(idx, idx)] @ vals)
    return float(np.exp(const + exact.summarize(h_red, J[np.ix_(free, free)], moments=False).log_z - log_z))


def _block_truth(h: np.ndarray, J: np.ndarray, blocks: list[np.ndarray], legs: dict[int, bool]) -> float:
    """Disjoint blocks: the product over blocks of itertools brute force."""
    import itertools

    p = 1.0
    for b in blocks:
        inside = {i: v for i, v in legs.items() if i in set(b.tolist())}
        if not inside:
            continue
        z = hit = 0.0
        for bits in itertools.product((0.0, 1.0), repeat=b.size):
            x = np.array(bits)
            w = float(np.exp(h[b] @ x + 0.5 * x @ J[np.ix_(b, b)] @ x))
            z += w
            if all(x[list(b).index(i)] == float(v) for i, v in inside.items()):
                hit += w
        p *= hit / z
    return p


def _ladder_truth(h: np.ndarray, J: np.ndarray, length: int, legs: dict[int, bool]) -> float:
    """A 2 × L ladder (variables 2r, 2r + 1 form rung r): transfer matrices over the 4 states of a rung."""
    states = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float64)

    def rung_weights(r: int, clamp: bool) -> np.ndarray:
        a, b = 2 * r, 2 * r + 1
        e = states @ h[[a, b]] + J[a, b] * states[:, 0] * states[:, 1]
        w = np.exp(e)
        if clamp:
            for i, v in legs.items():
                if i in (a, b):
                    w = w * (states[:, i - a] == float(v))
        return w

    def transfer(r: int) -> np.ndarray:  # couplings between rung r and r + 1 (rails only)
        a0, b0, a1, b1 = 2 * r, 2 * r + 1, 2 * r + 2, 2 * r + 3
        e = (J[a0, a1] * np.outer(states[:, 0], states[:, 0]) + J[b0, b1] * np.outer(states[:, 1], states[:, 1]))
        return np.exp(e)

    def z(clamp: bool) -> float:
        v = rung_weights(0, clamp)
        log = 0.0
        for r in range(1, length):
            v = (v @ transfer(r - 1)) * rung_weights(r, clamp)
            s = v.sum()
            log += np.log(s) if s > 0 else -np.inf
            v = v / s if s > 0 else v
        return log + float(np.log(v.sum())) if v.sum() > 0 else -np.inf

    return float(np.exp(z(True) - z(False)))


def _hub_truth(model: IsingModel, hubs: tuple[int, int], event: Any) -> float:
    """A structured model whose non-hub nodes are few: enumeration of every feasible state, one hub
    state pair at a time (vectorised rows of the other nodes), energies from h and J directly."""
    import itertools

    st = model.nodes
    others = [q for q in range(st.n_nodes) if q not in hubs]
    rows = np.array(list(itertools.product(*[range(int(st.sizes[q])) for q in others])), dtype=np.intp)
    z = hit = 0.0
    masks = event.masks
    other_ok = np.ones(rows.shape[0], dtype=bool)
    for t, q in enumerate(others):
        if q in masks:
            other_ok &= masks[q][rows[:, t]]
    energies = []
    for sa in range(int(st.sizes[hubs[0]])):
        for sb in range(int(st.sizes[hubs[1]])):
            states = np.zeros((rows.shape[0], st.n_nodes), dtype=np.intp)
            states[:, others] = rows
            states[:, hubs[0]], states[:, hubs[1]] = sa, sb
            y = st.y_of_states(states).astype(np.float64)
            e = y @ model.h + 0.5 * np.einsum("si,si->s", y @ model.J, y)
            ok = other_ok & bool(masks[hubs[0]][sa] if hubs[0] in masks else True) \
                & bool(masks[hubs[1]][sb] if hubs[1] in masks else True)
            energies.append((e, ok))
    top = max(float(e.max()) for e, _ in energies)
    for e, ok in energies:
        w = np.exp(e - top)
        z += float(w.sum())
        hit += float(w[ok].sum())
    return hit / z


def _errors(values: list[float], truths: list[float]) -> dict[str, float]:
    err = np.abs(np.array(values) - np.array(truths)) if values else np.array([np.nan])
    return {"mean_abs_error": float(np.mean(err)), "max_abs_error": float(np.max(err)), "queries": len(values)}


def _compare(model: IsingModel, queries: list[dict[int, bool]], truths: list[float], new_method: str,
             old: IsingModel | None) -> dict[str, Any]:
    new_vals = [float(model.joint_probability(q, new_method)) for q in queries]  # type: ignore[arg-type]
    out: dict[str, Any] = {"new": _errors(new_vals, truths),
                           "new_engine": model.joint_probability(queries[0], new_method).diagnostics.engine}  # type: ignore[arg-type]
    if old is not None:
        vals, ts, failures = [], [], 0
        for q, t in zip(queries, truths, strict=True):
            try:
                vals.append(float(old.joint_probability(q, "bp")))
                ts.append(t)
            except NotConvergedError:
                failures += 1
        out["old_bp"] = {**_errors(vals, ts), "not_converged": failures}
    return out


def _legs(rng: np.random.Generator, n: int, low: int = 1, high: int = 10) -> dict[int, bool]:
    k = int(rng.integers(low, high + 1))
    return {int(i): bool(rng.random() < 0.5) for i in rng.choice(n, size=min(k, n), replace=False)}


def accuracy_cases(queries: int = 60, seed: int = 0, pgmpy_queries: int = 10) -> dict[str, Any]:
    """Issue 8's accuracy table: joints of 1–10 random legs, old (cutset BP, the former default beyond
    n = 20) and new (the exact engine) against independent truths, for (a) n = 24 dense mixed-sign couplings
    at scale 1.0, (b) 27 disjoint 5-variable blocks with J ~ N(0, 1), (c) a 2 × 67 ladder with couplings
    U(−1, 1), (d) a reduced paper-scale game cluster (its two hub nodes and six others, fitted on a
    simulated day). pgmpy's junction tree is reported beside (b) and (d) when installed (extra ``bench``)."""
    rng = np.random.default_rng(seed)
    cases: dict[str, Any] = {}
    # (a)
    model_a = random_cluster(24, 23.0, 1.0, "mixed", rng, InferenceConfig(exact_max_n=24))
    from models.pricing import exact as _exact

    log_z = _exact.summarize(model_a.h, model_a.J, moments=False).log_z
    qa = [_legs(rng, 24) for _ in range(max(10, queries // 3))]
    ta = [_truth_enumeration(model_a.h, model_a.J, q, log_z) for q in qa]
    cases["a_dense_n24"] = _compare(model_a, qa, ta, "auto", IsingModel(model_a.h, model_a.J))
    # (b)
    n = 135
    J = np.zeros((n, n))
    blocks = [np.arange(5 * b, 5 * b + 5) for b in range(27)]
    for b in blocks:
        w = np.triu(rng.normal(0.0, 1.0, (5, 5)), 1)
        J[np.ix_(b, b)] = w + w.T
    h = rng.normal(0.0, 1.0, n) - J.sum(axis=1) / 2.0
    model_b = IsingModel(h, J)
    qb = [_legs(rng, n) for _ in range(queries)]
    tb = [_block_truth(h, J, blocks, q) for q in qb]
    cases["b_blocks_27x5"] = _compare(model_b, qb, tb, "auto", model_b)
    # (c)
    length = 67
    n = 2 * length
    J = np.zeros((n, n))
    for r in range(length):
        a, b = 2 * r, 2 * r + 1
        J[a, b] = J[b, a] = rng.uniform(-1.0, 1.0)
        if r + 1 < length:
            for x, y in ((a, a + 2), (b, b + 2)):
                J[x, y] = J[y, x] = rng.uniform(-1.0, 1.0)
    h = rng.normal(0.0, 1.0, n) - J.sum(axis=1) / 2.0
    model_c = IsingModel(h, J)
    qc = [_legs(rng, n) for _ in range(queries)]
    tc = [_ladder_truth(h, J, length, q) for q in qc]
    cases["c_ladder_2x67"] = _compare(model_c, qc, tc, "auto", model_c)
    # (d)
    model_d, hubs = _reduced_paper_model(seed)
    st = model_d.nodes
    qd = [_legs(rng, model_d.n) for _ in range(queries)]
    td = [_hub_truth(model_d, hubs, st.event(q)) for q in qd]
    free = IsingModel(model_d.h, model_d.J)  # the same parameters as free binaries: what the old path priced
    cases["d_paper_cluster_reduced"] = {
        **_compare(model_d, qd, td, "auto", free), "nodes": st.n_nodes, "variables": model_d.n,
        "feasible_states": float(np.prod(st.sizes.astype(np.float64))),
        "impossible_queries": int(sum(t == 0.0 for t in td)),
        "new_nonzero_on_impossible": int(sum(float(model_d.joint_probability(q)) != 0.0
                                             for q, t in zip(qd, td, strict=True) if t == 0.0)),
    }
    # pgmpy on the ladder (c) needs minutes per 10-leg query (its variable elimination across the chain): left out
    ref = _pgmpy_reference({"b": (model_b, qb[:pgmpy_queries]), "d": (model_d, qd[:pgmpy_queries])})
    if ref is not None:
        cases["pgmpy_junction_tree_vs_new"] = ref
    return {"legs": [1, 10], "cases": cases}


def _reduced_paper_model(seed: int) -> tuple[IsingModel, tuple[int, int]]:
    """A fitted paper-scale cluster restricted to its two largest nodes and the six nodes most coupled to
    others (their fields and the couplings among them): small enough for enumeration per hub state."""
    fit = paper_fit(seed)
    model = fit.model
    st = model.nodes
    hubs = tuple(int(q) for q in np.argsort(-st.sizes, kind="stable")[:2])
    coupled = st.coupled_nodes(model.J).sum(axis=1)
    rest = [int(q) for q in np.argsort(-coupled, kind="stable") if int(q) not in hubs][:6]
    keep = sorted([*hubs, *rest])
    variables = [i for q in keep for i in st.nodes[q]]
    local = {i: t for t, i in enumerate(variables)}
    nodes = tuple(tuple(local[i] for i in st.nodes[q]) for q in keep)
    from models.pricing.structure import Structure

    reduced = IsingModel(model.h[variables], model.J[np.ix_(variables, variables)], InferenceConfig(),
                         Structure(len(variables), nodes))
    return reduced, (keep.index(hubs[0]), keep.index(hubs[1]))


def _pgmpy_reference(models: dict[str, tuple[IsingModel, list[dict[int, bool]]]]) -> dict[str, Any] | None:
    """max |new − pgmpy junction tree| per case, on the node model (cardinality K + 1 per node, pairwise
    factors exp(E_qr)); None when pgmpy is not installed (optional ``bench`` extra)."""
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgmpy.factors.discrete import DiscreteFactor
            from pgmpy.inference import BeliefPropagation
            from pgmpy.models import DiscreteMarkovNetwork
    except ImportError:
        return None
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    out: dict[str, Any] = {}
    for name, (model, queries) in models.items():
        st = model.nodes
        u, E = st.state_energies(model.h, model.J)
        adj = np.triu(st.coupled_nodes(model.J), 1)
        _, label = connected_components(csr_matrix(adj | adj.T), directed=False)
        t0 = time.perf_counter()
        engines: dict[int, Any] = {}
        for comp in np.unique(label):
            members = [int(q) for q in np.flatnonzero(label == comp)]
            if len(members) == 1:
                continue
            net = DiscreteMarkovNetwork()
            net.add_nodes_from([f"q{q}" for q in members])
            edges = [(int(a), int(b)) for a, b in zip(*np.nonzero(adj), strict=True) if label[a] == comp]
            net.add_edges_from([(f"q{a}", f"q{b}") for a, b in edges])
            factors = []
            for q in members:
                uq = u[st.node_slice(q)]
                factors.append(DiscreteFactor([f"q{q}"], [int(st.sizes[q])], np.exp(uq - uq.max())))
            for a, b in edges:
                block = E[st.node_slice(a), st.node_slice(b)]
                factors.append(DiscreteFactor([f"q{a}", f"q{b}"], list(block.shape), np.exp(block - block.max())))
            net.add_factors(*factors)
            bp = BeliefPropagation(net)
            bp.calibrate()
            engines[int(comp)] = bp
        diffs = []
        for legs in queries:
            ev = st.event(legs)
            if ev.empty:
                continue
            p_ref = 1.0
            for comp in sorted({int(label[q]) for q in ev.masks}):
                nodes = [q for q in sorted(ev.masks) if label[q] == comp]
                if comp not in engines:
                    (q,) = nodes
                    w = np.exp(u[st.node_slice(q)] - u[st.node_slice(q)].max())
                    p_ref *= float(w[ev.masks[q]].sum() / w.sum())
                    continue
                joint = engines[comp].query([f"q{q}" for q in nodes], joint=True, show_progress=False)
                order = [int(v[1:]) for v in joint.variables]
                table = joint.values
                p_ref *= float(table[np.ix_(*[ev.masks[q] for q in order])].sum() / table.sum())
            diffs.append(abs(p_ref - float(model.joint_probability(legs))))
        out[name] = {"max_abs_diff": float(max(diffs)) if diffs else float("nan"), "queries": len(diffs),
                     "seconds": time.perf_counter() - t0}
    return out


# ----------------------------------------------------------------------------- paper-scale fit and quotes
_PAPER_FITS: dict[int, Any] = {}


def paper_fit(seed: int = 0, markets: int = 135) -> Any:
    """The fit of one paper-scale cluster over its simulated day (cached per seed)."""
    from models.pricing.paper import paper_cluster
    from models.pricing.replay import fit_cluster

    key = seed * 1000 + markets
    if key not in _PAPER_FITS:
        pc = paper_cluster(seed, markets)
        fit = fit_cluster(pc.cluster_id, pc.variables, pc.mids, pc.targets, DEFAULT_FIT,
                          conjunctions=pc.conjunctions)
        _PAPER_FITS[key] = (pc, fit)
    return _PAPER_FITS[key][1]


def fit_benchmark(seed: int = 0, markets: int = 135) -> dict[str, Any]:
    """One fit of a paper-scale cluster over its simulated day (the production settings): wall and CPU
    time, peak memory of the process, what the fit did, and prequential errors (price before each update
    vs its target) beside the same replay without coupling learning (η_J = 0)."""
    import resource
    from dataclasses import replace

    from models.pricing.paper import paper_cluster
    from models.pricing.replay import fit_cluster

    pc = paper_cluster(seed, markets)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    w0, c0 = time.perf_counter(), time.process_time()
    fit = fit_cluster(pc.cluster_id, pc.variables, pc.mids, pc.targets, DEFAULT_FIT, conjunctions=pc.conjunctions)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _PAPER_FITS[seed * 1000 + markets] = (pc, fit)
    no_j = fit_cluster(pc.cluster_id, pc.variables, pc.mids, pc.targets, replace(DEFAULT_FIT, eta_J=0.0),
                       conjunctions=pc.conjunctions)

    def prequential(result: Any) -> dict[str, float]:
        tr = result.trajectory
        return {k: float((tr[tr.kind == k].price_before - tr[tr.kind == k].target).abs().mean())
                for k in ("base", "conjunction", "parlay") if (tr.kind == k).any()}

    m = fit.metrics
    return {
        "markets": pc.n_markets, "variables": m.n_variables, "nodes": m.n_nodes,
        "feasible_states_log10": float(pc.literals.structure(pc.cluster_id).log_states() / np.log(10)),
        "base_updates": m.n_base_updates, "parlay_updates": m.n_parlay_updates, "couplings": m.n_couplings,
        "max_clique_states": m.max_clique_states, "refused_couplings": m.refused_couplings,
        "books": m.n_books, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": rss1,
        "peak_rss_growth_mb": rss1 - rss0, "prequential_mae": prequential(fit),
        "prequential_mae_without_couplings": prequential(no_j),
    }


def quote_benchmark(seed: int = 0, markets: int = 135, legs: int = 10, quotes: int = 300) -> dict[str, Any]:
    """Latency of a 10-leg parlay on the fitted paper-scale cluster: the Ising member (exact engine), the
    whole ensemble quote, and in the same run the independence member and the scipy copula of the same
    canonical events. Legs: one market on each of ``legs`` different axes, random sides."""
    from models.pricing.ensemble import ClusterModel, EnsemblePricer

    fit = paper_fit(seed, markets)
    pc = _PAPER_FITS[seed * 1000 + markets][0]
    st = fit.model.nodes
    rng = np.random.default_rng(seed)
    k = np.arange(fit.model.n)  # a smooth positive correlation for the copula member (its cost, not its fit)
    cm_corr = 0.3 * np.exp(-np.abs(k[:, None] - k[None, :]) / 8.0) + 0.7 * np.eye(fit.model.n)
    cm = ClusterModel(pc.cluster_id, fit.variables, fit.model, cm_corr)
    pricer = EnsemblePricer({pc.cluster_id: cm}, pc.literals)
    by_node: dict[int, list[str]] = {}
    for t, ml in pc.literals.markets.items():
        if ml.literals:
            by_node.setdefault(int(st.node_of[ml.literals[0][0]]), []).append(t)
    nodes = sorted(by_node)
    parlays = []
    while len(parlays) < quotes:
        chosen = rng.choice(len(nodes), size=min(legs, len(nodes)), replace=False)
        parlay = [(by_node[nodes[c]][int(rng.integers(len(by_node[nodes[c]])))], "yes" if rng.random() < 0.5
                   else "no") for c in chosen]
        terms, impossible = pricer.canonical(parlay)
        if impossible is None:
            parlays.append((parlay, terms))
    timings: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in
                                                            ("ising", "ensemble", "independence", "copula")}
    model = pricer.clusters[pc.cluster_id].model
    engine = model.engine()
    model.joint_probability({0: True})  # the unconditioned messages, as a loaded pricer has them

    def timed(name: str, fn: Any) -> None:
        engine._recent.clear()  # no answer cached from an earlier member
        w0, c0 = time.perf_counter(), time.thread_time()
        fn()
        timings[name][1].append(time.thread_time() - c0)
        timings[name][0].append(time.perf_counter() - w0)

    for k, (parlay, terms) in enumerate(parlays):
        ((_, ts),) = terms.items()
        ((_, event),) = ts
        timed("ising", lambda event=event: model.probability(event))
        timed("ensemble", lambda parlay=parlay: pricer.quote(parlay))
        timed("independence", lambda terms=terms: pricer._independence(terms))
        if k < max(1, quotes // 10):
            restricted = {q: m for q, m in event.masks.items() if not m.all()}
            assert cm.copula is not None
            timed("copula", lambda restricted=restricted: cm.copula.probability(cm.node_marginals, restricted))
    out: dict[str, Any] = {"markets": pc.n_markets, "legs": legs, "quotes": quotes,
                           "max_clique_states": engine.plan.max_clique_states,
                           "goal": "ising p50 <= 2 ms, p99 <= 10 ms",
                           "note": "the ensemble skips its copula member beyond copula_max_legs = 6 restricted nodes"}
    for name, (wall, cpu) in timings.items():
        out[name] = {"wall": _percentiles(wall), "cpu": _percentiles(cpu)}
    return out


# ----------------------------------------------------------------------------- fee-correction ablation
def fee_correction_ablation(seed: int = 0, trades: int = 1500, spread: float = 0.03, jitter: float = 0.01,
                            fee_rate: float = 0.07, minutes: int = 150, yes_share: float = 0.7) -> dict[str, Any]:
    """Combo trades executed at the ask with a known markup, learned with and without the fee correction.

    One cluster of four free markets under a known pairwise law; base books quote the true marginal ± 1¢.
    Every pair of markets is listed as YES∧YES, YES∧NO and NO∧YES; a trade picks a pair, then YES∧YES with
    probability ``yes_share`` (else one of the two others), and executes at
    ``p + fee_rate·p(1 − p) + spread + U(0, jitter)`` (``p`` the true joint probability), ``contracts`` 100.
    :func:`models.structural.combo_targets` turns the trades into all-YES targets; the replay fit learns once
    from ``target_net_of_markup`` (corrected: mids for the base terms, the combo markup estimated from the
    trades) and once from ``target_clipped`` (the observed asks, markup included). Reported: the mean signed
    and absolute error of the fitted all-YES pair probabilities against the true law, the estimated combo
    spread against the true mean, and how many rows each variant learned from.
    """
    import pandas as pd

    from models import structural as S
    from models.pricing.replay import cluster_targets, fit_cluster, literal_map

    rng = np.random.default_rng(seed)
    names = ["a", "b", "c", "d"]
    markets = [f"M{v.upper()}" for v in names]
    n = len(names)
    J = np.zeros((n, n))
    for (i, j), v in {(0, 1): 0.9, (1, 2): -0.7, (0, 2): 0.4, (2, 3): 0.6, (0, 3): -0.3}.items():
        J[i, j] = J[j, i] = v
    truth = IsingModel(np.array([-0.4, 0.2, -0.1, 0.3]), J, InferenceConfig())
    marg = np.asarray(truth.marginals("exact"), dtype=float)
    t0 = pd.Timestamp("2026-03-08 00:00", tz="UTC")
    idx = pd.date_range(t0, periods=minutes, freq="1min")
    mids = pd.DataFrame({v: np.full(minutes, marg[i]) for i, v in enumerate(names)}, index=idx)
    quotes = pd.DataFrame([(m, t0 - pd.Timedelta(minutes=1), marg[i] + 0.01, marg[i] - 0.01)
                           for i, m in enumerate(markets)], columns=["market_ticker", "ts", "yes_ask", "yes_bid"])
    combos, legs_rows = [], []
    for i, j in itertools.combinations(range(n), 2):
        for si, sj in ((True, True), (True, False), (False, True)):
            ticker = f"C{i}{j}{'Y' if si else 'N'}{'Y' if sj else 'N'}"
            combos.append((ticker, {i: si, j: sj}))
            legs_rows += [(ticker, 0, markets[i], "yes" if si else "no"),
                          (ticker, 1, markets[j], "yes" if sj else "no")]
    legs = pd.DataFrame(legs_rows, columns=["combo_ticker", "leg_index", "market_ticker", "side"])
    rows = []
    for k in range(trades):
        pair = int(rng.integers(len(combos) // 3))
        variant = 0 if rng.random() < yes_share else 1 + int(rng.integers(2))
        ticker, event = combos[3 * pair + variant]
        p = float(truth.joint_probability(event, "exact"))
        ask = p + fee_rate * p * (1 - p) + spread + jitter * float(rng.random())
        ts = t0 + pd.Timedelta(seconds=int(rng.integers(30 * 60, minutes * 60 - 60)))
        rows.append((f"t{k:05d}", ticker, ts, min(ask, 0.99), 100.0))
    trade_frame = pd.DataFrame(rows, columns=["trade_id", "combo_ticker", "ts", "yes_price", "contracts"])
    structure = pd.DataFrame({"combo_ticker": [c for c, _ in combos], "impossible": False,
                              "impossible_reason": None})
    variables = pd.DataFrame({"market_ticker": markets, "complement_ticker": [None] * n})
    fees = {m: ("quadratic", 1.0) for m in markets}
    targets = S.combo_targets(trade_frame, legs, structure, variables, quotes, fees, dict.fromkeys(
        [c for c, _ in combos], ("quadratic", 1.0)))
    lits = literal_map([{"market_ticker": m, "cluster_id": "G",
                         "literals": [{"variable_id": v, "variable_index": i, "negated": False}]}
                        for i, (m, v) in enumerate(zip(markets, names, strict=True))])
    pairs = list(itertools.combinations(range(n), 2))
    true_pairs = np.array([float(truth.joint_probability({i: True, j: True}, "exact")) for i, j in pairs])

    def learn(frame: pd.DataFrame) -> dict[str, float]:
        per = cluster_targets(frame, lits).get("G", pd.DataFrame(columns=["ts", "legs", "target"]))
        fit = fit_cluster("G", names, mids, per, DEFAULT_FIT)
        fitted = np.array([float(fit.model.joint_probability({i: True, j: True}, "exact")) for i, j in pairs])
        err = fitted - true_pairs
        return {"rows_learned": len(per), "mean_error": float(err.mean()), "mean_abs_error": float(np.abs(err).mean()),
                "max_abs_error": float(np.abs(err).max())}

    uncorrected = targets.assign(target_net_of_markup=targets["target_clipped"],
                                 use_for_learning=~targets["impossible"] & targets["target_in_range"])
    est = targets["markup_estimate"] - [S.fee_per_contract(p, 100.0, fee_rate) for p in targets["observed_ask"]]
    return {
        "trades": trades, "true_combo_spread": spread + jitter / 2, "estimated_combo_spread": float(est.mean()),
        "corrected": learn(targets), "uncorrected": learn(uncorrected),
        "true_pair_probabilities": [round(float(x), 4) for x in true_pairs],
    }
