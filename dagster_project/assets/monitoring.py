"""Monitoring (group ``monitoring``): P&L, the LP pool, hedge quality and model drift of a trading day.

Each asset replaces its day's rows in schema ``monitoring`` and shows a table (with its schema and
``dagster/row_count``) and a PNG plot in its metadata:

* ``monitoring/pnl`` — hourly realized and unrealized P&L, per game cluster and in total, bets and hedges apart;
* ``monitoring/lp_pool`` — cash, equity, peak, drawdown and utilization (worst case / cash) over the day;
* ``monitoring/hedge_quality`` — slippage against the mid at decision time, fill ratio, time to fill, hedge
  effectiveness (variance of the settled bets' book P&L, hedged vs unhedged, under the model's joint law);
* ``monitoring/model_drift`` — calibration of settled parlays by day (Brier, log loss, reliability diagram),
  parameter drift between consecutive fits of a cluster, PSI of the CatBoost member's features.

The checks grade a metric against :data:`parlay.monitoring_runtime.THRESHOLDS`: a failure is WARN (early
warning) or ERROR (trading must stop: ``monitoring_halt_sensor`` pauses the hedge schedule). None blocks: a failed
check never stops the day's run.
"""

import math
from datetime import date

import dagster as dg
import pandas as pd

from dagster_project.assets.book import key
from dagster_project.partitions import DAILY, run_day
from dagster_project.plots import figure_png, frame_table, png_markdown, row_count
from dagster_project.resources import LakeResource, WarehouseResource
from parlay import monitoring_runtime as mon
from parlay import pricing_store

GROUP = "monitoring"


def slippage_bins(values: pd.Series, n: int = 20) -> list[float]:
    """Histogram edges for slippage in cents: ``n`` equal bins over the range, or one bin a cent wide when every
    fill slipped (almost) the same (a range too narrow for ``n`` finite bins)."""
    v = values.astype(float).round(4)
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 0.01:
        return [lo - 0.5, hi + 0.5]
    return [lo + (hi - lo) * i / n for i in range(n + 1)]


def mkey(name: str) -> dg.AssetKey:
    return key("monitoring", name)


def _day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def _table(frame: pd.DataFrame, n: int = 25) -> dg.MetadataValue:
    return frame_table(frame, n) if not frame.empty else dg.MetadataValue.text("no rows for this day")


def _pnl_plot(frame: pd.DataFrame, day: object) -> bytes:
    total = frame[frame["cluster_id"] == mon.TOTAL]

    def draw(ax) -> None:  # type: ignore[no-untyped-def]
        for comp, style in (("bets", {"lw": 1.2}), ("hedges", {"lw": 1.2}), ("book", {"lw": 2.2, "color": "black"})):
            part = total[total["component"] == comp]
            ax.plot(part["hour"], part["total"].astype(float), label=f"{comp} (realized + unrealized)", **style)
            if comp == "book":
                ax.plot(part["hour"], part["realized"].astype(float), ls="--", color="grey", label="book realized")
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_ylabel("house P&L ($)")
        ax.set_title(f"Hourly P&L of {day}'s bets and hedges")
        ax.legend(fontsize=7)
        ax.tick_params(axis="x", labelsize=7, rotation=30)

    return figure_png(draw)


def _pool_plot(frame: pd.DataFrame, day: object) -> bytes:
    def draw(ax) -> None:  # type: ignore[no-untyped-def]
        ax.plot(frame["at"], frame["cash"].astype(float), label="cash", lw=1.0)
        ax.plot(frame["at"], frame["equity"].astype(float), label="equity", lw=2.0)
        ax.plot(frame["at"], frame["peak"].astype(float), label="peak", lw=1.0, ls="--")
        ax.set_ylabel("$")
        ax.tick_params(axis="x", labelsize=7, rotation=30)
        right = ax.twinx()
        right.plot(frame["at"], frame["drawdown"].astype(float), color="tab:red", lw=1.0, label="drawdown")
        right.plot(frame["at"], frame["utilization"].astype(float), color="tab:purple", lw=1.0, label="utilization")
        right.set_ylabel("share")
        lines = ax.get_legend_handles_labels()
        more = right.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="best")
        ax.set_title(f"LP pool over {day} (source: {frame['source'].iloc[0] if len(frame) else '-'})")

    return figure_png(draw)


