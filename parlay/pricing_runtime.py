"""The pricing runtime: read a trading day's marts, fit, store — the code behind the ``pricing`` assets.

* :func:`fit_day_cluster` — replay-fit one game cluster's Ising model (``models.pricing.replay``, on the
  feasible states of its axes) on the day's minute panel and fee-corrected combo targets with the
  full-AMM LMSR books and their shadow trades (lazy, exactly equivalent), estimate the copula's correlation
  from ``marts.pair_correlations``, store model, books and copula (``parlay.pricing_store``).
* :func:`train_day_classifier` — CatBoost on settled parlays of this and earlier days (a parlay is
  settled when every leg's market has a result), features from ``marts.combo_features``.
* :func:`build_day_ensemble` — one snapshot over the day's newest cluster models and classifier, its member
  weights chosen on the day's held-back settled traded parlays (Brier score,
  :func:`models.pricing.ensemble.fit_member_weights`), with calibration (Brier, log loss per member) on them.
* :func:`real_data_check` — every 2- and 3-leg cross-game parlay of the day's moneylines: our price,
  the independence price and the Fréchet bounds.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import pandas as pd
import psycopg

from models.pricing import catboost_parlay
from models.pricing.baselines import nearest_correlation
from models.pricing.ensemble import ClusterModel, EnsembleConfig, EnsemblePricer, fit_member_weights
from models.pricing.quotes import MarketInfo, ModelNotConverged
from models.pricing.replay import (
    DEFAULT_FIT,
    FitConfig,
    FitResult,
    LiteralMap,
    cluster_targets,
    conjunction_mids,
    contract_label,
    fit_cluster,
    literal_map,
    variable_mids,
)
from parlay import pricing_store
from parlay.pricing_store import MarketEntry


def _frame(conn: psycopg.Connection, query: str, params: tuple = ()) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute(query, params)
        cols = [d.name for d in cur.description or []]
        return pd.DataFrame(cur.fetchall(), columns=cols)


def day_clusters(conn: psycopg.Connection, day: date) -> list[str]:
    """The game clusters of a trading day that the structural layer mapped onto variables."""
    rows = conn.execute(
        "SELECT DISTINCT cluster_id FROM marts.binary_variables WHERE trading_day = %s ORDER BY 1", (day,)
    ).fetchall()
    return [r[0] for r in rows]


def day_literals(conn: psycopg.Connection, day: date) -> LiteralMap:
    rows = _frame(conn, "SELECT market_ticker, cluster_id, literals, complement_ticker FROM marts.binary_variables "
                        "WHERE trading_day = %s", (day,))
    return literal_map(rows)


def _market_info(conn: psycopg.Connection, day: date, tickers: list[str]) -> dict[str, MarketInfo]:
    rows = conn.execute(
        """SELECT m.market_ticker, m.cluster_id, m.event_ticker, m.title, m.yes_sub_title, m.no_sub_title,
                  p.mid::float8, m.status, m.close_time::text
           FROM marts.markets m
           LEFT JOIN LATERAL (SELECT mid FROM marts.price_panel_1m pp
                              WHERE pp.market_ticker = m.market_ticker AND pp.trading_day = %s AND pp.mid IS NOT NULL
                              ORDER BY minute DESC LIMIT 1) p ON true
           WHERE m.market_ticker = ANY(%s)""",
        (day, tickers),
    ).fetchall()
    return {r[0]: MarketInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[6] if r[6] is not None else 0.5, r[7], r[8])
            for r in rows}


def copula_correlation(conn: psycopg.Connection, day: date, literals: LiteralMap, cluster: str,
                       min_n: int = 20) -> tuple[np.ndarray, int, bool]:
    """The cluster's variable correlation for the Gaussian copula, from the day's pairwise correlations of
    log-odds changes (``marts.pair_correlations``; pairs with fewer than ``min_n`` changes count as 0;
    a negated literal flips the sign; several markets per variable pair are averaged), repaired to the
    nearest correlation matrix. Returns (matrix, variable pairs estimated, repaired)."""
    names = literals.variables[cluster]
    n = len(names)
    rows = conn.execute(
        """SELECT market_a, market_b, rho::float8, n FROM marts.pair_correlations
           WHERE trading_day = %s AND cluster_a = %s AND cluster_b = %s AND rho IS NOT NULL""",
        (day, cluster, cluster),
    ).fetchall()
    acc = np.zeros((n, n))
    cnt = np.zeros((n, n))
    for a, b, rho, count in rows:
        la, lb = literals.markets.get(a), literals.markets.get(b)
        if la is None or lb is None or not la.defines_variable or not lb.defines_variable or (count or 0) < min_n:
            continue
        (i, vi), = la.literals
        (j, vj), = lb.literals
        if i == j or not math.isfinite(rho):
            continue
        r = rho * (1 if vi == vj else -1)
        acc[i, j] += r
        acc[j, i] += r
        cnt[i, j] += 1
        cnt[j, i] += 1
    corr = np.divide(acc, cnt, out=np.zeros_like(acc), where=cnt > 0)
    corr = np.clip(corr, -0.95, 0.95)
    np.fill_diagonal(corr, 1.0)
    pairs = int(np.count_nonzero(np.triu(cnt, 1)))
    if n <= 1:
        return corr, pairs, False
    fixed = nearest_correlation(corr)
    return fixed, pairs, bool(not np.allclose(fixed, corr, atol=1e-9))


def fit_day_copulas(conn: psycopg.Connection, storage_url: str, day: date) -> list[dict[str, object]]:
    """The Gaussian copula of every cluster of the day, stored; one summary row per cluster."""
    literals = day_literals(conn, day)
    out = []
    for cluster in day_clusters(conn, day):
        corr, pairs, repaired = copula_correlation(conn, day, literals, cluster)
        version = pricing_store.save_copula(conn, storage_url, day, cluster, corr, pairs, repaired)
        out.append({"cluster_id": cluster, "version": version, "variables": int(corr.shape[0]),
                    "pairs_used": pairs, "repaired": repaired})
    return out


SNAPSHOT_EVERY = "15min"  # model snapshots over a session: a replay at T quotes from the last one at or before T


def session_checkpoints(panel: pd.DataFrame, every: str = SNAPSHOT_EVERY) -> list[pd.Timestamp]:
    """Every ``every`` (UTC, on the clock) within the day's panel, plus its last minute: the instants at which
    the model is kept, so that a replay as of T quotes from a model fitted on data up to T."""
    if panel.empty:
        return []
    minutes = pd.to_datetime(panel["minute"], utc=True)
    first, last = minutes.min(), minutes.max()
    hours = list(pd.date_range(first.ceil(every), last, freq=every))
    return [*hours, last] if not hours or hours[-1] != last else hours


def online_errors(result: FitResult) -> dict[str, float]:
    """Prequential errors of a replay: |price before the update − target|, by kind of update."""
    traj = result.trajectory
    out = {}
    for kind in ("base", "parlay"):
        part = traj[(traj["kind"] == kind) & ~traj["skipped"].astype(bool)]
        if not part.empty:
            out[f"online_{kind}_mae"] = float((part["price_before"] - part["target"]).abs().mean())
    return out


@dataclass(frozen=True)
class ClusterFit:
    cluster_id: str
    model_version: str
    result: FitResult
    n_markets: int


def fit_day_cluster(conn: psycopg.Connection, storage_url: str, day: date, cluster: str,
                    config: FitConfig | None = None) -> ClusterFit:
    """Fit and store one cluster of one day (see the module docstring)."""
    cfg = config or DEFAULT_FIT
    literals = day_literals(conn, day)
    if cluster not in literals.variables:
        raise LookupError(f"cluster {cluster} has no binary variables on {day}: materialize marts/binary_variables")
    tickers = [t for t, m in literals.markets.items() if m.cluster_id == cluster]
    panel = _frame(conn, "SELECT market_ticker, minute, mid::float8 AS mid FROM marts.price_panel_1m "
                         "WHERE trading_day = %s AND market_ticker = ANY(%s) ORDER BY minute", (day, tickers))
    all_panel = _frame(conn, "SELECT market_ticker, minute, mid::float8 AS mid FROM marts.price_panel_1m "
                             "WHERE trading_day = %s ORDER BY minute", (day,))
    targets_rows = _frame(conn, "SELECT ts, target_legs, target_net_of_markup, use_for_learning, trade_id, contracts "
                                "FROM marts.combo_targets WHERE trading_day = %s ORDER BY ts", (day,))
    mids = variable_mids(panel, literals, cluster)
    conj, conj_legs = conjunction_mids(panel, literals, cluster)
    if not conj.empty:
        mids = mids.join(conj, how="outer")
    targets = cluster_targets(targets_rows, literals, all_panel).get(cluster)
    if targets is None:
        targets = pd.DataFrame(columns=["ts", "legs", "target", "trade_id", "contracts", "n_clusters"])
    result = fit_cluster(cluster, literals.variables[cluster], mids, targets, cfg, conjunctions=conj_legs,
                         checkpoints=session_checkpoints(all_panel))
    corr = pricing_store.load_copula(conn, day, cluster)
    if corr is None or corr.shape[0] != len(result.variables):
        corr, _, _ = copula_correlation(conn, day, literals, cluster)  # no stored copula fit for this day
    cm = ClusterModel(cluster, result.variables, result.model, corr)
    info = _market_info(conn, day, tickers)
    entries = [MarketEntry(literals.markets[t], info.get(t)) for t in tickers]
    books = {contract_label(c, result.variables): b for c, b in result.books.items()}
    version = pricing_store.save_cluster_model(
        conn, storage_url, day, cm, entries, converged=result.converged,
        metrics={**result.metrics.as_dict(), **online_errors(result)},
        fit_config=cfg.as_dict(), notes=result.notes, snapshots=result.snapshots, books=books,
    )
    return ClusterFit(cluster, version, result, len(tickers))


# ----------------------------------------------------------------------------- settled parlays
_SETTLED = """
WITH legs AS (
    SELECT f.trading_day, f.combo_row_id, f.ts, (leg ->> 'market_ticker') AS market_ticker, (leg ->> 'side') AS side
    FROM marts.combo_features f, jsonb_array_elements(f.legs) AS leg
    WHERE f.row_kind = 'trade' AND NOT f.impossible AND f.trading_day <= %(day)s
),
graded AS (
    SELECT l.trading_day, l.combo_row_id,
           bool_and(m.result IS NOT NULL AND m.result IN ('yes', 'no')) AS settled,
           bool_and(m.result = l.side) AS won
    FROM legs l LEFT JOIN marts.markets m USING (market_ticker)
    GROUP BY 1, 2
)
SELECT f.*, g.won
FROM marts.combo_features f JOIN graded g USING (trading_day, combo_row_id)
WHERE g.settled
ORDER BY f.trading_day, f.ts
"""


def settled_parlays(conn: psycopg.Connection, day: date) -> pd.DataFrame:
    """Traded, possible parlays of ``day`` and earlier days whose every leg has settled, with ``won``."""
    return _frame(conn, _SETTLED, {"day": day})  # type: ignore[arg-type]


TRAIN_SHARE = 0.75  # of a day's settled parlays, in time order; the rest is held back for calibration


def split_settled(data: pd.DataFrame, day: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, held-back rows): earlier days plus the first 75 % of ``day``'s settled parlays, and
    the last 25 % of ``day``'s — the classifier never sees what calibration scores."""
    if data.empty:
        return data, data
    today = data[data["trading_day"] == day]
    cut = int(len(today) * TRAIN_SHARE)
    return pd.concat([data[data["trading_day"] < day], today.iloc[:cut]]), today.iloc[cut:]


