"""``parlay evaluate replay``: a stored day replayed against its combo trades, in the paper's Table 4 form.

For every combo trade of the day (``marts.combo_features``, settled legs only; on a recorded day these are
the simulated flow over the real legs, ``parlay run --combo-flow simulated``), each strategy's pre-trade quote:

* ``kalshi_execution``: the observed execution price (takes every trade);
* ``independence``: the product of the legs' book probabilities just before the trade
  (``marts.combo_features.independence_price``), no margin;
* ``standalone_mm``: the ensemble as it stood before the trade (:func:`parlay.pricing_store.as_of_pricer`: the
  last 15-minute model snapshot at or before it, books at or before it) through the risk engine's margin and
  limits (:func:`models.risk.evaluate`, the quote API's rules, with the trades it took so far as its book);
* ``full_amm``: the Ising model alone at the same snapshot, the price every LMSR book is held at by the shadow
  trades; its capital is the sum of per-combo book losses;
* ``standalone_mm_uncorrected`` (the fee-correction ablation): ``standalone_mm`` whose cluster fits learned
  from the fee-inflated targets (``target_clipped``) instead of the targets net of the markup, refitted in
  memory.

Acceptance and the figures: :mod:`models.evaluation_replay`. Results go to ``evaluation.replay_runs`` and
``evaluation.replay_strategies``; plots (cumulative P&L per strategy, calibration of accepted trades) to object
storage as PNG.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

import fsspec
import pandas as pd
import psycopg

from models.evaluation_replay import (
    STRATEGIES,
    Fill,
    ReplayTrade,
    StrategyResult,
    book_losses,
    evaluate_strategy,
    fills_of,
    mean_and_2se,
)
from models.pricing.ensemble import EnsemblePricer
from models.pricing.ising import IsingModel
from models.pricing.quotes import ModelNotConverged, UnknownMarket
from models.risk import Book, BookBet, MarketDef, PoolState, RiskConfig, evaluate
from models.simulator.combo_flow import FLOW_COLLECTION
from parlay import pricing_runtime, pricing_store
from parlay.config import risk_config

ABLATION = "standalone_mm_uncorrected"
ALL_STRATEGIES = (*STRATEGIES, ABLATION)
LP_CAPITAL = Decimal("100000")
PRICE_PLACES = Decimal("0.0001")
Log = Callable[[str], None]


@dataclass
class DayReplay:
    """One replayed day: its trades, every strategy's quotes (by trade id) and rows."""

    day: date
    setting: str
    trades: list[ReplayTrade]
    quotes: dict[str, dict[str, Decimal | None]]
    capital: dict[str, Decimal] = field(default_factory=dict)
    unsettled: int = 0
    refusals: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0

    def results(self) -> list[StrategyResult]:
        return [evaluate_strategy(s, self.trades, self.quotes[s], self.capital.get(s)) for s in self.quotes]


def _dec(p: float) -> Decimal:
    return Decimal(repr(min(max(float(p), 0.0), 1.0))).quantize(PRICE_PLACES, rounding=ROUND_HALF_UP)


def day_setting(conn: psycopg.Connection, day: date) -> str:
    """How the day's combo flow came about, said plainly in the report (from its combos' collection)."""
    rows = conn.execute("SELECT DISTINCT split_part(combo_ticker, '-', 1) FROM marts.combo_features "
                        "WHERE trading_day = %s AND row_kind = 'trade'", (day,)).fetchall()
    collections = {r[0] for r in rows}
    if FLOW_COLLECTION in collections:
        return ("real legs (captures) with a simulated combo flow: informed traders who know the legs' later real "
                "prices, noise traders, execution at the ask with the fee markup, settled on the real outcomes")
    if any(c.startswith("KXMVESIM") for c in collections):
        return "simulated day: simulated legs and simulated combo flow"
    return "combo trades as recorded: " + (", ".join(sorted(collections)) or "none")