def _hedge_plot(frame: pd.DataFrame, summary: dict, day: object) -> bytes:
    slip = frame.dropna(subset=["slippage_cents"])

    def draw(ax) -> None:  # type: ignore[no-untyped-def]
        if slip.empty:
            ax.text(0.5, 0.5, "no fills against a known mid", ha="center", va="center")
        else:
            ax.hist(slip["slippage_cents"].astype(float).round(4), bins=slippage_bins(slip["slippage_cents"]),
                    color="tab:blue", alpha=0.8)
            ax.axvline(0, color="grey", lw=0.8)
        ax.set_xlabel("slippage vs mid at decision time (¢ per contract)")
        ax.set_ylabel("orders")
        fr, eff = summary.get("fill_ratio"), summary.get("effectiveness")
        ax.set_title(f"Hedge fills {day}: fill ratio {fr:.0%}" if fr is not None else f"Hedge fills {day}", fontsize=9)
        if eff is not None:
            ax.text(
                0.98, 0.95, f"hedge effectiveness {eff:.1%}", transform=ax.transAxes, ha="right", va="top", fontsize=8
            )

    return figure_png(draw)


def _reliability_plot(rel: pd.DataFrame, cal: pd.DataFrame, day: object) -> bytes:
    def draw(ax) -> None:  # type: ignore[no-untyped-def]
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="perfectly calibrated")
        if not rel.empty:
            ax.plot(rel["mean_predicted"], rel["observed_rate"], marker="o", lw=1.8, label="settled bets")
            for r in rel.to_dict("records"):
                ax.annotate(
                    str(r["n"]),
                    (r["mean_predicted"], r["observed_rate"]),
                    fontsize=7,
                    textcoords="offset points",
                    xytext=(3, 3),
                )
        bets = cal[cal["source"] == "bets"]
        scores = (
            f" — Brier {bets['brier'].iloc[-1]:.3f}, log loss {bets['log_loss'].iloc[-1]:.3f}" if not bets.empty else ""
        )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("quoted probability (bin mean)")
        ax.set_ylabel("observed win rate")
        ax.set_title(f"Reliability of {day}'s settled bets{scores}", fontsize=9)
        ax.legend(fontsize=7)

    return figure_png(draw, size=(6, 4.2))


def _psi_plot(psi: pd.DataFrame, day: object) -> bytes:
    shown = psi.dropna(subset=["psi"]).sort_values("psi")

    def draw(ax) -> None:  # type: ignore[no-untyped-def]
        ax.barh(shown["feature"], shown["psi"].astype(float), color="tab:orange")
        ax.axvline(0.10, color="grey", lw=0.8, ls=":")
        ax.axvline(0.25, color="tab:red", lw=0.8, ls="--", label="0.25: significant drift")
        ax.set_xlabel("PSI (training rows → held-back rows)")
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(f"Feature drift of the CatBoost member, {day}", fontsize=9)
        ax.legend(fontsize=7)

    return figure_png(draw, size=(6, 4.2))


# ----------------------------------------------------------------------------- assets


@dg.asset(
    key=mkey("pnl"),
    deps=[key("ledger", "pnl")],
    group_name=GROUP,
    partitions_def=DAILY,
    description="Hourly realized and unrealized P&L of the day's bets and hedges, per game cluster and in total "
    "(table monitoring.pnl): bets marked at their quoted probability re-marked by their legs' mids, hedges at "
    "the mid; realized when the markets close.",
)
def pnl(context: dg.AssetExecutionContext, warehouse: WarehouseResource, lake: LakeResource) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connection() as conn:
        book = mon.load_day(conn, day)
        frame = mon.pnl_frame(book)
        mon.store_pnl(conn, day, frame)
    total = frame[frame["cluster_id"] == mon.TOTAL]
    last = total[total["hour"] == total["hour"].max()] if not total.empty else total
    final = {r["component"]: r for r in last.to_dict("records")}
    meta: dict[str, object] = {
        **row_count(len(frame)),
        "hours": int(frame["hour"].nunique()) if not frame.empty else 0,
        "clusters": int(frame["cluster_id"].nunique() - 1) if not frame.empty else 0,
        "table": _table(total.sort_values(["hour", "component"]), 40),
    }
    for comp in ("bets", "hedges", "book"):
        if comp in final:
            meta[f"{comp}_realized"] = float(final[comp]["realized"])
            meta[f"{comp}_unrealized"] = float(final[comp]["unrealized"])
    if not frame.empty:
        meta["plot"] = png_markdown(_pnl_plot(frame, day), f"monitoring pnl {day}", lake.url())
    return dg.MaterializeResult(metadata=meta)  # type: ignore[arg-type]