def train_day_classifier(
    conn: psycopg.Connection, storage_url: str, day: date, config: catboost_parlay.CatBoostConfig | None = None
) -> tuple[str, catboost_parlay.ParlayClassifier, int]:
    """Train on the training part of :func:`split_settled`. Returns (version, classifier, rows held back)."""
    train_rows, held = split_settled(settled_parlays(conn, day), day)
    if train_rows.empty:
        clf = catboost_parlay.untrained("no settled parlays yet", config)
    else:
        clf = catboost_parlay.train(train_rows, train_rows["won"].astype(bool).to_numpy(), config)
    version = pricing_store.save_classifier(conn, storage_url, day, clf)
    return version, clf, len(held)


def latest_cluster_versions(conn: psycopg.Connection, day: date) -> dict[str, str]:
    rows = conn.execute(
        """SELECT DISTINCT ON (cluster_id) cluster_id, model_version FROM pricing.cluster_models
           WHERE trading_day = %s ORDER BY cluster_id, fitted_at DESC""", (day,)).fetchall()
    return {r[0]: r[1] for r in rows}


@dataclass(frozen=True)
class EnsembleBuild:
    version: str
    n_clusters: int
    classifier_version: str | None
    classifier_trained: bool
    calibration: pd.DataFrame  # member, n_parlays, brier, log_loss
    weights: dict[str, float] | None = None  # the member weights of the snapshot …
    weights_fitted: bool = False  # … chosen on the held-back parlays (else the configured ones)
    weight_note: str | None = None  # why the ensemble is worse than its best member there, or why not fitted
    # the snapshot's prices of the held-back parlays behind ``calibration`` (member → prices) and their outcomes
    predictions: dict[str, list[float]] = field(default_factory=dict)
    outcomes: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def held_back_rows(pricer: EnsemblePricer, held: pd.DataFrame) -> tuple[list[dict[str, float]], np.ndarray]:
    """Per held-back settled parlay the pricer can price, its members' prices (member → price, only the members
    that priced it) and the outcomes (1 won, 0 lost)."""
    rows: list[dict[str, float]] = []
    outcomes: list[float] = []
    for r in held.to_dict("records"):
        legs_json = r["legs"] if not isinstance(r["legs"], str) else json.loads(r["legs"])
        legs = [(leg["market_ticker"], leg["side"]) for leg in legs_json]
        try:
            q = pricer.quote(legs)
        except (KeyError, ValueError, ModelNotConverged):
            continue
        if q.impossible:
            continue
        rows.append({m.name: float(m.probability) for m in q.members})
        outcomes.append(1.0 if r["won"] else 0.0)
    return rows, np.array(outcomes)


