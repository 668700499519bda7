"""The book: risk (group ``risk``), hedging (group ``hedging``), settlement and P&L (group ``ledger``).

* ``risk/limits`` — LP capital (seeded once), hourly equity marks of the replayed day up to the bettors' time,
  pool state, drawdown (quoting halts with ``lp_drawdown`` past the limit), the book's exact worst case vs
  capacity;
* ``risk/listed_quotes`` — the live quote table: every listed combo priced and gated by the risk engine;
* ``risk/simulated_bets`` — simulated bettors quoting and betting through the quote service's engine
  (same validation, pricing, risk gate and ledger writes as ``POST /quotes`` and ``POST /bets``);
* ``hedging/deltas`` — the open book's delta per market (∂P/∂p_leg · payout, aggregated) and the target;
* ``hedging/orders`` — 35 % of each delta targeted, orders sent to the execution venue (paper by default),
  never on a stale or unreliable book, and an equity mark at the rebalance; ``hedging/fills`` — fills
  reconciled into the ledger;
* ``ledger/settlements`` — hourly equity marks of the open book until the day settles, open bets and hedge
  positions settled from market results, and the equity mark after settlement;
* ``ledger/pnl`` — balances, trial balance (must be 0) and a P&L plot.

Blocking checks upstream (fit convergence, quote coherence, book quality) keep these from running on a
failed fit or a corrupt book.
"""

import json
from datetime import date
from decimal import Decimal

import dagster as dg
import pandas as pd

from dagster_project.partitions import DAILY, run_day
from dagster_project.plots import figure_png, frame_table, png_markdown, row_count
from dagster_project.resources import ExecutionResource, LakeResource, WarehouseResource
from models.hedging import HedgeConfig, book_exposure
from models.risk import PoolState, RiskConfig, worst_case_payout
from parlay import book_runtime, ledger, pricing_store
from parlay.config import risk_config
from parlay.hedging_runtime import open_bets, other_days_open_bets, rebalance

LP_CAPITAL = Decimal("100000")


def key(*path: str) -> dg.AssetKey:
    return dg.AssetKey(list(path))


def _day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


HOURLY = "hourly"  # reason of the hourly equity marks over the replayed day
SETTLEMENT = "settlement"


def _halt(pool: PoolState, cfg: RiskConfig) -> dict[str, object]:
    """The drawdown guardrail's state for an asset's metadata."""
    halted = pool.drawdown > cfg.max_drawdown
    return {"drawdown": pool.drawdown, "max_drawdown": cfg.max_drawdown, "halted": halted,
            "halt_reason": "lp_drawdown" if halted else None}


def _model_probability(pricer):  # type: ignore[no-untyped-def]
    """P(every leg holds) under the ensemble, for :func:`parlay.hedging_runtime.open_bets` (NaN for a bet on a
    market this model does not price: such a bet is left out of the hedge)."""
    known = set(pricer.markets())

    def probability(legs) -> float:  # type: ignore[no-untyped-def]
        if any(leg.market_ticker not in known for leg in legs):
            return float("nan")
        return pricer.quote([(leg.market_ticker, leg.side) for leg in legs]).probability

    return probability


@dg.asset(key=key("risk", "limits"), deps=[key("pricing", "ensemble")], group_name="risk", partitions_def=DAILY,
          description="Risk limits in force: LP pool cash/equity/drawdown (quoting halts with lp_drawdown past the "
          "limit), the book's exact worst-case payout against LP capacity; seeds the LP pool once (idempotent) and "
          "marks the pool's equity hourly over the replayed day up to the bettors' time (ledger.equity_marks).")