def load_trades(conn: psycopg.Connection, day: date) -> tuple[list[ReplayTrade], dict[str, float], dict[str, str],
                                                              int]:
    """The day's combo trades with settled legs (time order), their independence prices, their combo tickers,
    and how many trades were left out because a leg has no result."""
    rows = conn.execute(
        """SELECT f.trade_id, f.ts, f.legs, f.traded_price, f.contracts, f.independence_price, f.combo_ticker
           FROM marts.combo_features f
           WHERE f.trading_day = %s AND f.row_kind = 'trade' AND NOT f.impossible AND f.traded_price IS NOT NULL
           ORDER BY f.ts, f.trade_id""", (day,)).fetchall()
    tickers = sorted({leg["market_ticker"] for r in rows for leg in r[2]})
    results = dict(conn.execute("SELECT market_ticker, result FROM marts.markets WHERE market_ticker = ANY(%s)",
                                (tickers,)).fetchall())
    trades, independence, combo_of = [], {}, {}
    unsettled = 0
    for trade_id, ts, legs, price, contracts, ind, combo in rows:
        pairs = tuple((leg["market_ticker"], leg["side"]) for leg in sorted(legs, key=lambda x: x["leg_index"]))
        if any(results.get(t) not in ("yes", "no") for t, _ in pairs):
            unsettled += 1
            continue
        won = all(results[t] == side for t, side in pairs)
        trades.append(ReplayTrade(str(trade_id), ts, pairs, Decimal(price), Decimal(contracts), won))
        if ind is not None:
            independence[str(trade_id)] = float(ind)
        combo_of[str(trade_id)] = combo
    return trades, independence, combo_of, unsettled


def _snapshot_times(conn: psycopg.Connection, base: EnsemblePricer) -> list[pd.Timestamp]:
    row = conn.execute("SELECT cluster_versions FROM pricing.ensembles WHERE ensemble_version = %s",
                       (base.version,)).fetchone()
    times: set[pd.Timestamp] = set()
    for version in (row[0] if row else {}).values():
        times.update(t for t, _ in pricing_store.load_snapshots(conn, version))
    return sorted(times)


def uncorrected_snapshots(conn: psycopg.Connection, day: date, log: Log) -> dict[str, list[tuple[pd.Timestamp,
                                                                                                 IsingModel]]]:
    """Every cluster of ``day`` refitted in memory on the fee-inflated targets (``target_clipped``), with the
    production fit's settings and checkpoints: the ablation's model snapshots."""
    literals = pricing_runtime.day_literals(conn, day)
    all_panel = pricing_runtime._frame(
        conn, "SELECT market_ticker, minute, mid::float8 AS mid FROM marts.price_panel_1m WHERE trading_day = %s "
              "ORDER BY minute", (day,))
    rows = pricing_runtime._frame(
        conn, "SELECT ts, target_legs, target_clipped AS target_net_of_markup, use_for_learning, trade_id, contracts "
              "FROM marts.combo_targets WHERE trading_day = %s ORDER BY ts", (day,))
    by_cluster = pricing_runtime.cluster_targets(rows, literals, all_panel)
    out = {}
    clusters = pricing_runtime.day_clusters(conn, day)
    for k, cluster in enumerate(clusters, 1):
        log(f"[evaluate] {day} ablation: refitting cluster {k}/{len(clusters)} {cluster} on fee-inflated targets …")
        tickers = [t for t, m in literals.markets.items() if m.cluster_id == cluster]
        panel = all_panel[all_panel["market_ticker"].isin(tickers)]
        mids = pricing_runtime.variable_mids(panel, literals, cluster)
        conj, conj_legs = pricing_runtime.conjunction_mids(panel, literals, cluster)
        if not conj.empty:
            mids = mids.join(conj, how="outer")
        targets = by_cluster.get(cluster)
        if targets is None:
            targets = pd.DataFrame(columns=["ts", "legs", "target", "trade_id", "contracts", "n_clusters"])
        result = pricing_runtime.fit_cluster(cluster, literals.variables[cluster], mids, targets,
                                             pricing_runtime.DEFAULT_FIT, conjunctions=conj_legs,
                                             checkpoints=pricing_runtime.session_checkpoints(all_panel))
        out[cluster] = list(result.snapshots)
    return out


class _AsOf:
    """Pricers as they stood before each trade: one per model snapshot interval."""

    def __init__(self, conn: psycopg.Connection, day: date, base: EnsemblePricer, times: Sequence[pd.Timestamp],
                 snapshots: Mapping[str, Sequence[tuple[pd.Timestamp, IsingModel]]] | None = None) -> None:
        self.conn, self.day, self.base, self.times, self.snapshots = conn, day, base, list(times), snapshots
        self._cache: dict[pd.Timestamp, EnsemblePricer] = {}

    def at(self, ts: datetime) -> EnsemblePricer | None:
        """The pricer of the last snapshot strictly before ``ts`` (None before the first)."""
        i = bisect.bisect_left(self.times, pd.Timestamp(ts)) - 1
        if i < 0:
            return None
        key = self.times[i]
        if key not in self._cache:
            self._cache[key] = pricing_store.as_of_pricer(self.conn, self.day, key.to_pydatetime(), self.base,
                                                          self.snapshots)
        return self._cache[key]


