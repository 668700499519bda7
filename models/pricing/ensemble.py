"""The ensemble pricer: one object that prices any parlay over the quotable markets.

**Canonical events first.** The legs of a parlay become, per cluster, node masks over the structural
layer's axes (:func:`~models.pricing.replay.event_terms`): every leg restricts one node's states, a NO on a
bracket is the complement of its cells, and legs on one axis intersect. Every member prices that canonical
event, so an event that reduces to one node (a single leg, a nested pair, a ladder leg with the leg it
implies) gets the same price from every member: the Ising law's mass on that mask.

Members, each coherent on the **Ising model's own node marginals** (so the combination is too):

* ``ising`` — the cluster's law, exact on its feasible states (clusters independent);
* ``copula`` — a Gaussian copula over the nodes (:class:`~models.pricing.baselines.OrdinalCopula`): one
  latent normal per node cut at the node's marginal law, the node correlation from the features
  (``marts.pair_correlations``, averaged over each pair of axes);
* ``independence`` — independent across nodes, exact within a node (P(over 220 ∧ over 230) = P(over 230));
* ``catboost`` — the classifier trained on settled parlays, only for events on two or more nodes, its
  features computed on the canonical event (one canonical leg per node), clipped into the Fréchet bounds.

The quoted probability is the weighted mean of the members present; its uncertainty is the weighted
standard deviation across members combined with a model width (a floor, plus a share of the Fréchet
width: wide bounds mean dependence matters and is uncertain). ``raw_probability`` is the independence
price of the legs as listed. Impossible legs are priced 0 and flagged; a leg on a market the pricer does not
know raises :class:`~models.pricing.quotes.UnknownMarket`; when the Ising inference fails the quote is
refused with :class:`~models.pricing.quotes.ModelNotConverged` — there is no silent fallback.

Pairwise laws capture arithmetic between quantities (total = home + away) only softly: "home over 120 ∧
away over 110 ∧ total at most 230" spans three nodes, is impossible in the game, and gets a small positive
price here (see docs/STRUCTURE.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from models.pricing.baselines import OrdinalCopula
from models.pricing.catboost_parlay import ParlayClassifier
from models.pricing.ising import InferenceConfig, IsingModel, Method
from models.pricing.quotes import (
    EnsembleQuote,
    Leg,
    MarketInfo,
    MemberPrice,
    ModelNotConverged,
    UnknownMarket,
    frechet,
)
from models.pricing.replay import ClusterEvent, LiteralMap, MarketLiterals, event_terms
from models.pricing.results import NotConvergedError
from models.pricing.structure import NodeEvent, Structure
from models.risk import MarketDef

__all__ = ["ClusterModel", "EnsembleConfig", "EnsemblePricer", "WeightFit", "combine_members", "fit_member_weights",
           "synthetic_pricer"]

YES, NO = "yes", "no"
Terms = list[tuple[int, NodeEvent]]

# A number moved by more than this to keep it inside its bounds is recorded as a clip (smaller moves are the
# rounding of sums of exact probabilities).
CLIP_TOL = 1e-12


def _hold(value: float, lower: float, upper: float, what: str, clips: list[str] | None) -> float:
    """``value`` held inside [lower, upper]; a move beyond :data:`CLIP_TOL` is recorded in ``clips``."""
    held = min(max(value, lower), upper)
    if clips is not None and abs(held - value) > CLIP_TOL:
        clips.append(f"{what}: {value:.9g} clipped to {held:.9g} (bounds [{lower:.9g}, {upper:.9g}])")
    return float(held)


@dataclass(frozen=True, eq=False)
class ClusterModel:
    """A fitted cluster: its variables in index order, the model, and the copula's variable correlation
    (``None``: no copula member for this cluster).

    The model's structure must be the one the variable ids define (a model given without structure gets
    it). ``converged`` is False when even the marginals could not be computed: the cluster is then not
    quotable."""

    cluster_id: str
    variables: tuple[str, ...]
    model: IsingModel
    copula_corr: np.ndarray | None = None
    marginals: np.ndarray = field(init=False, repr=False)
    node_marginals: tuple[np.ndarray, ...] = field(init=False, repr=False)
    copula: OrdinalCopula | None = field(init=False, repr=False)
    converged: bool = field(init=False)
    reason: str | None = field(init=False)

    def __post_init__(self) -> None:
        if len(self.variables) != self.model.n:
            raise ValueError(f"cluster {self.cluster_id}: {len(self.variables)} variables but model has {self.model.n}")
        expected = Structure.from_variable_ids(self.variables)
        model = self.model
        if not model.nodes.same_as(expected):
            if model.structured:
                raise ValueError(f"cluster {self.cluster_id}: the model's nodes differ from its variables' axes")
            model = IsingModel(model.h, model.J, model.config, expected)
            object.__setattr__(self, "model", model)
        reason = None
        try:
            if model.engine().exact:
                nodes = tuple(model.node_marginals())
                marginals = model.nodes.variable_marginals(list(nodes))
            else:  # unconstrained and beyond the exact budgets: BP marginals
                marginals = np.asarray(model.marginals("auto"), dtype=float)
                nodes = tuple(np.array([1.0 - p, p]) for p in marginals)
        except NotConvergedError as err:
            reason = f"its model did not converge ({err})"
            marginals = np.full(model.n, np.nan)
            nodes = tuple(np.full(int(s), np.nan) for s in model.nodes.sizes)
        object.__setattr__(self, "marginals", marginals)
        object.__setattr__(self, "node_marginals", nodes)
        object.__setattr__(self, "converged", reason is None)
        object.__setattr__(self, "reason", reason)
        cop = None
        if self.copula_corr is not None and reason is None:
            cop = OrdinalCopula.from_variables(np.asarray(self.copula_corr, dtype=float), model.nodes.nodes, seed=0,
                                               maxpts=2_000 * 10, abseps=1e-4, releps=1e-4)
        object.__setattr__(self, "copula", cop)

    def mask_probability(self, q: int, mask: np.ndarray) -> float:
        """The node marginal mass of a mask (exact)."""
        return float(self.node_marginals[q][mask].sum())


@dataclass(frozen=True)
class EnsembleConfig:
    ising_weight: float = 0.6
    copula_weight: float = 0.2
    catboost_weight: float = 0.15
    independence_weight: float = 0.05
    min_uncertainty: float = 0.005  # model width floor, probability points
    frechet_width_share: float = 0.02  # … plus this share of the Fréchet width
    method: Method = "auto"
    copula_max_legs: int = 6  # more restricted nodes in one cluster: the copula's integral is skipped

    def weights(self) -> dict[str, float]:
        return {"ising": self.ising_weight, "copula": self.copula_weight, "catboost": self.catboost_weight,
                "independence": self.independence_weight}


def _canonical_side(mask: np.ndarray) -> str:
    """How a node mask reads as one leg: an upper tail (over a threshold, a run ending at the top) or a run
    of cells is a YES leg; anything reaching down to the bottom state without the top is a NO leg."""
    return NO if bool(mask[0]) and not bool(mask[-1]) else YES


class EnsemblePricer:
    """A :class:`~models.pricing.quotes.Pricer` over fitted clusters (see the module docstring)."""

    def __init__(
        self,
        clusters: Mapping[str, ClusterModel],
        literals: LiteralMap,
        info: Mapping[str, MarketInfo] | None = None,
        classifier: ParlayClassifier | None = None,
        version: str = "",
        config: EnsembleConfig | None = None,
        snapshot_of: str | None = None,
    ) -> None:
        self.clusters = dict(clusters)
        self.snapshot_of = snapshot_of  # a point-in-time view of this stored ensemble version
        self.literals = literals
        self.classifier = classifier if classifier is not None and classifier.trained else None
        self.version = version
        self.config = config or EnsembleConfig()
        self._markets: dict[str, MarketInfo] = {}
        base = dict(info or {})
        for ticker, ml in literals.markets.items():
            cm = self.clusters.get(ml.cluster_id)
            if cm is None or not cm.converged:
                continue
            p = self._market_probability(ml)
            known = base.get(ticker)
            self._markets[ticker] = MarketInfo(
                market_ticker=ticker, cluster_id=ml.cluster_id,
                event_ticker=known.event_ticker if known else None, title=known.title if known else None,
                yes_sub_title=known.yes_sub_title if known else None,
                no_sub_title=known.no_sub_title if known else None, mid=known.mid if known else None,
                probability=p, status=known.status if known else None,
                close_time=known.close_time if known else None,
            )

    # ------------------------------------------------------------------ the Pricer protocol
    def markets(self) -> Mapping[str, MarketInfo]:
        return self._markets

    def market_defs(self) -> dict[str, MarketDef]:
        """The risk engine's view: every market's YES event as literals over ``cluster/variable`` ids."""
        out = {}
        for ticker, ml in self.literals.markets.items():
            if ml.cluster_id in self.clusters and ml.literals:
                pairs = zip(ml.literals, ml.variable_ids, strict=True)
                out[ticker] = MarketDef(ticker, tuple((f"{ml.cluster_id}/{vid}", v) for (_, v), vid in pairs))
        return out

    def leg_probability(self, leg: Leg) -> float:
        ticker, side = leg
        info = self._markets.get(ticker)
        if info is None:
            raise UnknownMarket(ticker, self._unknown_reason(ticker))
        return info.probability if side == YES else 1.0 - info.probability

    def _check_legs(self, legs: Sequence[Leg]) -> tuple[Leg, ...]:
        legs = tuple((str(t), str(s).lower()) for t, s in legs)
        if not legs:
            raise ValueError("a parlay needs at least one leg")
        for t, s in legs:
            if s not in (YES, NO):
                raise ValueError(f"side must be 'yes' or 'no', got {s!r}")
            if t not in self._markets:
                raise UnknownMarket(t, self._unknown_reason(t))
        return legs

    def canonical(self, legs: Sequence[Leg]) -> tuple[dict[str, Terms], str | None]:
        """Per cluster, the legs as signed node-mask terms (one term for every structural-layer event), and
        the reason when the legs are impossible (then the terms are empty)."""
        legs = self._check_legs(legs)
        event = self.literals.event(legs)
        if event.impossible:
            return {}, event.reason or "impossible"
        return {ev.cluster_id: self._terms(ev) for ev in event.clusters}, None

    def _terms(self, ev: ClusterEvent) -> Terms:
        return event_terms(self.clusters[ev.cluster_id].model.nodes, ev)

    def joint(self, outcomes: Mapping[str, bool]) -> float:
        """P(every market resolves as given) under the cluster laws (the Ising member alone, exact where
        the model is): the ``joint`` callable for hedging deltas. Contradicting outcomes give 0."""
        legs = [(t, YES if v else NO) for t, v in outcomes.items()]
        if not legs:
            return 1.0
        terms, impossible = self.canonical(legs)
        if impossible is not None:
            return 0.0
        return self._ising(terms)

    def quote(self, legs: Sequence[Leg], features: Mapping[str, object] | None = None) -> EnsembleQuote:
        legs = self._check_legs(legs)
        leg_p = tuple(self.leg_probability(leg) for leg in legs)
        lower, upper = frechet(leg_p)
        independence_legs = float(np.prod(leg_p))
        terms, impossible = self.canonical(legs)
        if impossible is not None:
            return EnsembleQuote(legs, 0.0, independence_legs, 0.0, (), True, lower, upper, self.version, leg_p,
                                 (impossible,))
        notes: list[str] = []
        clips: list[str] = []
        cfg = self.config
        prices: dict[str, float] = {"ising": self._ising(terms, clips)}
        copula = self._copula(terms, clips)
        if copula is not None:
            prices["copula"] = copula
        prices["independence"] = self._independence(terms, clips)
        restricted = [(c, q, m) for c, ts in terms.items() for _, t in ts[:1] for q, m in sorted(t.masks.items())
                      if not m.all()]
        ev_lower, ev_upper = self._event_bounds(terms)
        single_terms = all(len(ts) == 1 for ts in terms.values())
        if self.classifier is not None and len(restricted) >= 2 and single_terms:
            node_p = [self.clusters[c].mask_probability(q, m) for c, q, m in restricted]
            row = {
                "n_legs": len(restricted), "n_clusters": len(terms),
                "n_no_legs": sum(1 for _, _, m in restricted if _canonical_side(m) == NO),
                "leg_probabilities": node_p, "ising_price": prices["ising"], **(features or {}),
            }
            try:
                p_cb = float(self.classifier.predict_proba([row])[0])
                prices["catboost"] = _hold(p_cb, ev_lower, ev_upper, "catboost member", clips)
            except Exception as exc:
                notes.append(f"catboost member dropped: {exc}")
        weights = {k: w for k, w in cfg.weights().items() if k in prices and w > 0}
        if not weights:  # every member present carries weight 0 (weights fitted on held-back data): the Ising law
            weights = {"ising": 1.0}
        total = sum(weights.values())
        values = np.array([prices[k] for k in weights])
        w = np.array([weights[k] / total for k in weights])
        unclipped = float(w @ values)
        p = _hold(unclipped, ev_lower, ev_upper, "ensemble", clips)
        dispersion = float(math.sqrt(max(0.0, float(w @ (values - p) ** 2))))
        width = cfg.min_uncertainty + cfg.frechet_width_share * (upper - lower)
        uncertainty = float(math.sqrt(dispersion**2 + width**2))
        members = tuple(MemberPrice(k, float(prices[k]), float(weights.get(k, 0.0))) for k in prices)
        return EnsembleQuote(legs, p, independence_legs, uncertainty, members, False, lower, upper, self.version,
                             leg_p, tuple(notes), unclipped, tuple(clips), (ev_lower, ev_upper))

    # ------------------------------------------------------------------ members
    def _market_probability(self, ml: MarketLiterals) -> float:
        cm = self.clusters[ml.cluster_id]
        if not ml.literals:
            return 1.0
        terms = self._terms(ClusterEvent(ml.cluster_id, tuple(sorted(ml.literals))))
        return float(sum(sign * self._independent_term(cm, t) for sign, t in terms))  # one node: exact

    def _ising(self, terms: Mapping[str, Terms], clips: list[str] | None = None) -> float:
        out = 1.0
        for c, ts in terms.items():
            cm = self.clusters[c]
            try:
                p = sum(sign * float(cm.model.probability(t, self.config.method)) for sign, t in ts)
            except NotConvergedError as err:
                raise ModelNotConverged(c, f"inference failed: {err}") from err
            out *= _hold(p, 0.0, 1.0, f"ising member on {c}", clips)
        return float(out)

    @staticmethod
    def _independent_term(cm: ClusterModel, term: NodeEvent) -> float:
        p = 1.0
        for q, m in term.masks.items():
            p *= cm.mask_probability(q, m)
        return p

    def _independence(self, terms: Mapping[str, Terms], clips: list[str] | None = None) -> float:
        out = 1.0
        for c, ts in terms.items():
            cm = self.clusters[c]
            out *= _hold(sum(sign * self._independent_term(cm, t) for sign, t in ts), 0.0, 1.0,
                         f"independence member on {c}", clips)
        return float(out)

    def _copula(self, terms: Mapping[str, Terms], clips: list[str] | None = None) -> float | None:
        out = 1.0
        for c, ts in terms.items():
            cm = self.clusters[c]
            part = 0.0
            for sign, t in ts:
                restricted = {q: m for q, m in t.masks.items() if not m.all()}
                if len(restricted) <= 1:  # one node: the exact marginal mass, whatever the correlation
                    part += sign * self._independent_term(cm, t)
                    continue
                if cm.copula is None or len(restricted) > self.config.copula_max_legs:
                    return None
                part += sign * cm.copula.probability(cm.node_marginals, restricted)
            out *= _hold(part, 0.0, 1.0, f"copula member on {c}", clips)
        return float(out)

    def _event_bounds(self, terms: Mapping[str, Terms]) -> tuple[float, float]:
        """Fréchet bounds of the event from the node masses of its restrictions (clusters multiply)."""
        lo_all, hi_all = 1.0, 1.0
        for c, ts in terms.items():
            cm = self.clusters[c]
            if len(ts) != 1:
                continue  # a signed expansion: no simple bounds (never produced by the structural layer)
            ps = [cm.mask_probability(q, m) for q, m in ts[0][1].masks.items()]
            lo, hi = frechet(ps)
            lo_all *= lo
            hi_all *= hi
        return float(lo_all), float(hi_all)

    def _unknown_reason(self, ticker: str) -> str:
        ml = self.literals.markets.get(ticker)
        if ml is None:
            return "unknown market (not in the quotable set)"
        cm = self.clusters.get(ml.cluster_id)
        if cm is None:
            return f"no fitted model for its cluster {ml.cluster_id}"
        return f"cluster {ml.cluster_id}: {cm.reason}"


# ----------------------------------------------------------------------------- member weights on held-back data
MEMBERS = ("ising", "copula", "catboost", "independence")
MIN_WEIGHT_PARLAYS = 20  # fewer held-back parlays: the configured weights are kept


def combine_members(rows: Sequence[Mapping[str, float]], weights: Mapping[str, float]) -> np.ndarray:
    """The ensemble's probability of each parlay from its members' prices (``rows``: member → price, only the
    members that priced it), exactly as :meth:`EnsemblePricer.quote` combines them: the weighted mean of the
    members present with positive weight, the Ising member alone when none is."""
    out = np.empty(len(rows))
    for i, r in enumerate(rows):
        present = {k: float(weights.get(k, 0.0)) for k in r if float(weights.get(k, 0.0)) > 0}
        if not present:
            out[i] = float(r["ising"])
            continue
        total = sum(present.values())
        out[i] = sum(w * float(r[k]) for k, w in present.items()) / total
    return out


@dataclass(frozen=True)
class WeightFit:
    """Member weights chosen on held-back parlays, and how the ensemble then scores against its members."""

    weights: dict[str, float]
    fitted: bool
    n_parlays: int
    brier_ensemble: float
    brier_members: dict[str, float]  # members that priced every parlay
    best_member: str | None
    note: str | None  # why the ensemble is worse than its best member, or why the weights were not fitted


def _brier(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2)) if len(y) else math.nan


def fit_member_weights(rows: Sequence[Mapping[str, float]], outcomes: Sequence[float] | np.ndarray,
                       default: Mapping[str, float], min_parlays: int = MIN_WEIGHT_PARLAYS) -> WeightFit:
    """Member weights that minimise the Brier score of :func:`combine_members` on held-back settled parlays.

    Candidates: the configured weights, every single member alone, and a local optimum over the simplex
    (softmax parametrisation, started from each of them); the best on the data wins, so the ensemble is never
    worse there than a member that priced every parlay. With fewer than ``min_parlays`` parlays the
    configured weights are kept. ``note`` says why when the ensemble still scores worse than its best member
    (a member that priced only some parlays, the weights not fitted)."""
    from scipy.optimize import minimize

    y = np.asarray(outcomes, dtype=float)
    names = [m for m in MEMBERS if any(m in r for r in rows)]
    complete = [m for m in names if all(m in r for r in rows)]
    members = {m: _brier(np.array([float(r[m]) for r in rows]), y) for m in complete}
    best = min(members, key=lambda m: members[m]) if members else None
    base = {m: float(default.get(m, 0.0)) for m in MEMBERS}

    prices = np.array([[float(r.get(m, 0.0)) for m in MEMBERS] for r in rows]).reshape(len(rows), len(MEMBERS))
    present = np.array([[m in r for m in MEMBERS] for r in rows], dtype=float).reshape(len(rows), len(MEMBERS))
    ising = prices[:, MEMBERS.index("ising")] if len(rows) else np.zeros(0)

    def score(w: Mapping[str, float]) -> float:  # combine_members, vectorised
        wv = np.array([max(float(w.get(m, 0.0)), 0.0) for m in MEMBERS])
        mass = present * wv
        total = mass.sum(axis=1)
        mixed = np.divide((mass * prices).sum(axis=1), total, out=ising.copy(), where=total > 0)
        return _brier(mixed, y)

    if len(y) < min_parlays or not names:
        b = score(base) if len(y) else math.nan
        note = f"{len(y)} held-back settled parlays (< {min_parlays}): the configured weights are kept, not fitted"
        if best is not None and b > members[best] + 1e-12:
            note += f"; the ensemble ({b:.5f}) is worse than {best} ({members[best]:.5f}) on them"
        return WeightFit(base, False, len(y), b, members, best, note)

    def expand(x: np.ndarray) -> dict[str, float]:
        z = np.exp(x - x.max())
        w = z / z.sum()
        return {**dict.fromkeys(MEMBERS, 0.0), **{m: float(v) for m, v in zip(names, w, strict=True)}}

    candidates = [base] + [{**dict.fromkeys(MEMBERS, 0.0), m: 1.0} for m in names]
    for start in list(candidates):
        x0 = np.log(np.array([max(start.get(m, 0.0), 1e-3) for m in names]))
        res = minimize(lambda x: score(expand(x)), x0, method="L-BFGS-B", options={"maxiter": 200})
        candidates.append(expand(res.x))
    scored = [(score(w), k, w) for k, w in enumerate(candidates)]
    b, _, chosen = min(scored, key=lambda t: (t[0], t[1]))
    chosen = {m: (round(v, 6) if v > 1e-6 else 0.0) for m, v in chosen.items()}
    total = sum(chosen.values())
    chosen = {m: v / total for m, v in chosen.items()}
    b = score(chosen)
    notes = []
    if best is not None and b > members[best] + 1e-12:
        partial = [f"{m} priced {sum(m in r for r in rows)} of {len(rows)}" for m in names if m not in complete]
        notes.append(f"the ensemble ({b:.5f}) is worse than {best} ({members[best]:.5f}) on the held-back parlays: "
                     + ("; ".join(partial) + " parlays, so no weighting reproduces a single member everywhere"
                        if partial else "the weights are rounded to 6 decimals"))
    mixed = combine_members(rows, chosen)
    for m in names:
        if m in complete:
            continue
        sub = np.array([m in r for r in rows])
        own = _brier(np.array([float(r[m]) for r in rows if m in r]), y[sub])
        ours = _brier(mixed[sub], y[sub])
        if ours > own + 1e-12:
            notes.append(f"on the {int(sub.sum())} parlays {m} priced, the ensemble ({ours:.5f}) is worse than {m} "
                         f"({own:.5f}): the weights are chosen on all {len(rows)} parlays, where {m} is not available "
                         "everywhere")
    return WeightFit(chosen, True, len(y), b, members, best, "; ".join(notes) or None)


def synthetic_pricer(n_clusters: int = 1, markets_per_cluster: int = 135, mean_degree: float = 10.0,
                     seed: int = 0, coupling_scale: float = 0.3) -> EnsemblePricer:
    """A pricer over random clusters (one variable per market, sparse couplings), for benchmarks and
    service tests that need a large loaded cluster without running the pipeline."""
    rng = np.random.default_rng(seed)
    clusters: dict[str, ClusterModel] = {}
    rows = []
    info = {}
    for c in range(n_clusters):
        cid = f"SYN{c:02d}"
        n = markets_per_cluster
        h = rng.normal(-0.5, 0.8, n)
        J = np.zeros((n, n))
        p_edge = min(1.0, mean_degree / max(n - 1, 1))
        mask = np.triu(rng.random((n, n)) < p_edge, 1)
        J[mask] = rng.normal(0.0, coupling_scale, int(mask.sum()))
        J = J + J.T
        model = IsingModel(h, J, InferenceConfig())
        variables = tuple(f"v{i:03d}" for i in range(n))
        corr = np.eye(n)
        clusters[cid] = ClusterModel(cid, variables, model, corr)
        for i in range(n):
            ticker = f"KXSYN-{cid}-M{i:03d}"
            rows.append(MarketLiterals(ticker, cid, ((i, True),), (variables[i],)))
            info[ticker] = MarketInfo(ticker, cid, f"KXSYN-{cid}", f"Synthetic market {i}", "Yes", "No", None, 0.5,
                                      "active", None)
    literals = LiteralMap({m.market_ticker: m for m in rows}, {cid: cm.variables for cid, cm in clusters.items()})
    return EnsemblePricer(clusters, literals, info, version=f"synthetic-{seed}")