def held_back_predictions(pricer: EnsemblePricer, held: pd.DataFrame) -> tuple[dict[str, list[float]], np.ndarray]:
    """Every member's and the ensemble's probability for each held-back settled parlay it can price, and the
    outcomes (1 won, 0 lost)."""
    preds: dict[str, list[float]] = {}
    outcomes: list[float] = []
    for r in held.to_dict("records"):
        legs_json = r["legs"] if not isinstance(r["legs"], str) else json.loads(r["legs"])
        legs = [(leg["market_ticker"], leg["side"]) for leg in legs_json]
        try:
            q = pricer.quote(legs)
        except (KeyError, ValueError, ModelNotConverged):
            continue
        outcomes.append(1.0 if r["won"] else 0.0)
        preds.setdefault("ensemble", []).append(q.probability)
        for m in q.members:
            preds.setdefault(m.name, []).append(m.probability)
    return preds, np.array(outcomes)


def calibration_table(preds: Mapping[str, Sequence[float]], y: np.ndarray) -> pd.DataFrame:
    """Brier score and log loss per member (and the ensemble) of :func:`held_back_predictions`' output."""
    rows = []
    for member, values in preds.items():
        if len(values) != len(y) or not len(y):
            continue  # a member that priced only some parlays is not comparable
        p = np.array(values)
        rows.append({"member": member, "n_parlays": len(y), "brier": float(np.mean((p - y) ** 2)),
                     "log_loss": _log_loss(p, y)})
    return pd.DataFrame(rows, columns=["member", "n_parlays", "brier", "log_loss"])


