"""Replay fitting of one game cluster's Ising model, and the market → variable-literal mapping it prices with.

**Literals.** The structural layer (``marts.binary_variables``) maps every market to a conjunction of
literals over its cluster's binary variables: ``literals`` is a list of
``{"variable_id", "variable_index", "negated", "threshold"}``; the market's YES event holds when every
literal holds (``negated`` literals need the variable at 0). Most markets are one literal; a bracket is
``y_lo ∧ ¬y_hi``. :class:`LiteralMap` holds that mapping per market and turns parlay legs
``(market_ticker, side)`` into per-cluster events:

* a YES leg adds its literals to the cluster's *required* conjunction;
* a NO leg on a one-literal market adds the flipped literal;
* a NO leg on a conjunction (a bracket) is a disjunction ¬(a ∧ b) and is kept apart as an *excluded*
  conjunction.

Under a cluster's Ising law the event R ∧ ¬E_1 ∧ … ∧ ¬E_m is priced by inclusion–exclusion,
P = Σ_{T ⊆ {1..m}} (−1)^{|T|} P(R ∪ E_T), each term a joint probability of clamped variables (a term whose
literals clamp one variable both ways is 0). Clusters are independent, so a parlay's price is the product
of its clusters' event probabilities.

**Impossible legs.** A parlay is logically impossible when, in some cluster, every term of the
disjunctive expansion (R plus one flipped literal of each excluded conjunction) either clamps a variable
both ways or breaks the nesting of an axis: the variables ``<axis>#j`` of one axis are cumulative
(``y_{j+1} ⇒ y_j``), so a term is consistent only if every variable it sets to 1 has a lower ``j`` than
every variable of the same axis it sets to 0. This is exactly the structural layer's cell test.

**Replay fit** (:func:`fit_cluster`, MISSION §2). Fields start at the median log-odds of each variable's
first ``init_mids`` mids, couplings at zero. Then events replay in time order through the
:class:`~models.pricing.learning.OnlineLearner`:

* base-market updates from the minute panel — a minute's mid is known at the end of the minute
  (``base_delay_seconds`` after its label); a variable (or a conjunction column such as a bracket) is
  observed again only when its mid moved by at least ``min_mid_change`` since its last observation.
  They train fields only (a conjunction column is stepped with η_J = 0);
* parlay targets (fee-corrected all-YES targets of combo trades): fields and the couplings among the
  legs. Setting ``"amm"``: the target is the signal (with ``books``, the contract's LMSR book moves to it);
  ``"standalone"``: base markets have no books and the parlay signal is order flow — the trader buys YES
  when the target is above our book's price, NO otherwise, ``contracts`` shares (column of the targets,
  else ``flow_shares``), and the learner's target is where that flow moves our book.

At equal times base updates go first. The trajectory keeps one row per event (price before and after,
target, cross-entropy before, whether inference failed and the event was skipped).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

from models.pricing.ising import InferenceConfig, IsingModel, Method
from models.pricing.learning import (
    Contract,
    LearnerConfig,
    OnlineLearner,
    UpdateResult,
    cross_entropy,
    initial_node_fields,
)
from models.pricing.lmsr import LMSRBook
from models.pricing.results import InferenceDiagnostics, NotConvergedError
from models.pricing.structure import NodeEvent, Structure

__all__ = [
    "FIT_METRICS_EXPLAINED",
    "ClusterEvent",
    "FitConfig",
    "FitMetrics",
    "FitResult",
    "LiteralMap",
    "MarketLiterals",
    "ParlayEvent",
    "cluster_targets",
    "conjunction_mids",
    "contract_label",
    "event_probability",
    "fit_cluster",
    "literal_map",
    "prequential_regression",
    "variable_mids",
]

YES, NO = "yes", "no"
Assignment = dict[int, bool]


# ----------------------------------------------------------------------------- the literal mapping
@dataclass(frozen=True)
class MarketLiterals:
    """A market's YES event: every ``(variable_index, value)`` literal holds (value False = negated)."""

    market_ticker: str
    cluster_id: str
    literals: tuple[tuple[int, bool], ...]
    variable_ids: tuple[str, ...]
    complement_ticker: str | None = None

    @property
    def defines_variable(self) -> bool:
        return len(self.literals) == 1


@dataclass(frozen=True)
class ClusterEvent:
    """``required`` ∧ ¬(excluded_1) ∧ … over one cluster's variables; ``conflict``: required clamps a
    variable both ways (the event is empty)."""

    cluster_id: str
    required: tuple[tuple[int, bool], ...]
    excluded: tuple[tuple[tuple[int, bool], ...], ...] = ()
    conflict: bool = False


@dataclass(frozen=True)
class ParlayEvent:
    """A parlay's legs as per-cluster events; ``impossible`` when some cluster's event is logically empty."""

    clusters: tuple[ClusterEvent, ...]
    impossible: bool
    reason: str | None = None


