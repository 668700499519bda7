"""``parlay report``: a day's monitoring in a dozen lines, read from schema ``monitoring``."""

from __future__ import annotations

from datetime import date

import psycopg

from models.risk import RiskConfig
from parlay.monitoring_runtime import TOTAL, active_pauses


class NoMonitoring(LookupError):
    """The day has no monitoring rows."""


def latest_day(conn: psycopg.Connection) -> date | None:
    return conn.execute("SELECT max(trading_day) FROM monitoring.pnl").fetchone()[0]


def _money(x: object) -> str:
    v = float(x)  # type: ignore[arg-type]
    return f"{'-' if v < 0 else '+'}${abs(v):,.2f}"


def _pct(x: object, digits: int = 1) -> str:
    return "n/a" if x is None else f"{float(x):.{digits}%}"  # type: ignore[arg-type]


def _num(x: object, fmt: str = ".3f") -> str:
    return "n/a" if x is None else format(float(x), fmt)  # type: ignore[arg-type]


def report(conn: psycopg.Connection, day: date, cfg: RiskConfig | None = None) -> list[str]:
    """The summary lines of ``day``: P&L, pool, hedge quality, drift, checks, hedging state."""
    cfg = cfg or RiskConfig()
    last = conn.execute("SELECT max(hour) FROM monitoring.pnl WHERE trading_day = %s", (day,)).fetchone()[0]
    if last is None:
        raise NoMonitoring(f"no monitoring for {day}: run `parlay run --date {day}` (it materializes monitoring/*)")
    final = {
        (c, comp): (r, u, t)
        for c, comp, r, u, t in conn.execute(
            "SELECT cluster_id, component, realized, unrealized, total FROM monitoring.pnl "
            "WHERE trading_day = %s AND hour = %s",
            (day, last),
        ).fetchall()
    }
    out = [f"Monitoring {day}  (schema monitoring; last hour {last:%Y-%m-%d %H:%M} UTC)"]
    r, u, t = final.get((TOTAL, "book"), (0, 0, 0))
    bets, hedges = final.get((TOTAL, "bets"), (0, 0, 0)), final.get((TOTAL, "hedges"), (0, 0, 0))
    out.append(
        f"P&L      book {_money(t)} (realized {_money(r)}, unrealized {_money(u)}) · "
        f"bets {_money(bets[2])} · hedges {_money(hedges[2])}"
    )
    clusters = sorted(
        ((c, v[2]) for (c, comp), v in final.items() if comp == "book" and c != TOTAL),
        key=lambda cv: -abs(float(cv[1])),
    )
    if clusters:
        shown = " · ".join(f"{c} {_money(v)}" for c, v in clusters[:4])
        more = f" · {len(clusters) - 4} more" if len(clusters) > 4 else ""
        out.append(f"         by cluster: {shown}{more}")
    pool = conn.execute(
        """SELECT (array_agg(cash ORDER BY at DESC))[1], (array_agg(equity ORDER BY at DESC))[1], max(peak),
                  max(drawdown), max(utilization), (array_agg(source))[1], count(*)
           FROM monitoring.lp_pool WHERE trading_day = %s""",
        (day,),
    ).fetchone()
    if pool and pool[6]:
        out.append(
            f"LP pool  cash ${float(pool[0]):,.0f} · equity ${float(pool[1]):,.0f} · peak ${float(pool[2]):,.0f}"
            f" · max drawdown {_pct(pool[3], 2)} (limit {cfg.max_drawdown:.0%}) · max utilization "
            f"{_pct(pool[4])}  [{pool[6]} points from {pool[5]}]"
        )
    h = conn.execute(
        """SELECT orders, orders_filled, fill_ratio, mean_slippage_cents, max_slippage_cents, median_seconds_to_fill,
                  effectiveness, var_unhedged, var_hedged, settled_bets FROM monitoring.hedge_summary
           WHERE trading_day = %s""",
        (day,),
    ).fetchone()
    if h:
        eff = f"effectiveness {_pct(h[6])} (variance {_num(h[7], ',.0f')} → {_num(h[8], ',.0f')}, {h[9]} settled bets)"
        out.append(
            f"Hedges   {h[0]} orders ({h[1]} filled), fill ratio {_pct(h[2])} · slippage mean {_num(h[3], '.2f')}¢"
            f", worst {_num(h[4], '.2f')}¢ · median time to fill {_num(h[5], '.2f')} s"
        )
        out.append(f"         {eff}")
    cal = conn.execute(
        "SELECT settled_day, source, n, brier, log_loss FROM monitoring.calibration "
        "WHERE trading_day = %s ORDER BY settled_day DESC, source",
        (day,),
    ).fetchall()
    bets_cal = [c for c in cal if c[1] == "bets"]
    held = [c for c in cal if c[1] == "held_back"]
    parts = []
    if bets_cal:
        d, _, n, b, ll = bets_cal[0]
        parts.append(f"settled bets of {d}: Brier {_num(b)}, log loss {_num(ll)} (n={n})")
    if held:
        parts.append(f"held-back parlays: Brier {_num(held[0][3])} (n={held[0][2]})")
    psi = conn.execute(
        "SELECT feature, psi FROM monitoring.feature_drift WHERE trading_day = %s AND psi IS NOT NULL "
        "ORDER BY psi DESC LIMIT 1",
        (day,),
    ).fetchone()
    n_psi = conn.execute(
        "SELECT count(*) FILTER (WHERE psi > 0.25), count(*) FROM monitoring.feature_drift WHERE trading_day = %s",
        (day,),
    ).fetchone()
    params = conn.execute(
        "SELECT max(max_abs_dh), max(max_abs_dj), count(DISTINCT cluster_id) "
        "FROM monitoring.parameter_drift WHERE trading_day = %s",
        (day,),
    ).fetchone()
    out.append("Drift    " + (" · ".join(parts) or "no settled parlays scored"))
    drift = []
    if psi:
        drift.append(f"max PSI {float(psi[1]):.3f} ({psi[0]}), {n_psi[0]} of {n_psi[1]} features > 0.25")
    if params and params[2]:
        drift.append(
            f"parameter drift max |Δh| {_num(params[0])}, max |ΔJ| {_num(params[1])} over {params[2]} clusters"
        )
    if drift:
        out.append("         " + " · ".join(drift))
    checks = conn.execute(
        "SELECT check_name, grade, detail FROM monitoring.check_results WHERE trading_day = %s "
        "ORDER BY CASE grade WHEN 'error' THEN 0 WHEN 'warn' THEN 1 ELSE 2 END, check_name",
        (day,),
    ).fetchall()
    grades = [g for _, g, _ in checks]
    failed = [c for c in checks if c[1] != "ok"]
    out.append(
        f"Checks   {len(checks)} evaluated: {grades.count('ok')} ok, {grades.count('warn')} warn, "
        f"{grades.count('error')} error" + ("" if failed else " — nothing failed")
    )
    for name, grade, detail in failed:
        out.append(f"  {grade.upper():5s}  {name}: {detail}")
    pauses = active_pauses(conn)
    if pauses:
        at, d, check, reason = pauses[0]
        out.append(
            f"Hedging  PAUSED since {at:%Y-%m-%d %H:%M} UTC by {check} ({d}): {reason} "
            f"[{len(pauses)} active; `parlay resume-hedging` lifts them]"
        )
    else:
        out.append("Hedging  not paused")
    return out