def build_day_ensemble(conn: psycopg.Connection, storage_url: str, day: date, classifier_version: str | None,
                       config: EnsembleConfig | None = None) -> EnsembleBuild:
    """Snapshot the day's newest cluster fits with the classifier. The member weights are chosen on the
    held-back part of :func:`split_settled` (lowest Brier score; the configured weights with fewer than
    :data:`~models.pricing.ensemble.MIN_WEIGHT_PARLAYS` parlays), then every member and the ensemble are
    calibrated on the same parlays; ``weight_note`` says why the ensemble is still worse than its best member."""
    versions = latest_cluster_versions(conn, day)
    if not versions:
        raise LookupError(f"no fitted cluster models for {day}: materialize pricing/ising_models first")
    base = config or EnsembleConfig()
    _, held = split_settled(settled_parlays(conn, day), day)
    rows, y = held_back_rows(pricing_store.assemble_pricer(conn, versions, classifier_version, base), held)
    fit = fit_member_weights(rows, y, base.weights())
    cfg = base
    if fit.fitted:
        w = fit.weights
        cfg = replace(base, ising_weight=w["ising"], copula_weight=w["copula"], catboost_weight=w["catboost"],
                      independence_weight=w["independence"])
    version = pricing_store.save_ensemble(conn, day, versions, classifier_version, cfg)
    pricer = pricing_store.load_pricer(conn, version=version)
    preds, y = held_back_predictions(pricer, held)
    cal = calibration_table(preds, y)
    with conn.transaction():
        conn.execute("DELETE FROM pricing.calibration WHERE ensemble_version = %s", (version,))
        for r in cal.to_dict("records"):
            conn.execute("INSERT INTO pricing.calibration VALUES (%s, %s, %s, %s, %s)",
                         (version, r["member"], r["n_parlays"], r["brier"], r["log_loss"]))
    return EnsembleBuild(version, len(versions), classifier_version, pricer.classifier is not None, cal,
                         cfg.weights(), fit.fitted, fit.note, preds, y)