def limits(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    cfg = risk_config()
    day = _day(context)
    with warehouse.connection() as conn:
        seeded = book_runtime.ensure_lp_capital(conn, LP_CAPITAL)
        pricer = pricing_store.load_pricer(conn, day=day)
        span = book_runtime.trading_day_span(conn, day)
        bettors_at = book_runtime.hedge_time(conn, day)
        marks = (book_runtime.mark_hours(conn, day, book_runtime.hourly_instants(span[0], bettors_at or span[1]),
                                         pricer, HOURLY) if span else [])
        book, pool = ledger.open_book(conn), ledger.pool_state(conn)
        # bets of other days count against the pool's capacity too: their markets get stand-in variables
        defs = book_runtime.book_market_defs(pricer.market_defs(), book)
        worst = worst_case_payout(book.bets, defs, cfg.max_enumeration_vars)
        others = other_days_open_bets(conn, day)
        capacity = Decimal(repr(cfg.lp_utilization)) * pool.cash
        halt = _halt(pool, cfg)
        halted = bool(halt["halted"])
        conn.execute(
            """INSERT INTO risk.limit_snapshots (trading_day, config, pool_cash, pool_equity, peak_equity, drawdown,
                   halted, open_bets, worst_case_payout, worst_case_exact, capacity)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (day, json.dumps({k: str(v) for k, v in cfg.__dict__.items()}), pool.cash, pool.equity, pool.peak_equity,
             pool.drawdown, halted, len(book.bets), worst.payout if worst else Decimal(0),
             worst.exact if worst else False, capacity))
    return dg.MaterializeResult(metadata={
        "lp_seeded_now": seeded, "pool_cash": float(pool.cash), "pool_equity": float(pool.equity),
        "peak_equity": float(pool.peak_equity), **halt, "quotes_halted": halted, "equity_marks_written": len(marks),
        "open_bets": len(book.bets), "open_bets_other_days": dg.MetadataValue.json(others),
        "worst_case_payout": float(worst.payout) if worst else None, "capacity": float(capacity),
        "max_stake": float(cfg.max_stake), "max_market_exposure": float(cfg.max_market_exposure)})


@dg.asset(key=key("risk", "listed_quotes"), deps=[key("risk", "limits"), key("marts", "combo_structure")],
          group_name="risk", partitions_def=DAILY,
          description="Live quote table for listed combos (risk.listed_quotes): probability, uncertainty, margin, "
          "grid price and max stake at a $10 reference stake, or the risk rule that refuses it.")
def listed_quotes(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connection() as conn:
        pricer = book_runtime.pricer_at_hedge_time(conn, day)
        cfg = risk_config()
        table = book_runtime.listed_quotes(conn, pricer, day, cfg)
        book_runtime.store_listed_quotes(conn, day, pricer.version, table)
        halt = _halt(ledger.pool_state(conn), cfg)
    rules = table["rule"].fillna("quotable").value_counts().to_dict() if not table.empty else {}
    return dg.MaterializeResult(metadata={
        "combos": len(table), **row_count(len(table)), **halt,
        "quotable": int(table["quotable"].sum()) if not table.empty else 0,
        "by_rule": dg.MetadataValue.json({str(k): int(v) for k, v in rules.items()}),
        "sample": frame_table(table, 10) if not table.empty else dg.MetadataValue.text("no listed combos")})


@dg.asset(key=key("risk", "simulated_bets"), deps=[key("risk", "limits")], group_name="risk", partitions_def=DAILY,
          description="Simulated bettors: seeded parlays (within and across games) quoted and placed through the "
          "quote service's engine — the same validation, pricing, risk gate and ledger writes as the HTTP API.")
def simulated_bets(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                   lake: LakeResource) -> dg.MaterializeResult:
    from parlay.bettors import run_bettors

    day = _day(context)
    report = run_bettors(warehouse.url(), lake.url(), day, log=context.log.info)
    return dg.MaterializeResult(metadata=report.as_metadata())


@dg.asset(key=key("hedging", "deltas"), deps=[key("risk", "simulated_bets")], group_name="hedging",
          partitions_def=DAILY,
          description="The open book's delta per market: the minimum-variance hedge Σ⁻¹c (payout-weighted c summed "
          "over open bets, solved per cluster) under the model's joint law (positive: the house loses when the "
          "market's YES probability rises), and the hedge target "
          "(35 % of it, in contracts, rounded toward zero).")
def deltas(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
           execution: ExecutionResource) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connection() as conn:
        pricer = book_runtime.pricer_at_hedge_time(conn, day)
        markets = pricer.markets()
        marginals = {t: m.probability for t, m in markets.items()}
        clusters = {t: m.cluster_id for t, m in markets.items()}
        bets = open_bets(conn, _model_probability(pricer), day)
        others = other_days_open_bets(conn, day)
    exposure = book_exposure([b for b in bets if all(leg.market_ticker in marginals for leg in b.legs)],
                             pricer.joint, clusters)
    rows = sorted(({"market": m, "delta_dollars": round(v, 2), "target_contracts": int(execution.hedge_ratio * v)}
                   for m, v in exposure.items() if v), key=lambda r: -abs(r["delta_dollars"]))
    return dg.MaterializeResult(metadata={
        "open_bets": len(bets), "open_bets_other_days": dg.MetadataValue.json(others),
        "markets": len(rows), "hedge_ratio": execution.hedge_ratio,
        "gross_delta_dollars": round(sum(abs(r["delta_dollars"]) for r in rows), 2),  # type: ignore[arg-type]
        "largest": frame_table(pd.DataFrame(rows), 15) if rows else dg.MetadataValue.text("flat book")})


@dg.asset(key=key("hedging", "orders"), deps=[key("hedging", "deltas"), key("marts", "book_snapshots")],
          group_name="hedging", partitions_def=DAILY,
          description="Delta hedge: the minimum-variance hedge Σ⁻¹c of the open book per cluster, 35 % of it targeted, "
          "orders (deterministic client_order_id) sent to the execution venue and fills reconciled into the ledger. "
          "Markets with stale or unreliable books are not traded. Ends with an equity mark of the pool at the "
          "rebalance instant (the replayed hedge time in a replay).")
def hedge_orders(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                 execution: ExecutionResource) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connection() as conn:
        pricer = book_runtime.pricer_at_hedge_time(conn, day)
        cutoff = book_runtime.hedge_time(conn, day)
        books = book_runtime.day_books(conn, day, at=cutoff)
        venue = execution.venue(books.asks)
        marginals = {t: m.probability for t, m in pricer.markets().items()}

        cfg = HedgeConfig(ratio=execution.hedge_ratio)
        report = rebalance(conn, venue, marginals, books.asks, cfg, f"{day.isoformat()}:{venue.name}",
                           blocked_markets=books.stale, probability=_model_probability(pricer),
                           joint=pricer.joint, cluster_of={t: m.cluster_id for t, m in pricer.markets().items()},
                           marked_at=cutoff, mids=books.mids, trading_day=day, day=day)
        exposure = {m: v for m, v in report.exposure.items() if v}
        n_bets = len(open_bets(conn, day=day))
        others = other_days_open_bets(conn, day)
    states: dict[str, int] = {}
    for o in report.orders:
        states[o.state] = states.get(o.state, 0) + 1
    context.log.info(f"hedging {n_bets} open bets: {report.planned} orders planned, {report.submitted} submitted, "
                     f"{report.fills_booked} fills booked on {report.venue}")
    return dg.MaterializeResult(metadata={
        "venue": report.venue, "hedge_ratio": cfg.ratio, "open_bets": n_bets,
        "open_bets_other_days": dg.MetadataValue.json(others), "markets_with_delta": len(exposure),
        "orders_planned": report.planned, "orders_submitted": report.submitted,
        "orders_already_known": report.already_known, "orders_failed": report.failed,
        "fills_booked": report.fills_booked, "notional": float(report.notional),
        "order_states": dg.MetadataValue.json(states),
        "skipped": dg.MetadataValue.json(dict(list(report.skipped.items())[:30])),
        "blocked_stale_books": len(books.stale),
        "equity_marked_at": report.mark.marked_at.isoformat() if report.mark else None,
        "pool_equity": float(report.mark.equity) if report.mark else None})


@dg.asset(key=key("hedging", "fills"), deps=[key("hedging", "orders")], group_name="hedging", partitions_def=DAILY,
          description="Fills reconciled into the ledger: on Kalshi venues the exchange's fills are fetched and booked "
          "(idempotent by fill id); the day's orders by final state, contracts, cost and fees.")
def fills(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
          execution: ExecutionResource) -> dg.MaterializeResult:
    day = _day(context)
    booked = 0
    with warehouse.connection() as conn:
        venue = execution.venue({})
        if venue.name != "paper":  # paper fills are booked as the orders execute, in hedging/orders
            from parlay.hedging_runtime import reconcile

            booked = reconcile(conn, venue)
        prefix = f"{day.isoformat()}:%"
        states = dict(conn.execute("SELECT state, count(*) FROM ledger.hedge_orders WHERE plan_key LIKE %s "
                                   "GROUP BY state", (prefix,)).fetchall())
        n, contracts, cost, fees = conn.execute(
            """SELECT count(*), coalesce(sum(f.count), 0), coalesce(sum(f.count * f.price), 0), coalesce(sum(f.fee), 0)
               FROM ledger.fills f JOIN ledger.hedge_orders o USING (client_order_id) WHERE o.plan_key LIKE %s""",
            (prefix,)).fetchone()
    return dg.MaterializeResult(metadata={
        "venue": venue.name, "fills_booked_now": booked, "fills": int(n), "contracts": float(contracts),
        "cost": float(cost), "fees": float(fees), "orders_by_state": dg.MetadataValue.json(
            {k: int(v) for k, v in states.items()})})


@dg.asset(key=key("ledger", "settlements"), deps=[key("hedging", "fills"), key("raw", "settlements"),
                                                    key("marts", "markets")],
          group_name="ledger", partitions_def=DAILY,
          description="Settlement from market results: hourly equity marks of the open book (model) and hedges "
          "(mids) from the hedge until the day settles, each open bet won, lost or void (paid or released), hedge "
          "positions closed, and the equity mark after settlement, which the drawdown guardrail reads; idempotent "
          "(a rerun settles and marks nothing twice).")
def settlements(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connection() as conn:
        before = other_days_open_bets(conn, day)
        try:
            pricer = pricing_store.load_pricer(conn, day=day)
        except Exception as exc:  # settle anyway; open bets are then marked at their quotes' probabilities
            context.log.warning(f"no pricer for {day}: {type(exc).__name__}: {exc}")
            conn.rollback()
            pricer = None
        hedged_at = book_runtime.hedge_time(conn, day)
        settled_at = book_runtime.settlement_time(conn, day)
        marks = []
        if hedged_at is not None and settled_at is not None:
            hours = book_runtime.hourly_instants(hedged_at, settled_at, include_start=False)
            marks += book_runtime.mark_hours(conn, day, [t for t in hours if t < settled_at], pricer, HOURLY)
        # results are facts of their markets: a bet of another day (e.g. placed on a replayed day after that
        # day's run) is settled from its own day's outcomes as soon as they are known
        report = book_runtime.settle_from_results(conn)
        after = other_days_open_bets(conn, day)
        if settled_at is not None:
            marks += book_runtime.mark_hours(conn, day, [settled_at], pricer, SETTLEMENT)
        trial = ledger.trial_balance(conn)
        pool = ledger.pool_state(conn)
        n_marks = conn.execute("SELECT count(*) FROM ledger.equity_marks WHERE trading_day = %s", (day,)).fetchone()[0]
    if trial != 0:
        raise dg.Failure(f"ledger out of balance by {trial} after settlement")
    settled_other = {d: n - after.get(d, 0) for d, n in before.items() if n - after.get(d, 0)}
    return dg.MaterializeResult(metadata={
        "markets_with_results": report.markets, "bets_won": report.bets_won, "bets_lost": report.bets_lost,
        "bets_void": report.bets_void, "hedges_closed": report.hedges_closed, "trial_balance": float(trial),
        "settled_at": settled_at.isoformat() if settled_at else None, "pool_cash": float(pool.cash),
        "pool_equity": float(pool.equity), "peak_equity": float(pool.peak_equity),
        **_halt(pool, risk_config()), "equity_marks_written": len(marks), "equity_marks_of_day": int(n_marks),
        "settled_bets_of_other_days": dg.MetadataValue.json(settled_other),
        "open_bets_other_days": dg.MetadataValue.json(after)})


def _pnl_plot(rows: list[tuple]) -> bytes:
    cum, xs, ys = 0.0, [], []
    for i, (_, stake, payout, state) in enumerate(rows):
        cum += float(stake) - (float(payout) if state == "won" else 0.0)
        xs.append(i + 1)
        ys.append(cum)

    def draw(ax) -> None:  # type: ignore[no-untyped-def]
        ax.plot(xs, ys, drawstyle="steps-post")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel("settled bets (in settlement order)")
        ax.set_ylabel("house P&L from bets ($)")
        ax.set_title("Cumulative P&L of the day's settled parlays (before hedges)")

    return figure_png(draw)


@dg.asset(key=key("ledger", "pnl"), deps=[key("ledger", "settlements")], group_name="ledger", partitions_def=DAILY,
          description="The trading day's P&L: the day's bets by state, their settled stakes vs payouts, the hedge "
          "fills of the day's orders (cost and fees), a P&L plot of the day's settled bets, and the ledger's trial "
          "balance after the day (0: every movement balanced). Cumulative figures: `parlay run`'s book line.")
def pnl(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    day = _day(context)
    with warehouse.connection() as conn:
        summary = book_runtime.day_book(conn, day)
        trial = ledger.trial_balance(conn)
        rows = conn.execute("SELECT bet_id, stake, payout, state FROM ledger.bets WHERE state IN ('won', 'lost') "
                            "AND trading_day = %s ORDER BY settled_at, bet_id", (day,)).fetchall()
    png = _pnl_plot(rows)
    return dg.MaterializeResult(metadata={
        "trading_day": day.isoformat(),
        "trial_balance": float(trial),
        "bets": dg.MetadataValue.json(summary["bets"]),
        "house_pnl_from_bets": float(summary["bettor_pnl_for_house"]),  # type: ignore[arg-type]
        "settled_stakes": float(summary["settled_stakes"]),  # type: ignore[arg-type]
        "settled_payouts": float(summary["settled_payouts"]),  # type: ignore[arg-type]
        "hedge_fills": summary["hedge_fills"], "hedge_cost": float(summary["hedge_cost"]),  # type: ignore[arg-type]
        "hedge_fees": float(summary["hedge_fees"]),  # type: ignore[arg-type]
        "pnl_plot": png_markdown(png, f"P&L {day.isoformat()}")})


@dg.asset_check(partitions_def=DAILY, asset=key("ledger", "pnl"), blocking=True,
                description="Double entry holds: the sum of every ledger entry is 0 and no transaction is unbalanced.")
def ledger_balances(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    run_day(context)
    with warehouse.connection() as conn:
        trial = ledger.trial_balance(conn)
        bad = ledger.unbalanced_transactions(conn)
    return dg.AssetCheckResult(passed=trial == 0 and not bad, metadata={
        "trial_balance": float(trial), "unbalanced_transactions": dg.MetadataValue.json(bad[:20])})


@dg.asset_check(partitions_def=DAILY, asset=key("hedging", "orders"), blocking=True,
                description="Every hedge order ended in a known state (submitted, resting, filled, partially "
                "filled, canceled or rejected): none left pending or unknown.")
def hedge_orders_known(context: dg.AssetCheckExecutionContext,
                             warehouse: WarehouseResource) -> dg.AssetCheckResult:
    run_day(context)
    with warehouse.connection() as conn:
        # 'pending' (recorded, outcome not yet known) and 'unknown' must not survive a rebalance + reconcile
        unknown = conn.execute("SELECT client_order_id, state, reason FROM ledger.hedge_orders "
                               "WHERE state IN ('pending', 'unknown') LIMIT 20").fetchall()
    return dg.AssetCheckResult(passed=not unknown, metadata={"unknown_states": dg.MetadataValue.json(
        [list(r) for r in unknown])})


ASSETS = [limits, listed_quotes, simulated_bets, deltas, hedge_orders, fills, settlements, pnl]
CHECKS = [ledger_balances, hedge_orders_known]