def _parse_literals(value: object) -> list[Mapping[str, object]]:
    if isinstance(value, str):
        value = json.loads(value)
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"literals must be a list of objects, got {type(value).__name__}")
    return [v for v in value if isinstance(v, Mapping)]


@dataclass(frozen=True, eq=False)
class LiteralMap:
    """Markets → literals, and each cluster's variables in index order (see the module docstring)."""

    markets: Mapping[str, MarketLiterals]
    variables: Mapping[str, tuple[str, ...]]
    _structures: dict[str, Structure] = field(init=False, repr=False, default_factory=dict)

    def structure(self, cluster: str) -> Structure:
        """The cluster's nodes: one per axis of the structural layer (variables ``<axis>#j``)."""
        cache = self._structures
        st = cache.get(cluster)
        if st is None:
            st = cache[cluster] = Structure.from_variable_ids(self.variables[cluster])
        return st

    def masks(self, ev: ClusterEvent) -> list[tuple[int, NodeEvent]]:
        """The event as signed node-mask terms (see :func:`event_terms`)."""
        return event_terms(self.structure(ev.cluster_id), ev)

    def clusters(self) -> tuple[str, ...]:
        return tuple(sorted(self.variables))

    def cluster_of(self, market: str) -> str:
        return self.markets[market].cluster_id

    def consistent(self, cluster: str, assignment: Mapping[int, bool]) -> bool:
        """Whether an assignment of some variables respects the nesting of every axis."""
        return not self.structure(cluster).event(assignment.items()).empty

    def event(self, legs: Sequence[tuple[str, str]]) -> ParlayEvent:
        """Per-cluster events of ``legs``; raises KeyError for a market without literals."""
        required: dict[str, Assignment] = {}
        excluded: dict[str, list[tuple[tuple[int, bool], ...]]] = {}
        conflict: set[str] = set()
        order: list[str] = []
        for market, side in legs:
            if side not in (YES, NO):
                raise ValueError(f"side must be 'yes' or 'no', got {side!r}")
            info = self.markets[market]
            c = info.cluster_id
            if c not in required:
                required[c], excluded[c] = {}, []
                order.append(c)
            if side == YES or info.defines_variable:
                flip = side == NO
                for i, v in info.literals:
                    value = (not v) if flip else v
                    if required[c].get(i, value) != value:
                        conflict.add(c)
                    required[c][i] = value
            elif info.literals:
                excluded[c].append(info.literals)
            else:
                conflict.add(c)  # NO on an always-true market
        events = []
        impossible_reason = None
        for c in order:
            ev = ClusterEvent(
                c,
                tuple(sorted(required[c].items())),
                tuple(sorted(set(excluded[c]))),
                c in conflict,
            )
            events.append(ev)
            if impossible_reason is None and not self._possible(ev):
                impossible_reason = f"legs contradict on cluster {c}"
        return ParlayEvent(tuple(events), impossible_reason is not None, impossible_reason)

    def _possible(self, ev: ClusterEvent) -> bool:
        if ev.conflict:
            return False
        st = self.structure(ev.cluster_id)
        base, spread = _split_event(st, ev)
        if base.empty:
            return False
        for pick in itertools.product(*[[st.literal_mask(i, not v) for i, v in conj] for conj in spread]):
            term = base
            for q, m in pick:
                term = term.restrict(q, m)
            if not term.empty:
                return True
        return False

    def market_literals_of(self, market: str) -> dict[int, bool]:
        return dict(self.markets[market].literals)


def literal_map(rows: pd.DataFrame | Iterable[Mapping[str, object]]) -> LiteralMap:
    """A :class:`LiteralMap` from ``marts.binary_variables`` rows (a DataFrame or records with
    market_ticker, cluster_id, literals, optionally complement_ticker). ``literals`` may be the jsonb
    list or its JSON text. Every cluster's variable indices must run 0 … n − 1 without gaps."""
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
    markets: dict[str, MarketLiterals] = {}
    names: dict[str, dict[int, str]] = {}
    for r in records:
        ticker, cluster = str(r["market_ticker"]), str(r["cluster_id"])
        lits = _parse_literals(r.get("literals"))
        pairs = tuple((int(lit["variable_index"]), not bool(lit.get("negated", False))) for lit in lits)  # type: ignore[call-overload]
        ids = tuple(str(lit["variable_id"]) for lit in lits)
        for (i, _), vid in zip(pairs, ids, strict=True):
            known = names.setdefault(cluster, {}).get(i)
            if known is not None and known != vid:
                raise ValueError(f"cluster {cluster}: variable index {i} is both {known} and {vid}")
            names[cluster][i] = vid
        comp = r.get("complement_ticker")
        markets[ticker] = MarketLiterals(
            ticker, cluster, pairs, ids, comp if isinstance(comp, str) and comp else None
        )
    variables: dict[str, tuple[str, ...]] = {}
    for cluster, by_index in names.items():
        n = max(by_index) + 1
        missing = [i for i in range(n) if i not in by_index]
        if missing:
            raise ValueError(f"cluster {cluster}: variable indices {missing} name no literal")
        variables[cluster] = tuple(by_index[i] for i in range(n))
    return LiteralMap(markets, variables)