# ----------------------------------------------------------------------------- real-data check
def real_data_check(pricer: EnsemblePricer, moneylines: list[str], max_parlays: int | None = None) -> pd.DataFrame:
    """Every 2- and 3-leg cross-game parlay of YES moneylines (one leg per game cluster): our price, the
    independence price of the model's marginals, the product of the markets' latest mids, and the Fréchet
    bounds. Games are independent clusters, so across games our price is the product of the fitted
    marginals: what the model adds is in those marginals (fitted to the whole day's flow) and the margin."""
    markets = pricer.markets()
    by_cluster: dict[str, list[str]] = {}
    for t in moneylines:
        if t in markets:
            by_cluster.setdefault(markets[t].cluster_id, []).append(t)
    rows = []
    clusters = sorted(by_cluster)
    for k in (2, 3):
        for combo in itertools.combinations(clusters, k):
            for pick in itertools.product(*(sorted(by_cluster[c]) for c in combo)):
                legs = [(t, "yes") for t in pick]
                q = pricer.quote(legs)
                mids = [markets[t].mid for t in pick]
                market_ind = float(np.prod(mids)) if all(m is not None for m in mids) else math.nan
                rows.append({"n_legs": k, "legs": " & ".join(pick), "price": q.probability,
                             "independence": q.raw_probability, "independence_market_mids": market_ind,
                             "frechet_lower": q.frechet_lower,
                             "frechet_upper": q.frechet_upper, "uncertainty": q.uncertainty,
                             "within_bounds": q.frechet_lower - 1e-12 <= q.probability <= q.frechet_upper + 1e-12})
                if max_parlays is not None and len(rows) >= max_parlays:
                    return pd.DataFrame(rows)
    return pd.DataFrame(rows)