def _risk_quotes(trades: Sequence[ReplayTrade], pricers: _AsOf, cfg: RiskConfig,
                 refusals: dict[str, int]) -> tuple[dict[str, Decimal | None], dict[str, Decimal | None]]:
    """The standalone MM's quotes (ensemble + the risk engine, its own accepted trades as the book) and the full
    AMM's (the Ising member's price at the same snapshot, no margin)."""
    book = Book([])  # appended to in trade order: the risk engine's index of it carries over between trades
    pool = PoolState(LP_CAPITAL, LP_CAPITAL, LP_CAPITAL)
    mm: dict[str, Decimal | None] = {}
    amm: dict[str, Decimal | None] = {}

    defs_of: EnsemblePricer | None = None
    defs: dict[str, MarketDef] = {}

    def refuse(reason: str) -> None:
        refusals[reason] = refusals.get(reason, 0) + 1

    for t in trades:
        mm[t.trade_id] = amm[t.trade_id] = None
        pricer = pricers.at(t.ts)
        if pricer is None:
            refuse("no_model_yet")
            continue
        try:
            q = pricer.quote(list(t.legs))
        except UnknownMarket:
            refuse("unknown_market")
            continue
        except ModelNotConverged:
            refuse("model_not_converged")
            continue
        if q.impossible:
            refuse("impossible_combo")
            continue
        ising = next((m.probability for m in q.members if m.name == "ising"), None)
        if ising is not None:
            amm[t.trade_id] = _dec(ising)
        if pricer is not defs_of:  # one mapping per snapshot's pricer
            defs_of, defs = pricer, pricer.market_defs()
        stake = max(cfg.min_stake, (t.price * t.contracts).quantize(Decimal("0.01")))
        decision = evaluate(t.legs, stake, q.probability, q.uncertainty, book, pool, defs, cfg)
        if not decision.accepted:
            refuse(decision.rule or "rejected")
            continue
        mm[t.trade_id] = decision.price
        if decision.price <= t.price:  # taken: it joins the book the next trades are sized against
            book.bets.append(BookBet(t.legs, t.contracts, decision.price * t.contracts))
    return mm, amm


def replay_day(conn: psycopg.Connection, day: date, *, ablation: bool = True, log: Log = lambda _: None) -> DayReplay:
    """Every strategy's quotes for every settled combo trade of ``day`` (see the module docstring)."""
    start = datetime.now(UTC)
    trades, independence, combo_of, unsettled = load_trades(conn, day)
    setting = day_setting(conn, day)
    log(f"[evaluate] {day}: {len(trades)} settled combo trades ({unsettled} with an unsettled leg left out); "
        f"{setting}")
    quotes: dict[str, dict[str, Decimal | None]] = {
        "kalshi_execution": {t.trade_id: t.price for t in trades},
        "independence": {k: _dec(v) for k, v in independence.items()},
    }
    refusals: dict[str, dict[str, int]] = {}
    capital: dict[str, Decimal] = {}
    if trades:
        base = pricing_store.load_pricer(conn, day=day)
        times = _snapshot_times(conn, base)
        cfg = replace(risk_config(), min_stake=Decimal("0.01"))  # exchange trades can be a few cents
        refusals["standalone_mm"] = {}
        log(f"[evaluate] {day}: standalone MM and full AMM over {len(times)} model snapshots …")
        mm, amm = _risk_quotes(trades, _AsOf(conn, day, base, times), cfg, refusals["standalone_mm"])
        quotes["standalone_mm"], quotes["full_amm"] = mm, amm
        capital["full_amm"] = book_losses(fills_of(trades, amm), combo_of)
        if ablation:
            snaps = uncorrected_snapshots(conn, day, log)
            refusals[ABLATION] = {}
            quotes[ABLATION], _ = _risk_quotes(trades, _AsOf(conn, day, base, times, snaps), cfg, refusals[ABLATION])
    else:
        for s in ("standalone_mm", "full_amm", *((ABLATION,) if ablation else ())):
            quotes[s] = {}
    return DayReplay(day, setting, trades, quotes, capital, unsettled, refusals,
                     (datetime.now(UTC) - start).total_seconds())