@dg.asset(
    key=mkey("lp_pool"),
    deps=[key("ledger", "pnl")],
    group_name=GROUP,
    partitions_def=DAILY,
    description="The LP pool over the day (table monitoring.lp_pool): cash, equity, peak, drawdown and "
    "utilization (worst-case payout / cash), at the day's ledger.equity_marks when it has some, else hourly "
    "from the ledger's cash flows.",
)
def lp_pool(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, lake: LakeResource
) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connection() as conn:
        book = mon.load_day(conn, day)
        try:
            defs = pricing_store.load_pricer(conn, day=day).market_defs()
        except LookupError:
            defs = None
        frame = mon.pool_frame(conn, book, defs)
        mon.store_pool(conn, day, frame)
    meta: dict[str, object] = {**row_count(len(frame)), "table": _table(frame, 40)}
    if not frame.empty:
        meta.update(
            {
                "source": str(frame["source"].iloc[0]),
                "max_drawdown": float(frame["drawdown"].max()),
                "max_utilization": float(frame["utilization"].dropna().max())
                if frame["utilization"].notna().any()
                else None,
                "final_equity": float(frame["equity"].iloc[-1]),
                "final_cash": float(frame["cash"].iloc[-1]),
                "plot": png_markdown(_pool_plot(frame, day), f"monitoring lp_pool {day}", lake.url()),
            }
        )
    return dg.MaterializeResult(metadata=meta)  # type: ignore[arg-type]


@dg.asset(
    key=mkey("hedge_quality"),
    deps=[key("ledger", "pnl")],
    group_name=GROUP,
    partitions_def=DAILY,
    description="Hedge quality (tables monitoring.hedge_quality per order, monitoring.hedge_summary per day): "
    "slippage in cents against the mid at decision time, fill ratio, time to fill, and hedge effectiveness "
    "1 − Var(hedged) / Var(unhedged) of the settled bets' book P&L under the model's joint law.",
)
def hedge_quality(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, lake: LakeResource
) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connection() as conn:
        book = mon.load_day(conn, day)
        try:
            pricer = pricing_store.load_pricer(conn, day=day)
            joint, known = pricer.joint, set(pricer.markets())
        except LookupError:
            joint, known = None, None
        q = mon.hedge_quality(conn, book, joint, known)
        mon.store_hedge_quality(conn, day, q)
    s = q.summary
    meta: dict[str, object] = {
        **row_count(len(q.orders)),
        "table": _table(q.orders, 30),
        "summary": dg.MetadataValue.json({k: _plain(v) for k, v in s.items()}),
    }
    for k in (
        "fill_ratio",
        "mean_slippage_cents",
        "median_seconds_to_fill",
        "effectiveness",
        "var_unhedged",
        "var_hedged",
    ):
        meta[k] = _plain(s.get(k))
    meta["plot"] = png_markdown(_hedge_plot(q.orders, s, day), f"monitoring hedge_quality {day}", lake.url())
    return dg.MaterializeResult(metadata=meta)  # type: ignore[arg-type]


def _plain(v: object) -> object:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return float(v) if not isinstance(v, (int, str, bool)) else v  # type: ignore[arg-type]