# ----------------------------------------------------------------------------- pricing an event
def _split_event(st: Structure, ev: ClusterEvent) -> tuple[NodeEvent, list[tuple[tuple[int, bool], ...]]]:
    """(node masks of the required literals with every excluded conjunction on one node folded in, the
    excluded conjunctions that span several nodes)."""
    base = st.event(ev.required)
    spread = []
    for conj in ev.excluded:
        one = st.conjunction_mask(conj)
        if one is None:
            spread.append(conj)
        else:
            q, m = one
            base = base.restrict(q, ~m)
    return base, spread


def event_terms(st: Structure, ev: ClusterEvent) -> list[tuple[int, NodeEvent]]:
    """``event`` as Σ sign · P(node masks). A NO leg on a market of one axis (a bracket) is the complement
    of its cells, one mask: every structural-layer event is a single term. Excluded conjunctions that span
    several nodes (not produced by the structural layer) are expanded by inclusion–exclusion."""
    if ev.conflict:
        return []
    base, spread = _split_event(st, ev)
    terms = []
    for r in range(len(spread) + 1):
        for subset in itertools.combinations(spread, r):
            term = base
            for conj in subset:
                term = term.and_(st.event(conj))
            if not term.empty:
                terms.append(((-1) ** r, term))
    return terms


def event_probability(model: IsingModel, event: ClusterEvent, method: Method = "auto") -> float:
    """P(event) under the cluster's law: its node masks (exactly 0 when a node has no allowed state).
    Raises :class:`NotConvergedError` when inference fails."""
    st = model.nodes
    total = 0.0
    for sign, term in event_terms(st, event):
        total += sign * float(model.probability(term, method))
    return float(min(max(total, 0.0), 1.0))


# ----------------------------------------------------------------------------- panel and targets
def variable_mids(panel: pd.DataFrame, literals: LiteralMap, cluster: str) -> pd.DataFrame:
    """Minute × variable YES mids of one cluster from a market panel (minute, market_ticker, mid).

    A one-literal market gives its variable's mid directly (``1 − mid`` when negated); several markets
    on one variable (the two moneylines of a game) are averaged. Columns are the cluster's variable ids
    in index order (all-NaN where no market defines the variable); rows sorted by minute."""
    names = literals.variables[cluster]
    cols: dict[str, list[pd.Series]] = {}
    if not panel.empty:
        wide = panel.pivot_table(index="minute", columns="market_ticker", values="mid", aggfunc="last")
        for ticker in wide.columns:
            info = literals.markets.get(str(ticker))
            if info is None or info.cluster_id != cluster or not info.defines_variable:
                continue
            (i, v), = info.literals
            series = wide[ticker].astype(float)
            cols.setdefault(names[i], []).append(series if v else 1.0 - series)
        index = wide.index
    else:
        index = pd.Index([], name="minute")
    data = {name: (pd.concat(cols[name], axis=1).mean(axis=1) if name in cols else pd.Series(np.nan, index=index))
            for name in names}
    return pd.DataFrame(data, index=index).sort_index()


def conjunction_mids(
    panel: pd.DataFrame, literals: LiteralMap, cluster: str
) -> tuple[pd.DataFrame, dict[str, tuple[tuple[str, bool], ...]]]:
    """Minute × market mids of the cluster's multi-literal markets (brackets), and their literals as
    ``(variable_id, value)`` pairs — the ``conjunctions`` argument of :func:`fit_cluster`."""
    names = literals.variables[cluster]
    conj = {
        t: tuple((names[i], v) for i, v in info.literals)
        for t, info in literals.markets.items()
        if info.cluster_id == cluster and len(info.literals) >= 2
    }
    if panel.empty or not conj:
        return pd.DataFrame(), {}
    sub = panel[panel["market_ticker"].isin(list(conj))]
    if sub.empty:
        return pd.DataFrame(), {}
    wide = sub.pivot_table(index="minute", columns="market_ticker", values="mid", aggfunc="last").astype(float)
    wide.columns = [str(c) for c in wide.columns]
    return wide.sort_index(), {c: conj[c] for c in wide.columns}


def _asof_mids(panel: pd.DataFrame) -> pd.DataFrame:
    wide = panel.pivot_table(index="minute", columns="market_ticker", values="mid", aggfunc="last")
    return wide.sort_index().ffill()


def _learning_target(row: Mapping[str, object]) -> float | None:
    """The number a fit learns from: ``target_net_of_markup`` (the all-YES target net of the estimated markup);
    rows without that column fall back to ``target`` (tables built before it existed are not fee-corrected)."""
    q = row["target_net_of_markup"] if "target_net_of_markup" in row else row.get("target")
    if q is None:
        return None
    q = float(q)  # type: ignore[arg-type]
    return q if math.isfinite(q) else None