# ----------------------------------------------------------------------------- several days
def combined(days: Sequence[DayReplay]) -> list[StrategyResult]:
    """The strategies over every day's trades together."""
    trades = [t for d in days for t in d.trades]
    out = []
    for s in ALL_STRATEGIES:
        if not any(s in d.quotes for d in days):
            continue
        quotes = {k: v for d in days for k, v in d.quotes.get(s, {}).items()}
        cap = None
        if s == "full_amm":
            cap = sum((d.capital.get(s, Decimal(0)) for d in days), Decimal(0))
        out.append(evaluate_strategy(s, trades, quotes, cap))
    return out


ACROSS_FIELDS = ("accepted", "win_rate", "net_pnl", "capital", "roi", "sharpe", "brier")


def across_days(days: Sequence[DayReplay]) -> list[dict[str, object]]:
    """Per strategy and figure: the mean over days and ±2 standard errors (n − 1)."""
    per = [{r.strategy: r for r in d.results()} for d in days]
    out = []
    for s in ALL_STRATEGIES:
        rows = [p[s] for p in per if s in p]
        if not rows:
            continue
        entry: dict[str, object] = {"strategy": s, "days": len(rows)}
        for f in ACROSS_FIELDS:
            values = [getattr(r, f) for r in rows]
            mean, se2, _ = mean_and_2se([float(v) if v is not None else None for v in values])
            entry[f] = {"mean": mean, "two_se": se2}
        out.append(entry)
    return out


def report_json(days: Sequence[DayReplay]) -> dict[str, object]:
    """The ``--json`` line: days, combined strategies (the contract's keys), per day and across days."""
    keys = ("strategy", "trades", "accepted", "win_rate", "net_pnl", "capital", "roi", "sharpe", "brier")
    return {
        "days": [d.day.isoformat() for d in days],
        "strategies": [{k: r.as_json()[k] for k in keys} for r in combined(days)],
        "per_day": [{"day": d.day.isoformat(), "setting": d.setting, "unsettled_left_out": d.unsettled,
                     "refusals": d.refusals, "seconds": round(d.seconds, 1),
                     "strategies": [r.as_json() for r in d.results()]} for d in days],
        "across_days": across_days(days),
    }


def format_table(results: Sequence[StrategyResult]) -> str:
    def f(v: object, spec: str) -> str:
        return "—" if v is None else format(v, spec)

    lines = [f"{'strategy':<26} {'trades':>6} {'accepted':>8} {'win %':>6} {'premium':>11} {'payout':>11} "
             f"{'net P&L':>10} {'capital':>10} {'ROI':>7} {'Sharpe':>7} {'Brier':>6}"]
    for r in results:
        lines.append(f"{r.strategy:<26} {r.trades:>6} {r.accepted:>8} "
                     f"{f(None if r.win_rate is None else 100 * r.win_rate, '.1f'):>6} {r.premium:>11} "
                     f"{r.payout:>11} {r.net_pnl:>10} {r.capital:>10} {f(r.roi, '.3f'):>7} "
                     f"{f(r.sharpe, '.3f'):>7} {f(r.brier, '.3f'):>6}")
    return "\n".join(lines)


