"""Pricing assets (group ``pricing``): per-cluster Ising fits, the CatBoost member, the ensemble snapshot.

* ``pricing/game_clusters`` (daily) registers the day's clusters as partitions of ``game_clusters``;
* ``pricing/ising_models`` (partition: one game cluster) replay-fits one cluster and stores it; its checks: the fit
  converged (blocking — no quotes or hedges from a failed fit) and quotes on a sample of contracts are
  coherent (blocking);
* ``pricing/copula`` (daily) estimates each cluster's Gaussian-copula correlation from the features;
* ``pricing/catboost_model`` (daily) trains on settled parlays;
* ``pricing/ensemble`` (daily) snapshots the newest fit of every cluster with the classifier and reports
  calibration on held-back settled parlays; ``pricing/cross_game_parlays`` quotes every 2- and 3-leg
  cross-game moneyline parlay of the day (the real-data check).

Assets are thin: :mod:`parlay.pricing_runtime` does the work.
"""

from datetime import date

import dagster as dg
import numpy as np
import pandas as pd

from dagster_project.partitions import DAILY, GAME_CLUSTERS, TRADING_DAY_TAG, register_clusters, run_cluster
from dagster_project.plots import figure_png, frame_table, png_markdown, row_count
from dagster_project.resources import LakeResource, WarehouseResource
from models.pricing.coherence import audit_quotes
from models.pricing.replay import FIT_METRICS_EXPLAINED, prequential_regression
from parlay import pricing_runtime, pricing_store

GROUP = "pricing"


def pricing(name: str) -> dg.AssetKey:
    return dg.AssetKey(["pricing", name])


