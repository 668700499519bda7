"""The ensemble pricer: one object that prices any parlay over the quotable markets.

Members, each coherent on the **Ising model's own marginals** (so the combination is too):

* ``ising`` — the cluster's Ising law, the event of the legs per cluster (clusters independent);
* ``copula`` — a Gaussian copula per cluster on the Ising marginals with a correlation matrix estimated
  from the features (``marts.pair_correlations``), for parlays whose legs are single literals;
* ``independence`` — the product of the legs' marginals;
* ``catboost`` — the classifier trained on settled parlays, clipped into the Fréchet bounds.

The quoted probability is the weighted mean of the members present; its uncertainty is the weighted
standard deviation across members combined with a model width (a floor, plus a share of the Fréchet
width: wide bounds mean dependence matters and is uncertain). ``raw_probability`` is the independence
price. Impossible legs are priced 0 and flagged; a leg on a market the pricer does not know raises
:class:`~models.pricing.quotes.UnknownMarket`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from models.pricing.baselines import GaussianCopula
from models.pricing.catboost_parlay import ParlayClassifier
from models.pricing.ising import InferenceConfig, IsingModel, Method
from models.pricing.quotes import EnsembleQuote, Leg, MarketInfo, MemberPrice, UnknownMarket, frechet
from models.pricing.replay import ClusterEvent, LiteralMap, MarketLiterals, event_probability
from models.pricing.results import NotConvergedError
from models.risk import MarketDef

__all__ = ["ClusterModel", "EnsembleConfig", "EnsemblePricer", "synthetic_pricer"]

YES, NO = "yes", "no"


@dataclass(frozen=True, eq=False)
class ClusterModel:
    """A fitted cluster: its variables in index order, the Ising model, and the copula's correlation
    (``None``: no copula member for this cluster)."""

    cluster_id: str
    variables: tuple[str, ...]
    model: IsingModel
    copula_corr: np.ndarray | None = None
    marginals: np.ndarray = field(init=False, repr=False)
    copula: GaussianCopula | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.variables) != self.model.n:
            raise ValueError(f"cluster {self.cluster_id}: {len(self.variables)} variables but model has {self.model.n}")
        object.__setattr__(self, "marginals", np.asarray(self.model.marginals("auto"), dtype=float))
        cop = None
        if self.copula_corr is not None:
            cop = GaussianCopula(np.asarray(self.copula_corr, dtype=float), seed=0, maxpts=2_000 * 10,
                                 abseps=1e-4, releps=1e-4)
        object.__setattr__(self, "copula", cop)


@dataclass(frozen=True)
class EnsembleConfig:
    ising_weight: float = 0.6
    copula_weight: float = 0.2
    catboost_weight: float = 0.15
    independence_weight: float = 0.05
    min_uncertainty: float = 0.005  # model width floor, probability points
    frechet_width_share: float = 0.02  # … plus this share of the Fréchet width
    method: Method = "auto"
    copula_max_legs: int = 6  # more legs in one cluster: the copula's orthant integral is skipped

    def weights(self) -> dict[str, float]:
        return {"ising": self.ising_weight, "copula": self.copula_weight, "catboost": self.catboost_weight,
                "independence": self.independence_weight}


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
    ) -> None:
        self.clusters = dict(clusters)
        self.literals = literals
        self.classifier = classifier if classifier is not None and classifier.trained else None
        self.version = version
        self.config = config or EnsembleConfig()
        self._markets: dict[str, MarketInfo] = {}
        base = dict(info or {})
        for ticker, ml in literals.markets.items():
            if ml.cluster_id not in self.clusters:
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

    def quote(self, legs: Sequence[Leg], features: Mapping[str, object] | None = None) -> EnsembleQuote:
        legs = tuple((str(t), str(s).lower()) for t, s in legs)
        if not legs:
            raise ValueError("a parlay needs at least one leg")
        for t, s in legs:
            if s not in (YES, NO):
                raise ValueError(f"side must be 'yes' or 'no', got {s!r}")
            if t not in self._markets:
                raise UnknownMarket(t, self._unknown_reason(t))
        leg_p = tuple(self.leg_probability(leg) for leg in legs)
        lower, upper = frechet(leg_p)
        independence = float(np.prod(leg_p))
        event = self.literals.event(legs)
        if event.impossible:
            return EnsembleQuote(legs, 0.0, independence, 0.0, (), True, lower, upper, self.version, leg_p,
                                 (event.reason or "impossible",))
        notes: list[str] = []
        cfg = self.config
        prices: dict[str, float] = {}
        ising = 1.0
        for ev in event.clusters:
            ising *= self._ising_event(ev)
        prices["ising"] = ising
        copula = self._copula(event.clusters)
        if copula is not None:
            prices["copula"] = copula
        prices["independence"] = self._independence(event.clusters)
        # The member prices are coherent for the *event*; the legs' own-side Fréchet bounds apply to all.
        ev_lower, ev_upper = self._event_bounds(event.clusters)
        if self.classifier is not None and len(legs) >= 2:
            row = {
                "n_legs": len(legs), "n_clusters": len(event.clusters),
                "n_no_legs": sum(1 for _, s in legs if s == NO), "leg_probabilities": list(leg_p),
                "ising_price": ising, **(features or {}),
            }
            try:
                p_cb = float(self.classifier.predict_proba([row])[0])
                prices["catboost"] = min(max(p_cb, ev_lower), ev_upper)
            except Exception as exc:
                notes.append(f"catboost member dropped: {exc}")
        weights = {k: w for k, w in cfg.weights().items() if k in prices and w > 0}
        total = sum(weights.values())
        values = np.array([prices[k] for k in weights])
        w = np.array([weights[k] / total for k in weights])
        p = float(w @ values)
        p = min(max(p, ev_lower), ev_upper)
        dispersion = float(math.sqrt(max(0.0, float(w @ (values - p) ** 2))))
        width = cfg.min_uncertainty + cfg.frechet_width_share * (upper - lower)
        uncertainty = float(math.sqrt(dispersion**2 + width**2))
        members = tuple(MemberPrice(k, float(prices[k]), float(weights.get(k, 0.0))) for k in prices)
        return EnsembleQuote(legs, p, independence, uncertainty, members, False, lower, upper, self.version, leg_p,
                             tuple(notes))

    # ------------------------------------------------------------------ members
    def _market_probability(self, ml: MarketLiterals) -> float:
        cm = self.clusters[ml.cluster_id]
        if ml.defines_variable:
            (i, v), = ml.literals
            p = float(cm.marginals[i])
            return p if v else 1.0 - p
        return self._ising_event(ClusterEvent(ml.cluster_id, tuple(sorted(ml.literals))))

    def _ising_event(self, ev: ClusterEvent) -> float:
        cm = self.clusters[ev.cluster_id]
        try:
            return event_probability(cm.model, ev, self.config.method)
        except NotConvergedError:
            # the exact answer is out of reach and BP did not converge: fall back on the Fréchet-safe
            # independence price of the event's literals and let the dispersion widen the margin
            return self._independence([ev])

    def _independence(self, events: Sequence[ClusterEvent]) -> float:
        out = 1.0
        for ev in events:
            cm = self.clusters[ev.cluster_id]
            p = 1.0
            for i, v in ev.required:
                p *= cm.marginals[i] if v else 1.0 - cm.marginals[i]
            for conj in ev.excluded:
                q = 1.0
                for i, v in conj:
                    q *= cm.marginals[i] if v else 1.0 - cm.marginals[i]
                p *= 1.0 - q
            out *= p
        return float(out)

    def _copula(self, events: Sequence[ClusterEvent]) -> float | None:
        out = 1.0
        for ev in events:
            cm = self.clusters[ev.cluster_id]
            if cm.copula is None or ev.excluded or len(ev.required) > self.config.copula_max_legs:
                return None
            out *= cm.copula.joint_probability(cm.marginals, dict(ev.required))
        return float(out)

    def _event_bounds(self, events: Sequence[ClusterEvent]) -> tuple[float, float]:
        """Fréchet bounds of the event from the model's marginals of its literals (clusters multiply)."""
        lo_all, hi_all = 1.0, 1.0
        for ev in events:
            cm = self.clusters[ev.cluster_id]
            ps = [cm.marginals[i] if v else 1.0 - cm.marginals[i] for i, v in ev.required]
            for conj in ev.excluded:
                ps.append(1.0 - min(cm.marginals[i] if v else 1.0 - cm.marginals[i] for i, v in conj))
            lo, hi = frechet(ps)
            lo_all *= lo
            hi_all *= hi
        return float(lo_all), float(hi_all)

    def _unknown_reason(self, ticker: str) -> str:
        ml = self.literals.markets.get(ticker)
        if ml is None:
            return "unknown market (not in the quotable set)"
        return f"no fitted model for its cluster {ml.cluster_id}"


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