def cross_game_over_session(conn: psycopg.Connection, day: date, pricer: EnsemblePricer,
                            moneylines: list[str]) -> pd.DataFrame:
    """:func:`real_data_check` at every model snapshot of the session: the models as they were fitted up to
    that instant, the markets' mids as of then. Column ``as_of``; the last rows are the end of the session."""
    snaps: dict[str, list] = {}
    for cid in pricer.clusters:
        row = conn.execute(
            "SELECT cluster_versions ->> %s FROM pricing.ensembles WHERE ensemble_version = %s",
            (cid, pricer.version)).fetchone()
        snaps[cid] = pricing_store.load_snapshots(conn, row[0]) if row and row[0] else []
    times = sorted({t for s in snaps.values() for t, _ in s})
    panel = _frame(conn, "SELECT market_ticker, minute, mid::float8 AS mid FROM marts.price_panel_1m "
                         "WHERE trading_day = %s AND market_ticker = ANY(%s) AND mid IS NOT NULL ORDER BY minute",
                   (day, moneylines))
    wide = (panel.pivot_table(index="minute", columns="market_ticker", values="mid", aggfunc="last").sort_index()
            .ffill()) if not panel.empty else pd.DataFrame()
    frames = []
    for t in times:
        clusters = {}
        for cid, cm in pricer.clusters.items():
            at = [m for ts, m in snaps[cid] if ts == t]
            if at:
                clusters[cid] = ClusterModel(cid, cm.variables, at[0], cm.copula_corr)
        if not clusters:
            continue
        info = {}
        prior = wide[wide.index <= t] if not wide.empty else wide
        for tk, m in pricer.markets().items():
            mid = float(prior[tk].iloc[-1]) if not prior.empty and tk in prior.columns and \
                pd.notna(prior[tk].iloc[-1]) else None
            info[tk] = MarketInfo(tk, m.cluster_id, m.event_ticker, m.title, m.yes_sub_title, m.no_sub_title, mid,
                                  m.probability, m.status, m.close_time)
        at_t = EnsemblePricer(clusters, pricer.literals, info, None, f"{pricer.version}@{t.isoformat()}",
                              pricer.config)
        table = real_data_check(at_t, moneylines)
        if not table.empty:
            table.insert(0, "as_of", t)
            frames.append(table)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def day_moneylines(conn: psycopg.Connection, day: date) -> list[str]:
    rows = conn.execute(
        """SELECT b.market_ticker FROM marts.binary_variables b JOIN marts.markets m USING (market_ticker)
           WHERE b.trading_day = %s AND m.market_family = 'moneyline' ORDER BY 1""", (day,)).fetchall()
    return [r[0] for r in rows]


def store_cross_game(conn: psycopg.Connection, day: date, version: str, table: pd.DataFrame) -> None:
    """Replace the day's rows of ``pricing.cross_game_parlays`` (``as_of`` column: the snapshot instant)."""
    with conn.transaction():
        conn.execute("DELETE FROM pricing.cross_game_parlays WHERE trading_day = %s", (day,))
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO pricing.cross_game_parlays (trading_day, ensemble_version, legs, n_legs, price,
                       independence, independence_market_mids, frechet_lower, frechet_upper, uncertainty, as_of)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                [(day, version, r["legs"], int(r["n_legs"]), float(r["price"]), float(r["independence"]),
                  None if math.isnan(r["independence_market_mids"]) else float(r["independence_market_mids"]),
                  float(r["frechet_lower"]), float(r["frechet_upper"]), float(r["uncertainty"]), r["as_of"])
                 for r in table.to_dict("records")],
            )


# the pricer as it stood at an instant of a replayed day (model snapshots and books stamped at or before it)
as_of_pricer = pricing_store.as_of_pricer