def format_across(days: Sequence[DayReplay]) -> str:
    def pm(cell: object, spec: str) -> str:
        assert isinstance(cell, dict)
        mean, se = cell["mean"], cell["two_se"]
        if mean is None:
            return "—"
        return format(mean, spec) + ("" if se is None else " ± " + format(se, spec))

    lines = [f"{'strategy':<26} {'accepted':>16} {'win %':>14} {'net P&L':>20} {'ROI':>16} {'Sharpe':>16}"]
    for e in across_days(days):
        wr = e["win_rate"]
        assert isinstance(wr, dict)
        wr_pct = {"mean": None if wr["mean"] is None else 100 * wr["mean"],
                  "two_se": None if wr["two_se"] is None else 100 * wr["two_se"]}
        lines.append(f"{e['strategy']!s:<26} {pm(e['accepted'], '.1f'):>16} {pm(wr_pct, '.1f'):>14} "
                     f"{pm(e['net_pnl'], '.2f'):>20} {pm(e['roi'], '.3f'):>16} {pm(e['sharpe'], '.3f'):>16}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- plots and storage
def cumulative_pnl_png(days: Sequence[DayReplay]) -> bytes:
    """Cumulative premium − payout per strategy over the replayed trades (in trade order)."""
    from models.experiments.plots import _new_figure, _png

    fig, (ax,) = _new_figure(width=7.5)
    trades = [t for d in days for t in d.trades]
    for s in ALL_STRATEGIES:
        quotes = {k: v for d in days for k, v in d.quotes.get(s, {}).items()}
        if not quotes:
            continue
        fills: list[Fill] = fills_of(trades, quotes)
        cum, xs, ys = Decimal(0), [], []
        for f in fills:
            cum += f.premium - f.payout
            xs.append(f.trade.ts)
            ys.append(float(cum))
        ax.plot(xs, ys, label=f"{s} ({len(fills)})", linestyle="--" if s == ABLATION else "-")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_title("Cumulative house P&L per strategy (premium − payout)")
    ax.set_ylabel("$")
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    return _png(fig)


def calibration_png(days: Sequence[DayReplay], bins: int = 10) -> bytes:
    """Accepted trades' quotes against how often those parlays won, in quote bins, per strategy."""
    from models.experiments.plots import _new_figure, _png

    fig, (ax,) = _new_figure(width=5.5)
    trades = [t for d in days for t in d.trades]
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle=":")
    for s in ALL_STRATEGIES:
        quotes = {k: v for d in days for k, v in d.quotes.get(s, {}).items()}
        fills = fills_of(trades, quotes)
        if not fills:
            continue
        frame = pd.DataFrame({"q": [float(f.quote) for f in fills], "won": [float(f.trade.won) for f in fills]})
        frame["bin"] = pd.cut(frame["q"], [i / bins for i in range(bins + 1)], include_lowest=True)
        g = frame.groupby("bin", observed=True).agg(q=("q", "mean"), won=("won", "mean"), n=("q", "size"))
        g = g[g["n"] >= 5]
        ax.plot(g["q"], g["won"], marker="o", label=s, linestyle="--" if s == ABLATION else "-")
    ax.set_xlabel("quote (accepted trades)")
    ax.set_ylabel("share of those parlays that won")
    ax.set_title("Calibration of accepted trades (bins with ≥ 5)")
    ax.legend(fontsize=8)
    return _png(fig)


@dataclass(frozen=True)
class StoredReplay:
    run_id: int
    pnl_png_url: str
    calibration_png_url: str


def save_replay(conn: psycopg.Connection, storage_url: str, days: Sequence[DayReplay],
                pngs: tuple[bytes, bytes]) -> StoredReplay:
    """Write the run (per day and combined rows) to Postgres and both plots to object storage."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    fs, root = fsspec.core.url_to_fs(storage_url)
    folder = f"{root.rstrip('/')}/evaluation/replay"
    fs.makedirs(folder, exist_ok=True)
    urls = []
    for name, data in zip(("cumulative_pnl", "calibration"), pngs, strict=True):
        path = f"{folder}/{stamp}_{name}.png"
        with fs.open(path, "wb") as fh:
            fh.write(data)
        urls.append(path)
    payload = report_json(days)
    with conn.transaction():
        run_id = conn.execute(
            """INSERT INTO evaluation.replay_runs (days, settings, report, pnl_png_url, calibration_png_url)
               VALUES (%s, %s, %s, %s, %s) RETURNING run_id""",
            ([d.day for d in days], json.dumps({d.day.isoformat(): d.setting for d in days}),
             json.dumps(payload, default=str), urls[0], urls[1])).fetchone()[0]
        rows = [(run_id, d.day, r) for d in days for r in d.results()] + [(run_id, None, r) for r in combined(days)]
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO evaluation.replay_strategies (run_id, trading_day, strategy, trades, accepted,
                       win_rate, premium, payout, net_pnl, capital, roi, sharpe, brier)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                [(run_id, day, r.strategy, r.trades, r.accepted, r.win_rate, r.premium, r.payout, r.net_pnl,
                  r.capital, r.roi, r.sharpe, r.brier) for run_id, day, r in rows])
    return StoredReplay(int(run_id), urls[0], urls[1])


def replay_days(conn: psycopg.Connection) -> list[date]:
    """Days with combo trades and a stored ensemble."""
    rows = conn.execute(
        """SELECT DISTINCT f.trading_day FROM marts.combo_features f
           WHERE f.row_kind = 'trade' AND EXISTS (SELECT 1 FROM pricing.ensembles e WHERE e.trading_day = f.trading_day)
           ORDER BY 1""").fetchall()
    return [r[0] for r in rows]