def marts(table: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", table])


def _day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def fit_day(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, conn, cluster: str) -> date:  # type: ignore[no-untyped-def]
    """The trading day a cluster fit uses: the run's ``parlay/trading_day`` tag, else the newest day on which
    the structural layer mapped the cluster."""
    tagged = context.run.tags.get(TRADING_DAY_TAG)
    if tagged:
        return date.fromisoformat(tagged)
    row = conn.execute("SELECT max(trading_day) FROM marts.binary_variables WHERE cluster_id = %s",
                       (cluster,)).fetchone()
    if row is None or row[0] is None:
        raise dg.Failure(f"game cluster {cluster} is on no trading day: materialize pricing/game_clusters first")
    return row[0]


@dg.asset(
    key=pricing("game_clusters"),
    deps=[marts("binary_variables")],
    group_name=GROUP,
    partitions_def=DAILY,
    description="The day's game clusters, registered as partitions of `game_clusters` (one Ising fit each).",
)
def game_clusters(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connection() as conn:
        clusters = pricing_runtime.day_clusters(conn, day)
    new = register_clusters(context.instance, clusters)
    return dg.MaterializeResult(metadata={"clusters": len(clusters), "new_partitions": len(new),
                                          "cluster_ids": dg.MetadataValue.json(clusters)})


@dg.asset(
    key=pricing("copula"),
    deps=[marts("pair_correlations"), marts("binary_variables")],
    group_name=GROUP,
    partitions_def=DAILY,
    description="The Gaussian copula member per game cluster: the variables' correlation estimated from the day's "
    "pairwise correlations of log-odds changes (signs flipped for negated literals), repaired to the nearest "
    "correlation matrix; stored per cluster (pricing.copula_fits + artifact).",
)
def copula(context: dg.AssetExecutionContext, warehouse: WarehouseResource, lake: LakeResource) -> dg.MaterializeResult:
    with warehouse.connection() as conn:
        rows = pricing_runtime.fit_day_copulas(conn, lake.url(), _day(context))
    return dg.MaterializeResult(metadata={
        "clusters": len(rows), "pairs_used": sum(int(r["pairs_used"]) for r in rows),  # type: ignore[call-overload]
        "repaired": sum(bool(r["repaired"]) for r in rows), "fits": dg.MetadataValue.json(rows)})


def _loss_plot(result: pricing_runtime.ClusterFit) -> bytes | None:
    traj = result.result.trajectory
    if traj.empty:
        return None

    def draw(ax) -> None:  # type: ignore[no-untyped-def]
        for kind, part in traj.groupby("kind"):
            loss = part["loss_before"].astype(float)
            ax.plot(np.arange(len(loss)), loss.rolling(25, min_periods=1).mean(), label=str(kind))
        ax.set_xlabel("update (per kind)")
        ax.set_ylabel("cross-entropy before update (rolling 25)")
        ax.set_title(f"Replay fit {result.cluster_id}")
        ax.legend()

    return figure_png(draw)


@dg.asset(
    key=pricing("ising_models"),
    deps=[pricing("game_clusters"), pricing("copula"), marts("binary_variables"), marts("price_panel_1m"),
          marts("combo_targets"), marts("markets")],
    group_name=GROUP,
    partitions_def=GAME_CLUSTERS,
    description="One game cluster's pairwise Ising model on the feasible states of its axes (nested thresholds: "
    "impossible outcomes have probability 0), replay-fitted by composite-likelihood SGD on the day's base-market "
    "mids (fields) and fee-corrected parlay targets (fields and couplings, kept junction-tree exact by a clique "
    "budget), with an LMSR book per observed contract and its shadow trades (full-AMM setting); parameters and "
    "books stored in object storage, the version in pricing.cluster_models. Fit metrics are prequential: "
    "initial_ce/initial_mae score the prior model (before any update) on every parlay target, final_ce/final_mae "
    "the model as it stood just before each target; final below initial means learning helped on unseen targets.",
)
def ising_models(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                 lake: LakeResource) -> dg.MaterializeResult:
    cluster = context.partition_key
    with warehouse.connection() as conn:
        day = fit_day(context, conn, cluster)
        context.log.info(f"fitting {cluster} on {day} …")
        fit = pricing_runtime.fit_day_cluster(conn, lake.url(), day, cluster)
    m = fit.result.metrics
    context.log.info(f"{cluster}: {m.n_variables} variables, {m.n_base_updates} base and {m.n_parlay_updates} parlay "
                     f"updates, converged={fit.result.converged}")
    meta: dict[str, object] = {
        "trading_day": day.isoformat(), "model_version": fit.model_version, "converged": fit.result.converged,
        "markets": fit.n_markets,
        **{k: v for k, v in m.as_dict().items() if v is not None},
        **pricing_runtime.online_errors(fit.result),
        "notes": dg.MetadataValue.json(list(fit.result.notes)),
        "metrics_explained": dg.MetadataValue.text(FIT_METRICS_EXPLAINED),
    }
    png = _loss_plot(fit)
    if png is not None:
        meta["fit_loss"] = png_markdown(png, f"fit loss {cluster}", lake.url())
    return dg.MaterializeResult(metadata=meta)  # type: ignore[arg-type]


def _latest_fit(conn, day: date, cluster: str) -> tuple[str, bool, dict]:  # type: ignore[no-untyped-def]
    row = conn.execute(
        """SELECT model_version, converged, metrics FROM pricing.cluster_models
           WHERE trading_day = %s AND cluster_id = %s ORDER BY fitted_at DESC LIMIT 1""", (day, cluster)).fetchone()
    if row is None:
        raise dg.Failure(f"no stored fit for {cluster} on {day}")
    return row[0], row[1], row[2]


def fit_converged_result(version: str, converged: bool, metrics: dict) -> dg.AssetCheckResult:  # type: ignore[type-arg]
    """The verdict of ``fit_converged`` from a stored fit: its inference converged, and its prequential
    cross-entropy (each target scored by the model just before it) is no worse than the prior model's."""
    regression = prequential_regression(metrics)
    reasons = ([] if converged else ["inference did not converge (skipped updates or a failed final model)"])
    reasons += [regression] if regression else []
    return dg.AssetCheckResult(passed=not reasons, metadata={
        "model_version": version, "skipped_updates": metrics.get("n_skipped"),
        "final_ce": metrics.get("final_ce"), "initial_ce": metrics.get("initial_ce"),
        "why": "; ".join(reasons) if reasons else "converged, and learning improved the prequential CE",
        "metrics_explained": FIT_METRICS_EXPLAINED})


@dg.asset_check(asset=pricing("ising_models"), blocking=True, partitions_def=GAME_CLUSTERS,
                description="The replay fit converged: every update's inference converged and the final model's "
                "moments are computable (no quotes or hedges from a failed fit), and learning helped: the "
                "prequential cross-entropy (each parlay target scored by the model just before it) is no worse "
                "than the prior model's.")
def fit_converged(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    cluster = run_cluster(context)
    with warehouse.connection() as conn:
        day = fit_day(context, conn, cluster)
        version, converged, metrics = _latest_fit(conn, day, cluster)
    return fit_converged_result(version, bool(converged), metrics)


@dg.asset_check(asset=pricing("ising_models"), blocking=True, partitions_def=GAME_CLUSTERS,
                description="Quotes on a sample of contracts (all 1-, 2- and 3-leg YES/NO combinations of up to 8 "
                "markets) are coherent before any clipping: the raw combination and the Ising member lie within "
                "the Fréchet bounds of the model's marginals, every clip the pricer applied counts as a failure, "
                "and YES + NO of every market sums to 1.")
def quotes_coherent(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    cluster = run_cluster(context)
    with warehouse.connection() as conn:
        day = fit_day(context, conn, cluster)
        version, _, _ = _latest_fit(conn, day, cluster)
        pricer = pricing_store.load_cluster_pricer(conn, version)
    report = audit_quotes(pricer, sorted(pricer.markets())[:8])
    return dg.AssetCheckResult(passed=report["violations"] == 0, metadata={
        "contracts_checked": report["contracts_checked"], "violations": report["violations"],
        "clips": report["clips"], "examples": dg.MetadataValue.json(report["examples"])})


@dg.asset(
    key=pricing("catboost_model"),
    deps=[marts("combo_features"), marts("markets")],
    group_name=GROUP,
    partitions_def=DAILY,
    description="The ensemble's ML member: CatBoost on settled parlays of this and earlier days (the last quarter "
    "of the day's settled parlays held back for calibration).",
)
def catboost_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                   lake: LakeResource) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connection() as conn:
        version, clf, held = pricing_runtime.train_day_classifier(conn, lake.url(), day)
    if not clf.trained:
        context.log.warning(f"CatBoost member untrained: {clf.reason}")
    return dg.MaterializeResult(metadata={
        "classifier_version": version, "trained": clf.trained, "reason": clf.reason or "",
        "held_back": held, **{k: v for k, v in clf.metrics.items() if isinstance(v, (int, float))}})


def reliability_table(preds: dict[str, list[float]], y: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Reliability (calibration) bins: per member and bin of predicted probability, the parlays in it, their mean
    predicted probability and the share that won."""
    rows = []
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    for member, values in preds.items():
        if len(values) != len(y) or not len(y):
            continue
        p = np.asarray(values, dtype=float)
        which = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
        for b in range(n_bins):
            inside = which == b
            if inside.any():
                rows.append({"member": member, "bin": f"{edges[b]:.1f}–{edges[b + 1]:.1f}",
                             "parlays": int(inside.sum()), "mean_predicted": float(p[inside].mean()),
                             "observed_win_rate": float(y[inside].mean())})
    return pd.DataFrame(rows, columns=["member", "bin", "parlays", "mean_predicted", "observed_win_rate"])


def _reliability_plot(bins: pd.DataFrame, day: date) -> bytes:
    def draw(ax) -> None:  # type: ignore[no-untyped-def]
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="perfectly calibrated")
        for member, part in bins.groupby("member"):
            style = {"lw": 2.2, "zorder": 3} if member == "ensemble" else {"lw": 1.0, "alpha": 0.7}
            ax.plot(part["mean_predicted"], part["observed_win_rate"], marker="o", label=str(member), **style)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("predicted probability (bin mean)")
        ax.set_ylabel("observed win rate")
        ax.set_title(f"Reliability on held-back settled parlays, {day}")
        ax.legend(fontsize=7)

    return figure_png(draw, size=(6, 4.2))


@dg.asset(
    key=pricing("ensemble"),
    deps=[pricing("ising_models"), pricing("catboost_model")],
    group_name=GROUP,
    partitions_def=DAILY,
    description="The quoting snapshot: newest Ising fit of every cluster + Gaussian copula + independence + "
    "CatBoost, weighted by member weights chosen on the held-back settled parlays (lowest Brier score; a note "
    "says why whenever the ensemble is still worse there than its best member); calibration (Brier, log loss) "
    "of every member on those parlays, and a "
    "reliability plot (predicted probability vs observed win rate, by bin).",
)
def ensemble(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
             lake: LakeResource) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connection() as conn:
        clf_row = conn.execute(
            "SELECT classifier_version FROM pricing.classifiers WHERE trading_day = %s ORDER BY fitted_at DESC LIMIT 1",
            (day,)).fetchone()
        build = pricing_runtime.build_day_ensemble(conn, lake.url(), day, clf_row[0] if clf_row else None)
    cal = build.calibration
    meta: dict[str, object] = {"ensemble_version": build.version, "clusters": build.n_clusters,
                               "catboost_member": build.classifier_trained,
                               "calibration": frame_table(cal) if not cal.empty
                               else dg.MetadataValue.text("no held-back settled parlays")}
    meta["member_weights"] = dg.MetadataValue.json(build.weights or {})
    meta["weights_chosen_on_held_back"] = build.weights_fitted
    if build.weight_note:
        meta["ensemble_vs_best_member"] = dg.MetadataValue.text(build.weight_note)
    for r in cal.to_dict("records"):
        meta[f"brier_{r['member']}"] = float(r["brier"])
        meta[f"log_loss_{r['member']}"] = float(r["log_loss"])
    bins = reliability_table(build.predictions, build.outcomes)
    if not bins.empty:
        meta["reliability"] = frame_table(bins, 60)
        meta["reliability_plot"] = png_markdown(_reliability_plot(bins, day), f"reliability {day}", lake.url())
    return dg.MaterializeResult(metadata=meta)  # type: ignore[arg-type]


def calibration_result(rows: list[tuple]) -> dg.AssetCheckResult:  # type: ignore[type-arg]
    """The verdict of ``ensemble_calibrated`` from the ensemble's ``pricing.calibration`` rows (member, n_parlays,
    brier, log_loss): passed when the ensemble's Brier score is no worse than the independence price's by more
    than 0.01. No held-back parlays to score is *not* a pass: the check fails with a warning that says so."""
    by = {r[0]: r for r in rows}
    if "ensemble" not in by or "independence" not in by or not by["ensemble"][1]:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, metadata={
            "note": "no data: no held-back settled parlays to score, calibration unknown", "n_parlays": 0})
    passed = by["ensemble"][2] <= by["independence"][2] + 0.01
    return dg.AssetCheckResult(passed=bool(passed), severity=dg.AssetCheckSeverity.WARN, metadata={
        "n_parlays": by["ensemble"][1], "brier_ensemble": by["ensemble"][2],
        "brier_independence": by["independence"][2],
        "log_loss_ensemble": by["ensemble"][3], "log_loss_independence": by["independence"][3]})


@dg.asset_check(asset=pricing("ensemble"), partitions_def=DAILY,
                description="Calibration on held-back settled parlays: the ensemble's Brier score is no worse than "
                "the independence price's by more than 0.01 (warning). No held-back parlays is a failed warning "
                "(no data), never a pass.")
def ensemble_calibrated(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from dagster_project.partitions import run_day

    day = run_day(context)
    with warehouse.connection() as conn:
        found = pricing_store.latest_ensemble(conn, day)
        rows = conn.execute("SELECT member, n_parlays, brier, log_loss FROM pricing.calibration "
                            "WHERE ensemble_version = %s", (found[0],)).fetchall() if found else []
    return calibration_result(rows)


@dg.asset(
    key=pricing("cross_game_parlays"),
    deps=[pricing("ensemble")],
    group_name=GROUP,
    partitions_def=DAILY,
    description="Real-data check: every 2- and 3-leg cross-game parlay of the day's moneylines (YES legs, one per "
    "game) priced over the session (hourly model snapshots), beside the independence price, the product of "
    "the markets' mids and the Fréchet bounds (table pricing.cross_game_parlays, column as_of).",
)
def cross_game_parlays(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connection() as conn:
        pricer = pricing_store.load_pricer(conn, day=day)
        table = pricing_runtime.cross_game_over_session(conn, day, pricer, pricing_runtime.day_moneylines(conn, day))
        pricing_runtime.store_cross_game(conn, day, pricer.version, table)
    meta: dict[str, object] = {"rows": len(table), **row_count(len(table))}
    if not table.empty:
        last = table[table["as_of"] == table["as_of"].max()]
        meta.update({
            "instants": int(table["as_of"].nunique()), "parlays_per_instant": len(last),
            "outside_frechet": int((~table["within_bounds"]).sum()),
            "mean_abs_vs_market_mids": float((table["price"] - table["independence_market_mids"]).abs().mean()),
            "end_of_session": frame_table(last.drop(columns=["as_of"]), 20),
        })
    return dg.MaterializeResult(metadata=meta)  # type: ignore[arg-type]


ASSETS = [game_clusters, copula, ising_models, catboost_model, ensemble, cross_game_parlays]
CHECKS = [fit_converged, quotes_coherent, ensemble_calibrated]