def cluster_targets(
    combo_targets: pd.DataFrame,
    literals: LiteralMap,
    panel: pd.DataFrame | None = None,
    *,
    cross_cluster: Literal["skip", "divide"] = "divide",
    min_other_probability: float = 0.05,
    min_cluster_legs: int = 2,
) -> dict[str, pd.DataFrame]:
    """Per cluster, the learning targets of its combo trades (``marts.combo_targets`` rows: ts,
    target_legs, target_net_of_markup, use_for_learning; trade_id and contracts kept when present). The target
    learned is ``target_net_of_markup``, never the fee-inflated ``target_clipped``; rows with
    ``use_for_learning`` false (independence-filled, impossible, …: ``learning_excluded_reason``) are dropped.

    ``target_legs`` are canonical all-YES markets; their literals are joined per cluster. A target on
    one cluster is used as is. A cross-cluster target q = Π_c P(A_c) (clusters independent) gives cluster
    c the target q / Π_{c' ≠ c} P(A_c'), with P(A_c') from the latest panel mids at or before the trade
    (conjunctions on another cluster as the product of their markets' mids), when ``cross_cluster`` is
    ``"divide"`` and that product is at least ``min_other_probability``, and the combo has at least
    ``min_cluster_legs`` legs on cluster c; otherwise it is skipped for c. A single leg on c teaches no
    coupling, its market's own book already prices it, and the division carries the other legs' later moves
    into its target (on real moneyline days, cross-game flow made the fits worse than the prior). Rows
    whose legs contradict are skipped. Output columns: ts, legs (tuple of (variable_id, value)), target,
    trade_id, contracts, n_clusters.
    """
    out: dict[str, list[dict[str, object]]] = {}
    rows = combo_targets
    if "use_for_learning" in rows.columns:
        rows = rows[rows["use_for_learning"].map(lambda v: bool(v) if v is not None else False)]
    mids = _asof_mids(panel) if panel is not None and not panel.empty and cross_cluster == "divide" else None
    for r in rows.to_dict("records"):
        q = _learning_target(r)
        if q is None:
            continue
        legs = [(str(m), YES) for m in (r["target_legs"] or [])]
        if not legs or any(m not in literals.markets for m, _ in legs):
            continue
        event = literals.event(legs)
        if event.impossible:
            continue
        ts = pd.Timestamp(r["ts"])
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
        by_cluster = {e.cluster_id: e for e in event.clusters}
        markets_of: dict[str, list[str]] = {}
        for m, _ in legs:
            markets_of.setdefault(literals.cluster_of(m), []).append(m)
        for c, ev in by_cluster.items():
            target = float(q)
            if len(by_cluster) > 1:
                if mids is None or len(markets_of.get(c, ())) < min_cluster_legs:
                    continue
                others = [m for c2, ms in markets_of.items() if c2 != c for m in ms]
                prior = mids[mids.index <= ts - pd.Timedelta(minutes=1)]
                if prior.empty or any(m not in prior.columns for m in others):
                    continue
                last = prior.iloc[-1]
                p_other = float(np.prod([float(last[m]) for m in others]))
                if not np.isfinite(p_other) or p_other < min_other_probability:
                    continue
                target = min(target / p_other, 1.0)
            names = literals.variables[c]
            out.setdefault(c, []).append({
                "ts": ts,
                "legs": tuple((names[i], v) for i, v in ev.required),
                "target": target,
                "trade_id": r.get("trade_id"),
                "contracts": r.get("contracts"),
                "n_clusters": len(by_cluster),
            })
    cols = ["ts", "legs", "target", "trade_id", "contracts", "n_clusters"]
    return {c: pd.DataFrame(v, columns=cols).sort_values("ts", kind="stable").reset_index(drop=True)
            for c, v in out.items()}


# ----------------------------------------------------------------------------- fitting
def default_fit_inference() -> InferenceConfig:
    """The inference of the fits: the same as the quotes' (:class:`InferenceConfig` defaults)."""
    return InferenceConfig()


# Largest junction-tree clique the coupling growth of a fit may create (joint node states): a game's margin
# and total nodes with one more node fit; bigger cliques would make every update and quote slower.
FIT_MAX_CLIQUE_STATES = 1 << 14