@dg.asset(
    key=mkey("model_drift"),
    deps=[key("ledger", "pnl"), key("pricing", "ensemble")],
    group_name=GROUP,
    partitions_def=DAILY,
    description="Model drift (tables monitoring.calibration, reliability, parameter_drift, feature_drift): "
    "Brier and log loss of settled parlays by settlement day and a reliability diagram, parameter drift "
    "between consecutive fits (and session checkpoints) of each cluster, and the PSI of the CatBoost "
    "member's features, training rows vs held-back rows.",
)
def model_drift(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, lake: LakeResource
) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connection() as conn:
        d = mon.model_drift(conn, day)
        mon.store_drift(conn, day, d)
    n = len(d.calibration) + len(d.reliability) + len(d.parameters) + len(d.features)
    meta: dict[str, object] = {
        **row_count(n),
        "table": _table(d.calibration, 30),
        "reliability": _table(d.reliability),
        "parameter_drift": _table(d.parameters.sort_values("max_abs_dh", ascending=False), 20),
        "feature_drift": _table(d.features.sort_values("psi", ascending=False, na_position="last"), 25),
        "reliability_plot": png_markdown(
            _reliability_plot(d.reliability, d.calibration, day), f"monitoring reliability {day}", lake.url()
        ),
    }
    if not d.features.empty:
        meta["psi_plot"] = png_markdown(_psi_plot(d.features, day), f"monitoring psi {day}", lake.url())
        meta["max_psi"] = _plain(d.features["psi"].max())
    if not d.parameters.empty:
        meta["max_abs_dh"] = float(d.parameters["max_abs_dh"].max())
        meta["max_abs_dJ"] = float(d.parameters["max_abs_dj"].max())
    return dg.MaterializeResult(metadata=meta)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- checks


SEVERITY = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN, "ok": dg.AssetCheckSeverity.WARN}


def _result(warehouse: WarehouseResource, context: dg.AssetCheckExecutionContext, grade_fn) -> dg.AssetCheckResult:  # type: ignore[no-untyped-def]
    day = run_day(context)
    with warehouse.connection() as conn:
        v = grade_fn(conn, day)
        mon.store_verdict(conn, day, v)
    return dg.AssetCheckResult(
        passed=v.grade == "ok",
        severity=SEVERITY[v.grade],
        description=f"{v.grade.upper()}: {v.detail}",
        metadata={
            "grade": v.grade,
            "value": _plain(v.value),
            "warn_level": v.threshold.warn,
            "error_level": v.threshold.error,
            "detail": v.detail,
        },
    )


def _thresholds(name: str) -> str:
    t = mon.THRESHOLDS[name]
    return f"WARN at {t.warn}" + (f", ERROR at {t.error}" if t.error is not None else " (no ERROR level)")


@dg.asset_check(
    asset=mkey("lp_pool"),
    partitions_def=DAILY,
    blocking=False,
    description="The day's largest LP drawdown as a share of the risk limit (max_drawdown): "
    f"{_thresholds('drawdown_near_limit')}.",
)
def drawdown_near_limit(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(warehouse, context, mon.check_drawdown)


@dg.asset_check(
    asset=mkey("hedge_quality"),
    partitions_def=DAILY,
    blocking=False,
    description=f"Fill ratio (filled / ordered contracts) above its floor: {_thresholds('fill_ratio_floor')} "
    "(at or below).",
)
def fill_ratio_floor(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(warehouse, context, mon.check_fill_ratio)


@dg.asset_check(
    asset=mkey("hedge_quality"),
    partitions_def=DAILY,
    blocking=False,
    description="Mean slippage against the mid at decision time (¢ per contract) below its ceiling: "
    f"{_thresholds('slippage_ceiling')}.",
)
def slippage_ceiling(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(warehouse, context, mon.check_slippage)


@dg.asset_check(
    asset=mkey("model_drift"),
    partitions_def=DAILY,
    blocking=False,
    description="Brier score of the latest settled day no worse than the recent average (the days "
    f"before, up to {mon.RECENT_DAYS}): {_thresholds('calibration_vs_recent')} (difference).",
)
def calibration_vs_recent(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(warehouse, context, mon.check_calibration)


@dg.asset_check(
    asset=mkey("model_drift"),
    partitions_def=DAILY,
    blocking=False,
    description="Feature drift: the largest PSI of the CatBoost member's features, training vs held-back "
    f"rows: {_thresholds('feature_psi')}.",
)
def feature_psi(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(warehouse, context, mon.check_psi)


ASSETS = [pnl, lp_pool, hedge_quality, model_drift]
CHECKS = [drawdown_near_limit, fill_ratio_floor, slippage_ceiling, calibration_vs_recent, feature_psi]