@dataclass(frozen=True)
class FitConfig:
    """Replay settings (see the module docstring). Learner settings are passed through to
    :class:`~models.pricing.learning.LearnerConfig`."""

    setting: Literal["amm", "standalone"] = "amm"
    eta_h: float = 0.1
    eta_J: float = 0.1
    init_mids: int = 30
    init_eps: float = 1e-3
    min_mid_change: float = 0.005
    base_delay_seconds: float = 60.0
    books: bool = True  # AMM: an LMSR book per observed contract, moved lazily (exactly equivalent P&L)
    flow_shares: float = 10.0  # standalone: shares per parlay trade when the targets carry no 'contracts'
    lmsr_b: float = 100.0
    l2_J: float = 0.0
    max_abs_J: float | None = 10.0
    parlay_couplings: Literal["legs", "all"] = "legs"
    fields: Literal["all", "legs", "nodes"] = "all"
    base_fields: Literal["all", "legs", "nodes"] | None = "nodes"
    max_clique_states: float | None = FIT_MAX_CLIQUE_STATES
    hub_nodes: int = 2
    target_eps: float = 1e-4
    method: Method = "auto"
    inference: InferenceConfig = field(default_factory=default_fit_inference)

    def __post_init__(self) -> None:
        if self.setting not in ("amm", "standalone"):
            raise ValueError(f"setting must be 'amm' or 'standalone', got {self.setting!r}")
        if self.init_mids < 1:
            raise ValueError("init_mids must be ≥ 1")
        if self.min_mid_change < 0 or self.base_delay_seconds < 0 or self.flow_shares <= 0:
            raise ValueError("min_mid_change and base_delay_seconds must be ≥ 0, flow_shares > 0")
        if self.max_clique_states is not None and self.max_clique_states > self.inference.clique_max_states:
            raise ValueError("max_clique_states of the fit exceeds the inference budget clique_max_states: fitted "
                             "models would not be exact by junction tree")
        self.learner_config()  # validates the learner settings

    def learner_config(self) -> LearnerConfig:
        return LearnerConfig(
            eta_h=self.eta_h, eta_J=self.eta_J, parlay_couplings=self.parlay_couplings, fields=self.fields,
            base_fields=self.base_fields, max_clique_states=self.max_clique_states, hub_nodes=self.hub_nodes,
            lazy_books=True, l2_J=self.l2_J, max_abs_J=self.max_abs_J, target_eps=self.target_eps,
            method=self.method, lmsr_b=self.lmsr_b, setting=self.setting, on_not_converged="skip",
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-ready hyper-parameters."""
        out = asdict(self)
        out["inference"] = {
            "exact_max_n": self.inference.exact_max_n,
            "exact_limit_n": self.inference.exact_limit_n,
            "table_max_n": self.inference.table_max_n,
            "clique_max_states": self.inference.clique_max_states,
            "bp": asdict(self.inference.bp),
        }
        return out


# The production fit (the pricing assets, the benchmarks). Measured prequentially (price before each update vs
# its target) on the 2026-03-07 captures and a simulated day, η_h = 2 / η_J = 0.3 tracks the markets far better
# than η_h = η_J = 0.1 (base-market MAE 0.040 → 0.026, 0.120 → 0.046, 0.050 → 0.034 on the three real games;
# 0.108 → 0.039 base and 0.095 → 0.075 parlay MAE on a simulated game; free-binary model).
DEFAULT_FIT = FitConfig(eta_h=2.0, eta_J=0.3)


# What the start and end values of a fit mean (shown with every fit's metadata).
FIT_METRICS_EXPLAINED = (
    "Prequential scores over the day's parlay targets, each target scored once before it is learned from. "
    "initial_ce / initial_mae: the prior model (fields from the opening mids, no couplings, before any update) "
    "on every target; final_ce / final_mae / logit_rmse: for each target, the model as it stood just before "
    "that target (after every earlier event), averaged. No target is scored by a model that has already seen "
    "it, so final below initial means the replay learned something that holds on data it had not seen yet. "
    "Both are averaged over the same targets (those whose price before the update is known). CE is the "
    "cross-entropy CE(q, p) ≥ H(q): it includes the targets' own entropy, so only differences matter."
)


def prequential_regression(metrics: Mapping[str, object]) -> str | None:
    """Why a fit made its predictions worse, or None: the prequential CE (``final_ce``, each target scored by
    the model just before it) above the prior model's (``initial_ce``). Missing values (no targets) are no
    regression."""
    ice, fce = metrics.get("initial_ce"), metrics.get("final_ce")
    if not isinstance(ice, (int, float)) or not isinstance(fce, (int, float)):
        return None
    if not (math.isfinite(ice) and math.isfinite(fce)) or fce <= ice:
        return None
    return (f"prequential cross-entropy {fce:.4f} is worse than the prior model's {ice:.4f}: the updates made "
            "the model predict the next targets worse than not learning at all")


@dataclass(frozen=True)
class FitMetrics:
    """Summary of a replay (see :data:`FIT_METRICS_EXPLAINED`). CE and |price − target| are over the parlay
    targets, prequential: ``initial_*`` under the prior model before any update, ``final_*`` (and
    ``logit_rmse``) under the model as it stood just before each target."""

    n_variables: int
    n_couplings: int
    n_base_updates: int
    n_parlay_updates: int
    n_skipped: int
    n_targets: int
    initial_ce: float | None
    final_ce: float | None
    initial_mae: float | None
    final_mae: float | None
    logit_rmse: float | None
    shadow_cost: float
    uninitialized_variables: int
    n_nodes: int = 0
    max_clique_states: float = 0.0  # largest junction-tree clique of the final model (joint states)
    refused_couplings: int = 0  # node pairs the clique budget kept uncoupled …
    refused_coupling_events: int = 0  # … and how many parlay updates wanted one of them
    n_books: int = 0
    book_worst_case: float = 0.0  # Σ b·ln(1/min(p_open, 1 − p_open)) over the books

    def as_dict(self) -> dict[str, object]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True, eq=False)
class FitResult:
    cluster_id: str
    variables: tuple[str, ...]
    model: IsingModel
    initial_model: IsingModel
    trajectory: pd.DataFrame
    metrics: FitMetrics
    converged: bool
    diagnostics: InferenceDiagnostics | None
    notes: tuple[str, ...] = ()
    snapshots: tuple[tuple[pd.Timestamp, IsingModel], ...] = ()  # the model as it was at each checkpoint
    books: Mapping[Contract, LMSRBook] = field(default_factory=dict)  # at the model's final prices


TRAJECTORY_COLUMNS = [
    "ts", "kind", "contract", "n_legs", "target", "price_before", "price_after", "loss_before", "skipped",
    "trade_id",
]


def contract_label(contract: Contract, names: Sequence[str]) -> str:
    """``var,!var`` text of a contract's literals (``!`` = NO)."""
    return ",".join(f"{'' if v else '!'}{names[i]}" for i, v in contract.legs)


def _legs_index(legs: object, position: Mapping[str, int], n: int) -> dict[int, bool]:
    items: Iterable[tuple[object, object]]
    if isinstance(legs, str):
        legs = json.loads(legs)
    items = legs.items() if isinstance(legs, Mapping) else [tuple(x) for x in legs]  # type: ignore[union-attr]
    out: dict[int, bool] = {}
    for key, value in items:
        i = position[key] if isinstance(key, str) else int(key)  # type: ignore[call-overload]
        if not 0 <= i < n:
            raise ValueError(f"leg {key!r} is not a variable of the cluster")
        v = bool(value)
        if out.get(i, v) != v:
            raise ValueError(f"legs {legs!r} clamp variable {key!r} both ways")
        out[i] = v
    return out


def _events(
    mids: pd.DataFrame,
    variables: Sequence[str],
    conj_mids: pd.DataFrame | None,
    conj_legs: Mapping[int, Assignment],
    targets: pd.DataFrame,
    position: Mapping[str, int],
    config: FitConfig,
) -> list[tuple[pd.Timestamp, int, int, str, dict[int, bool], float, object, float | None]]:
    """(ts, order, seq, kind, legs, target, trade_id, contracts), time-ordered; base events first at ties."""
    delay = pd.Timedelta(seconds=config.base_delay_seconds)
    out = []
    seq = 0
    frames: list[tuple[pd.DataFrame, Sequence[object], str]] = [(mids, list(variables), "base")]
    if conj_mids is not None and not conj_mids.empty:
        frames.append((conj_mids, list(conj_mids.columns), "conjunction"))
    for frame, columns, kind in frames:
        for k, col in enumerate(columns):
            if col not in frame.columns:
                continue
            series = frame[col].astype(float)
            last: float | None = None
            for minute, value in series.items():
                if not np.isfinite(value):
                    continue
                if last is not None and abs(value - last) < config.min_mid_change:
                    continue
                if last is None and kind == "base":
                    last = value  # the first mid is already in the initial fields
                    continue
                last = value
                legs = {position[str(col)]: True} if kind == "base" else conj_legs[k]
                ts = pd.Timestamp(minute)  # type: ignore[arg-type]
                ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
                out.append((ts + delay, 0, seq, kind, legs, float(value), None, None))
                seq += 1
    n = len(variables)
    for r in targets.to_dict("records"):
        ts = pd.Timestamp(r["ts"])  # type: ignore[arg-type]
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
        q = float(r["target"])  # type: ignore[arg-type]
        if not np.isfinite(q):
            continue
        legs = _legs_index(r["legs"], position, n)
        contracts = r.get("contracts")
        c = float(contracts) if contracts is not None and not pd.isna(contracts) else None  # type: ignore[arg-type]
        out.append((ts, 1, seq, "parlay", legs, q, r.get("trade_id"), c))
        seq += 1
    out.sort(key=lambda e: (e[0], e[1], e[2]))
    return out


def _scores(pairs: Sequence[tuple[float, float]], eps: float) -> tuple[float, float, float]:
    """(mean CE, mean |p − q|, RMS log-odds error) of (price, target) pairs."""
    if not pairs:
        return math.nan, math.nan, math.nan
    ce, ae, se = [], [], []
    for p, q in pairs:
        pc = min(max(p, eps), 1.0 - eps)
        qc = min(max(q, eps), 1.0 - eps)
        ce.append(cross_entropy(qc, pc))
        ae.append(abs(p - q))
        se.append((math.log(pc / (1 - pc)) - math.log(qc / (1 - qc))) ** 2)
    return float(np.mean(ce)), float(np.mean(ae)), float(math.sqrt(np.mean(se)))


def _target_metrics(prior: IsingModel, parlays: Sequence[tuple[dict[int, bool], float, float]], method: Method,
                    eps: float) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Prequential scores of the parlay targets: ``parlays`` holds (legs, target, the price of the model as it
    stood just before that target). Returns ((CE, MAE, logit RMSE) of the prior model before any update,
    the same of the models just before each target), both over the targets both could price."""
    initial, final = [], []
    for legs, q, before in parlays:
        if not math.isfinite(before):
            continue  # the update was skipped: inference failed before it
        try:
            p0 = float(prior.joint_probability(legs, method))
        except NotConvergedError:
            continue
        initial.append((p0, q))
        final.append((float(before), q))
    return _scores(initial, eps), _scores(final, eps)


def fit_cluster(
    cluster_id: str,
    variables: Sequence[str],
    mids: pd.DataFrame,
    targets: pd.DataFrame,
    config: FitConfig | None = None,
    *,
    conjunctions: Mapping[str, Sequence[tuple[str, bool]]] | None = None,
    checkpoints: Sequence[pd.Timestamp] = (),
) -> FitResult:
    """Fit one cluster's Ising model by replaying its data (see the module docstring).

    ``variables``: the cluster's variable ids in index order. ``mids``: minute-indexed (time-ordered)
    variable-level YES mids, columns named by variable id (missing columns / NaN allowed); extra columns
    named in ``conjunctions`` hold the mids of markets whose YES is a conjunction of
    ``(variable_id, value)`` literals (brackets): they train fields only. ``targets``: ts, legs (a
    mapping or pairs of variable id or index → value), target, optional trade_id and contracts.
    ``checkpoints``: instants at which the model is kept (``FitResult.snapshots``: the model after
    every event up to and including that instant) — quotes over a session come from them. A snapshot
    uses only data stamped at or before its instant: checkpoints earlier than the last mid the initial
    fields are taken from are dropped (with a note).
    """
    cfg = config or FitConfig()
    names = tuple(str(v) for v in variables)
    if not names:
        raise ValueError(f"cluster {cluster_id} has no variables")
    position = {v: i for i, v in enumerate(names)}
    n = len(names)
    mids = mids.sort_index()
    notes: list[str] = []

    structure = Structure.from_variable_ids(names)
    observations: list[tuple[int, np.ndarray, float]] = []
    uninitialized = 0

    init_until: pd.Timestamp | None = None  # the last instant whose data the initial fields use

    def first_median(column: str) -> float:
        nonlocal init_until
        if column not in mids.columns:
            return math.nan
        series = mids[column]
        series = series[np.isfinite(series.to_numpy(dtype=float))].iloc[: cfg.init_mids]
        if series.empty:
            return math.nan
        last = pd.Timestamp(series.index[-1])
        init_until = last if init_until is None or last > init_until else init_until
        values = series.to_numpy(dtype=float)
        return float(np.median(np.clip(values, cfg.init_eps, 1.0 - cfg.init_eps)))

    for i, v in enumerate(names):
        m = first_median(v)
        if math.isfinite(m):
            observations.append((*structure.literal_mask(i, True), m))
        else:
            uninitialized += 1
    for column, lits in (conjunctions or {}).items():
        one = structure.conjunction_mask([(position[v], bool(b)) for v, b in lits])
        m = first_median(column)
        if one is not None and math.isfinite(m):
            observations.append((*one, m))
    if uninitialized:
        notes.append(f"{uninitialized} variable(s) without their own mids start from the other markets of their "
                     "axis (or uniform)")
    h0 = initial_node_fields(structure, observations, cfg.init_eps)
    model0 = IsingModel(h0, np.zeros((n, n)), cfg.inference, structure)

    conj_cols = [c for c in (conjunctions or {}) if c in mids.columns]
    conj_legs = {k: _legs_index(list((conjunctions or {})[c]), position, n) for k, c in enumerate(conj_cols)}
    events = _events(mids, names, mids[conj_cols] if conj_cols else None, conj_legs,
                     targets, position, cfg)

    lcfg = cfg.learner_config()
    fields_only = replace(lcfg, eta_J=0.0, l2_J=0.0)
    learner = OnlineLearner(model0, lcfg)
    parlays: list[tuple[dict[int, bool], float, float]] = []  # legs, target, price just before it
    rows: list[dict[str, object]] = []
    n_base = n_parlay = 0
    shadow = 0.0
    cps = sorted(pd.Timestamp(c).tz_localize("UTC") if pd.Timestamp(c).tzinfo is None else pd.Timestamp(c)
                 for c in checkpoints)
    snaps: list[tuple[pd.Timestamp, IsingModel]] = []

    def record(ts: pd.Timestamp, kind: str, contract: Contract, q: float, result: UpdateResult,
               trade_id: object) -> None:
        nonlocal n_base, n_parlay, shadow
        skipped = result.skipped is not None
        if not skipped:
            shadow += result.shadow_cost
            if kind == "parlay":
                n_parlay += 1
            else:
                n_base += 1
        pb = result.price_before
        rows.append({
            "ts": ts, "kind": kind, "contract": contract_label(contract, names),
            "n_legs": len(contract.legs), "target": q, "price_before": pb, "price_after": result.price_after,
            "loss_before": cross_entropy(min(max(q, cfg.target_eps), 1 - cfg.target_eps),
                                         min(max(pb, cfg.target_eps), 1 - cfg.target_eps))
            if np.isfinite(pb) else math.nan,
            "skipped": skipped, "trade_id": trade_id,
        })

    trade = cfg.books and cfg.setting == "amm"
    k = 0
    while k < len(events):
        ts, order, _, kind, legs, q, trade_id, contracts = events[k]
        while len(snaps) < len(cps) and ts > cps[len(snaps)]:
            snaps.append((cps[len(snaps)], learner.model))
        if order == 0:  # the base observations of one instant: one batch
            end = k
            while end < len(events) and events[end][0] == ts and events[end][1] == 0:
                end += 1
            batch = events[k:end]
            learner.config = fields_only
            results = learner.observe_batch([(e[4], e[5]) for e in batch], trade=trade)
            learner.config = lcfg
            for e, result in zip(batch, results, strict=True):
                record(e[0], e[3], result.contract, e[5], result, e[6])
            k = end
            continue
        contract = Contract.of(legs)
        if cfg.setting == "standalone":
            book = learner.register(contract)
            p_book = learner.books[book].price()
            side = YES if q > p_book else NO
            result = learner.observe_flow(contract, side, contracts if contracts else cfg.flow_shares)
        else:
            result = learner.observe(contract, q, trade=trade)
        parlays.append((legs, q, float(result.price_before)))
        record(ts, kind, contract, q, result, trade_id)
        k += 1
    model = learner.model
    snaps.extend((c, model) for c in cps[len(snaps):])
    if init_until is not None:
        # a checkpoint before the end of the initialization's data would know later mids: not kept
        start = init_until.tz_localize("UTC") if init_until.tzinfo is None else init_until
        start = start + pd.Timedelta(seconds=cfg.base_delay_seconds)  # a minute's mid is known at its end
        early = sum(1 for c, _ in snaps if c < start)
        if early:
            snaps = [(c, m) for c, m in snaps if c >= start]
            notes.append(f"{early} checkpoint(s) before {start.isoformat()} (the end of the data the initial "
                         "fields use) are not kept: a model there would know later prices")
    shadow += sum(t.cost for t in learner.sync_books().values())
    diag: InferenceDiagnostics | None
    try:
        diag = model.moments(cfg.method).diagnostics
        final_ok = True
    except NotConvergedError as err:
        diag = err.diagnostics
        final_ok = False
        notes.append(f"final model: {err}")
    if learner.skipped:
        notes.append(f"{learner.skipped} event(s) skipped: inference did not converge")
    budget = learner.budget
    if budget is not None:
        notes.extend(budget.notes)
        if budget.refused:
            notes.append(f"{len(budget.refused)} node pair(s) left uncoupled by the clique budget "
                         f"({cfg.max_clique_states:.0f} states) in {budget.refusals} parlay update(s)")
    (ice, imae, _), (fce, fmae, rmse) = _target_metrics(model0, parlays, cfg.method, cfg.target_eps)
    metrics = FitMetrics(
        n_variables=n,
        n_couplings=int(np.count_nonzero(np.triu(model.J, 1))),
        n_base_updates=n_base,
        n_parlay_updates=n_parlay,
        n_skipped=int(learner.skipped),
        n_targets=len(parlays),
        initial_ce=ice,
        final_ce=fce,
        initial_mae=imae,
        final_mae=fmae,
        logit_rmse=rmse,
        shadow_cost=float(shadow),
        uninitialized_variables=uninitialized,
        n_nodes=structure.n_nodes,
        max_clique_states=float(model.engine().plan.max_clique_states) if model.engine().exact else math.inf,
        refused_couplings=len(budget.refused) if budget is not None else 0,
        refused_coupling_events=budget.refusals if budget is not None else 0,
        n_books=len(learner.books),
        book_worst_case=float(sum(b.worst_case_loss for b in learner.books.values())),
    )
    trajectory = pd.DataFrame(rows, columns=TRAJECTORY_COLUMNS)
    return FitResult(
        cluster_id=cluster_id,
        variables=names,
        model=model,
        initial_model=model0,
        trajectory=trajectory,
        metrics=metrics,
        converged=final_ok and learner.skipped == 0,
        diagnostics=diag,
        notes=tuple(notes),
        snapshots=tuple(snaps),
        books=dict(learner.books),
    )
