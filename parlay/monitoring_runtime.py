"""Monitoring of a trading day: P&L, the LP pool, hedge quality and model drift (the ``monitoring`` assets).

Loads the day's book from the ledger and the marts, calls the pure math of :mod:`models.monitoring` and stores
the results in schema ``monitoring``. Times: bets, hedge orders and fills carry wall-clock timestamps, so they
are placed at the day's hedge instant (:func:`parlay.book_runtime.hedge_time`); settlements are dated by the
markets' ``close_time`` (a bet is won when its last leg's market closes, lost when the first losing leg's
market closes).
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import psycopg

from models import monitoring as M
from models.risk import BookBet, RiskConfig, worst_case_payout
from parlay import book_runtime
from parlay.sources.base import EXCHANGE_TZ

CROSS_GAME = "cross-game"
TOTAL = "total"
HOUR = timedelta(hours=1)
CENT = Decimal("0.0001")

# Check thresholds. ERROR: trading must stop (the hedge schedule is paused); WARN: early warning.
THRESHOLDS: dict[str, M.Threshold] = {
    # the day's largest drawdown as a share of the risk limit (RiskConfig.max_drawdown): warn at 75 % of it
    "drawdown_near_limit": M.Threshold(warn=0.75, error=1.0),
    # filled contracts / ordered contracts
    "fill_ratio_floor": M.Threshold(warn=0.8, error=0.5, higher_is_worse=False),
    # contract-weighted mean slippage against the mid at decision time, cents per contract
    "slippage_ceiling": M.Threshold(warn=3.0, error=6.0),
    # Brier score of the latest settled day minus the mean of the earlier days' (recent average)
    "calibration_vs_recent": M.Threshold(warn=0.02, error=0.10),
    # largest PSI over the model features (> 0.25: significant drift); an early warning, not a stop
    "feature_psi": M.Threshold(warn=0.25),
}
RECENT_DAYS = 7


def _f(x: object) -> float:
    return float(x) if x is not None else math.nan


def _dec(x: float) -> Decimal:
    return Decimal(repr(round(float(x), 4))).quantize(CENT)


def floor_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def ceil_hour(t: datetime) -> datetime:
    f = floor_hour(t)
    return f if f == t else f + HOUR


# ----------------------------------------------------------------------------- the day's book, loaded


@dataclass(frozen=True)
class Bet:
    bet_id: str
    stake: Decimal
    payout: Decimal
    state: str
    probability: float  # the model's P(every leg wins) when quoted
    legs: tuple[tuple[str, str], ...]
    cluster: str


@dataclass(frozen=True)
class Position:
    """The day's hedge contracts on one market side (net of sells), their cost and fees."""

    market: str
    side: str
    contracts: Decimal
    cost: Decimal
    fees: Decimal
    cluster: str


@dataclass
class DayBook:
    day: date
    hedge_at: datetime | None
    start: datetime
    end: datetime
    bets: list[Bet]
    positions: list[Position]
    close: dict[str, datetime | None]  # market → close_time
    result: dict[str, str]  # market → "yes" / "no" (settled markets)
    cluster_of: dict[str, str]
    mids: pd.DataFrame  # market_ticker, ts, mid (sorted by ts)
    _mid_cache: dict[datetime, dict[str, float]] = field(default_factory=dict)

    def mids_at(self, t: datetime) -> dict[str, float]:
        """The latest mid of every market at or before ``t``."""
        if t not in self._mid_cache:
            seen = self.mids[self.mids["ts"] <= pd.Timestamp(t)]
            last = seen.groupby("market_ticker")["mid"].last() if not seen.empty else pd.Series(dtype=float)
            self._mid_cache[t] = {str(k): float(v) for k, v in last.items()}
        return self._mid_cache[t]

    def hours(self) -> list[datetime]:
        out, t = [], floor_hour(self.start)
        while t <= ceil_hour(self.end):
            out.append(t)
            t += HOUR
        return out

    def settled_at(self, bet: Bet) -> datetime | None:
        """When a bet's result was known, from its markets' close times (None: not settled)."""
        if bet.state == "open":
            return None
        closes = [self.close.get(m) or self.end for m, _ in bet.legs]
        if bet.state == "lost":
            losing = [self.close.get(m) or self.end for m, s in bet.legs if self.result.get(m) not in (None, s)]
            return min(losing or closes)
        return max(closes)

    def placed_at(self) -> datetime:
        return self.hedge_at or self.start

    def leg_probability(self, market: str, side: str, t: datetime) -> float | None:
        """A leg's probability at ``t``: 1 / 0 once its market closed with a result, else the mid (side-adjusted)."""
        close = self.close.get(market)
        if market in self.result and close is not None and close <= t:
            return 1.0 if self.result[market] == side else 0.0
        mid = self.mids_at(t).get(market)
        if mid is None:
            return None
        return mid if side == "yes" else 1.0 - mid

    def bet_probability(self, bet: Bet, t: datetime) -> float:
        """The bet's win probability at ``t``: its quoted probability re-marked by how its legs moved."""
        then, now = [], []
        for m, s in bet.legs:
            p0 = self.leg_probability(m, s, self.placed_at())
            p1 = self.leg_probability(m, s, t)
            if p0 is None or p1 is None:
                continue
            then.append(p0)
            now.append(p1)
        return M.marked_probability(bet.probability, then, now)


def _clusters(conn: psycopg.Connection, day: date, markets: Iterable[str]) -> dict[str, str]:
    rows = conn.execute(
        """SELECT DISTINCT ON (market_ticker) market_ticker, cluster_id FROM marts.binary_variables
           WHERE market_ticker = ANY(%s) ORDER BY market_ticker, (trading_day = %s) DESC, trading_day DESC""",
        (sorted(set(markets)), day),
    ).fetchall()
    return {m: c for m, c in rows if c is not None}


def load_day(conn: psycopg.Connection, day: date) -> DayBook:
    """The day's bets (with their quoted probability), hedge positions, markets' close times and results, and the
    mids of every market they touch."""
    hedge_at = book_runtime.hedge_time(conn, day)
    first, last = conn.execute(
        "SELECT min(ts), max(ts) FROM marts.book_snapshots WHERE trading_day = %s", (day,)
    ).fetchone()
    rows = conn.execute(
        """SELECT b.bet_id, b.stake, b.payout, b.state, q.probability::float8,
                  array_agg(l.market_ticker ORDER BY l.leg_index), array_agg(l.side ORDER BY l.leg_index)
           FROM ledger.bets b JOIN ledger.quotes q USING (quote_id) JOIN ledger.bet_legs l USING (bet_id)
           WHERE b.trading_day = %s GROUP BY b.bet_id, b.stake, b.payout, b.state, q.probability
           ORDER BY b.bet_id""",
        (day,),
    ).fetchall()
    fills = conn.execute(
        """SELECT f.market_ticker, f.side, f.action, f.count, f.price, f.fee
           FROM ledger.fills f JOIN ledger.hedge_orders o USING (client_order_id) WHERE o.plan_key LIKE %s""",
        (f"{day.isoformat()}:%",),
    ).fetchall()
    markets = {m for r in rows for m in r[5]} | {r[0] for r in fills}
    cluster_of = _clusters(conn, day, markets)
    bets = []
    for bet_id, stake, payout, state, p, ms, ss in rows:
        cs = {cluster_of.get(m, "unknown") for m in ms}
        bets.append(
            Bet(
                bet_id,
                stake,
                payout,
                state,
                float(p),
                tuple(zip(ms, ss, strict=True)),
                cs.pop() if len(cs) == 1 else CROSS_GAME,
            )
        )
    pos: dict[tuple[str, str], list[Decimal]] = {}
    for market, side, action, count, price, fee in fills:
        acc = pos.setdefault((market, side), [Decimal(0), Decimal(0), Decimal(0)])
        sign = 1 if action == "buy" else -1
        acc[0] += sign * count
        acc[1] += sign * count * price
        acc[2] += fee
    positions = [
        Position(m, s, c, cost, fee, cluster_of.get(m, "unknown")) for (m, s), (c, cost, fee) in sorted(pos.items())
    ]
    info = conn.execute(
        "SELECT market_ticker, close_time, result FROM marts.markets WHERE market_ticker = ANY(%s)", (sorted(markets),)
    ).fetchall()
    close = {m: c for m, c, _ in info}
    result = {m: r for m, _, r in info if r in ("yes", "no")}
    mids = pd.DataFrame(
        conn.execute(
            """SELECT market_ticker, ts, mid::float8 FROM marts.book_snapshots
           WHERE trading_day = %s AND mid IS NOT NULL AND market_ticker = ANY(%s) ORDER BY ts""",
            (day, sorted(markets)),
        ).fetchall(),
        columns=["market_ticker", "ts", "mid"],
    )
    if not mids.empty:
        mids["ts"] = pd.to_datetime(mids["ts"], utc=True)
    midnight = datetime.combine(day, datetime.min.time(), EXCHANGE_TZ)
    start = first or hedge_at or midnight
    closes = [c for c in close.values() if c is not None]
    end = max([last or start, *closes, *([hedge_at] if hedge_at else [])])
    return DayBook(day, hedge_at, start, end, bets, positions, close, result, cluster_of, mids)


# ----------------------------------------------------------------------------- P&L


def _bet_pnl(book: DayBook, bet: Bet, t: datetime) -> tuple[float, float]:
    """(realized, unrealized) house P&L of a bet at ``t``."""
    if t < book.placed_at():
        return 0.0, 0.0
    settled = book.settled_at(bet)
    stake, payout = float(bet.stake), float(bet.payout)
    if settled is not None and settled <= t:
        return {"won": stake - payout, "lost": stake}.get(bet.state, 0.0), 0.0
    return 0.0, stake - payout * book.bet_probability(bet, t)


def _position_value(book: DayBook, p: Position, t: datetime) -> tuple[float, bool]:
    """(value of the contracts at ``t``, settled?)."""
    close = book.close.get(p.market)
    if p.market in book.result and close is not None and close <= t:
        return float(p.contracts) * (1.0 if book.result[p.market] == p.side else 0.0), True
    mid = book.mids_at(t).get(p.market)
    if mid is None:
        return float(p.cost), False  # no book yet: at cost
    return float(p.contracts) * (mid if p.side == "yes" else 1.0 - mid), False


def _position_pnl(book: DayBook, p: Position, t: datetime) -> tuple[float, float]:
    if book.hedge_at is None or t < book.hedge_at:
        return 0.0, 0.0
    value, settled = _position_value(book, p, t)
    pnl = value - float(p.cost) - float(p.fees)
    return (pnl, 0.0) if settled else (0.0, pnl)


PNL_COLUMNS = ["hour", "cluster_id", "component", "realized", "unrealized", "total"]


def pnl_frame(book: DayBook) -> pd.DataFrame:
    """Hourly realized and unrealized P&L per cluster and in total, bets and hedges apart (and 'book' = both)."""
    rows: list[dict[str, object]] = []
    clusters = sorted({b.cluster for b in book.bets} | {p.cluster for p in book.positions})
    for t in book.hours():
        acc: dict[tuple[str, str], list[float]] = {}
        for b in book.bets:
            r, u = _bet_pnl(book, b, t)
            for key in ((b.cluster, "bets"), (TOTAL, "bets")):
                a = acc.setdefault(key, [0.0, 0.0])
                a[0] += r
                a[1] += u
        for p in book.positions:
            r, u = _position_pnl(book, p, t)
            for key in ((p.cluster, "hedges"), (TOTAL, "hedges")):
                a = acc.setdefault(key, [0.0, 0.0])
                a[0] += r
                a[1] += u
        for c in [*clusters, TOTAL]:
            bets, hedges = acc.get((c, "bets"), [0.0, 0.0]), acc.get((c, "hedges"), [0.0, 0.0])
            for comp, (r, u) in (
                ("bets", bets),
                ("hedges", hedges),
                ("book", (bets[0] + hedges[0], bets[1] + hedges[1])),
            ):
                rows.append(
                    {
                        "hour": t,
                        "cluster_id": c,
                        "component": comp,
                        "realized": round(r, 4),
                        "unrealized": round(u, 4),
                        "total": round(r + u, 4),
                    }
                )
    return pd.DataFrame(rows, columns=PNL_COLUMNS)


def store_pnl(conn: psycopg.Connection, day: date, frame: pd.DataFrame) -> None:
    _replace(conn, "monitoring.pnl", day, PNL_COLUMNS, frame)


def _replace(conn: psycopg.Connection, table: str, day: date, columns: list[str], frame: pd.DataFrame) -> None:
    with conn.transaction():
        conn.execute(f"DELETE FROM {table} WHERE trading_day = %s", (day,))
        if frame.empty:
            return
        cols = ", ".join(["trading_day", *columns])
        marks = ", ".join(["%s"] * (len(columns) + 1))

        def cell(v: object) -> object:
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return None
            return v.item() if hasattr(v, "item") else v

        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                [(day, *(cell(r[c]) for c in columns)) for r in frame.to_dict("records")],
            )


# ----------------------------------------------------------------------------- the LP pool


POOL_COLUMNS = ["at", "source", "cash", "equity", "peak", "drawdown", "worst_case", "utilization", "open_bets"]


def _has_marked_at(conn: psycopg.Connection) -> bool:
    return (
        conn.execute(
            """SELECT 1 FROM information_schema.columns
           WHERE table_schema = 'ledger' AND table_name = 'equity_marks' AND column_name = 'marked_at'"""
        ).fetchone()
        is not None
    )


def _marks(conn: psycopg.Connection, book: DayBook) -> list[tuple[datetime, Decimal, Decimal]]:
    """The day's equity marks (marked_at, cash, equity) inside the day's window, when the table has marked_at: one
    per instant, the last one written there (a rebalance and the hourly mark may describe the same minute)."""
    if not _has_marked_at(conn):
        return []
    return [
        (t, c, e)
        for t, c, e in conn.execute(
            """SELECT DISTINCT ON (marked_at) marked_at, cash, equity FROM ledger.equity_marks
           WHERE marked_at >= %s AND marked_at <= %s ORDER BY marked_at, mark_id DESC""",
            (floor_hour(book.start), ceil_hour(book.end)),
        ).fetchall()
    ]


def _cash_events(conn: psycopg.Connection, book: DayBook) -> tuple[Decimal, list[tuple[datetime, Decimal]]]:
    """(pool cash before the day, [(when, change)]) from the ledger's pool-cash entries of the day's bets, fills and
    hedge settlements, each at its replayed instant."""
    bet_ids = {b.bet_id: b for b in book.bets}
    sides = {f"{p.market}:{p.side}" for p in book.positions}
    rows = conn.execute(
        """SELECT t.txn_id, t.kind, t.ref_id, sum(e.amount)
           FROM ledger.transactions t JOIN ledger.entries e USING (txn_id)
           WHERE e.account_id = 'pool:cash' GROUP BY t.txn_id, t.kind, t.ref_id ORDER BY t.txn_id"""
    ).fetchall()
    fills = {
        r[0]
        for r in conn.execute(
            "SELECT f.fill_id FROM ledger.fills f JOIN ledger.hedge_orders o USING (client_order_id) "
            "WHERE o.plan_key LIKE %s",
            (f"{book.day.isoformat()}:%",),
        ).fetchall()
    }
    events: list[tuple[datetime, Decimal]] = []
    first_txn = None
    for txn, kind, ref, amount in rows:
        when: datetime | None = None
        if kind == "bet_placed" and ref in bet_ids:
            when = book.placed_at()
        elif kind == "bet_settled" and ref in bet_ids:
            when = book.settled_at(bet_ids[ref]) or book.end
        elif kind == "hedge_fill" and ref in fills:
            when = book.placed_at()
        elif kind == "hedge_settled" and ref in sides:
            when = book.close.get(ref.split(":")[0]) or book.end
        if when is not None:
            events.append((when, amount))
            first_txn = txn if first_txn is None else first_txn
    before = sum((a for txn, _, _, a in rows if first_txn is None or txn < first_txn), Decimal(0))
    return before, events


def _prior_peak(conn: psycopg.Connection, day: date) -> float | None:
    row = conn.execute("SELECT max(peak) FROM monitoring.lp_pool WHERE trading_day < %s", (day,)).fetchone()
    return float(row[0]) if row and row[0] is not None else None


def pool_frame(
    conn: psycopg.Connection, book: DayBook, defs: Mapping[str, object] | None = None, cfg: RiskConfig | None = None
) -> pd.DataFrame:
    """Cash, equity, peak, drawdown and utilization (worst case / cash) over the day: at the day's equity marks
    when it has some (``ledger.equity_marks.marked_at`` in the day's window), else hourly from the ledger's cash
    flows, equity = cash + hedges at the mid − open bets' payouts at their re-marked probability."""
    cfg = cfg or RiskConfig()
    marks = _marks(conn, book)
    worst_cache: dict[frozenset[str], float] = {}

    def open_at(t: datetime) -> list[Bet]:
        return [
            b for b in book.bets if book.placed_at() <= t and (book.settled_at(b) is None or book.settled_at(b) > t)
        ]

    def worst(bets: list[Bet]) -> float:
        key = frozenset(b.bet_id for b in bets)
        if key not in worst_cache:
            known = defs is not None and all(m in defs for b in bets for m, _ in b.legs)
            if known and bets:
                wc = worst_case_payout(
                    [BookBet(b.legs, b.payout, b.stake) for b in bets],
                    defs,  # type: ignore[arg-type]
                    cfg.max_enumeration_vars,
                )
                worst_cache[key] = float(wc.payout)
            else:  # no model of these markets: every open bet pays
                worst_cache[key] = float(sum((b.payout for b in bets), Decimal(0)))
        return worst_cache[key]

    rows = []
    if marks:
        source = "equity_marks"
        points = [(t, float(c), float(e)) for t, c, e in marks]
    else:
        source = "ledger"
        before, events = _cash_events(conn, book)
        points = []
        for t in book.hours():
            cash = float(before + sum((a for w, a in events if w <= t), Decimal(0)))
            hedges = sum(
                _position_value(book, p, t)[0]
                for p in book.positions
                if book.hedge_at is not None and t >= book.hedge_at and not _position_value(book, p, t)[1]
            )
            expected = sum(float(b.payout) * book.bet_probability(b, t) for b in open_at(t))
            points.append((t, cash, cash + hedges - expected))
    peaks, dds = M.drawdown_series([e for _, _, e in points], _prior_peak(conn, book.day))
    for (t, cash, equity), peak, dd in zip(points, peaks, dds, strict=True):
        bets = open_at(t)
        wc = worst(bets)
        rows.append(
            {
                "at": t,
                "source": source,
                "cash": round(cash, 4),
                "equity": round(equity, 4),
                "peak": round(peak, 4),
                "drawdown": dd,
                "worst_case": round(wc, 4),
                "utilization": wc / cash if cash > 0 else None,
                "open_bets": len(bets),
            }
        )
    return pd.DataFrame(rows, columns=POOL_COLUMNS)


def store_pool(conn: psycopg.Connection, day: date, frame: pd.DataFrame) -> None:
    _replace(conn, "monitoring.lp_pool", day, POOL_COLUMNS, frame)


# ----------------------------------------------------------------------------- hedge quality


ORDER_COLUMNS = [
    "client_order_id",
    "market_ticker",
    "cluster_id",
    "side",
    "action",
    "count",
    "filled_count",
    "state",
    "decided_at",
    "mid_yes",
    "fill_price",
    "slippage_cents",
    "seconds_to_fill",
]


@dataclass(frozen=True)
class HedgeQuality:
    orders: pd.DataFrame
    summary: dict[str, object]


def hedge_quality(
    conn: psycopg.Connection,
    book: DayBook,
    joint: Callable[[Mapping[str, bool]], float] | None = None,
    known_markets: Iterable[str] | None = None,
) -> HedgeQuality:
    """Per order: the mid at decision time (the day's hedge instant), the fill price and its slippage in cents, the
    filled share and the time to fill; for the day: fill ratio, slippage, and the hedge effectiveness of the settled
    bets' book under ``joint`` (the model's P(markets resolve as given))."""
    mids = book_runtime.day_books(conn, book.day, at=book.hedge_at).mids if book.hedge_at else {}
    orders = conn.execute(
        """SELECT o.client_order_id, o.market_ticker, o.side, o.action, o.count, o.filled_count, o.state,
                  o.created_at, sum(f.count * f.price) / nullif(sum(f.count), 0), min(f.filled_at)
           FROM ledger.hedge_orders o LEFT JOIN ledger.fills f USING (client_order_id)
           WHERE o.plan_key LIKE %s GROUP BY o.client_order_id ORDER BY o.client_order_id""",
        (f"{book.day.isoformat()}:%",),
    ).fetchall()
    rows = []
    for coid, market, side, action, count, filled, state, created, price, first_fill in orders:
        mid = mids.get(market)
        slip = M.slippage_cents(side, action, float(price), mid) if price is not None and mid is not None else None
        rows.append(
            {
                "client_order_id": coid,
                "market_ticker": market,
                "cluster_id": book.cluster_of.get(market),
                "side": side,
                "action": action,
                "count": float(count),
                "filled_count": float(filled),
                "state": state,
                "decided_at": book.hedge_at,
                "mid_yes": mid,
                "fill_price": _f(price) if price is not None else None,
                "slippage_cents": slip,
                "seconds_to_fill": (first_fill - created).total_seconds() if first_fill else None,
            }
        )
    frame = pd.DataFrame(rows, columns=ORDER_COLUMNS)
    ordered = float(frame["count"].sum()) if not frame.empty else 0.0
    filled_n = float(frame["filled_count"].sum()) if not frame.empty else 0.0
    slipped = frame.dropna(subset=["slippage_cents"]) if not frame.empty else frame
    weights = slipped["filled_count"] if not slipped.empty else None
    mean_slip = (
        float(np.average(slipped["slippage_cents"], weights=weights))
        if weights is not None and float(weights.sum()) > 0
        else None
    )
    settled = [b for b in book.bets if b.state in ("won", "lost")]
    eff = _effectiveness(book, settled, joint, set(known_markets) if known_markets is not None else None)
    final = book.hours()[-1] if book.hours() else book.end
    summary: dict[str, object] = {
        "orders": len(frame),
        "orders_filled": int((frame["filled_count"] > 0).sum()) if not frame.empty else 0,
        "contracts_ordered": ordered,
        "contracts_filled": filled_n,
        "fill_ratio": filled_n / ordered if ordered else None,
        "mean_slippage_cents": mean_slip,
        "max_slippage_cents": float(slipped["slippage_cents"].max()) if not slipped.empty else None,
        "median_seconds_to_fill": float(frame["seconds_to_fill"].dropna().median())
        if not frame.empty and frame["seconds_to_fill"].notna().any()
        else None,
        "settled_bets": len(settled),
        **eff,
        "bets_pnl": round(sum(_bet_pnl(book, b, final)[0] + _bet_pnl(book, b, final)[1] for b in book.bets), 4),
        "hedges_pnl": round(sum(sum(_position_pnl(book, p, final)) for p in book.positions), 4),
    }
    return HedgeQuality(frame, summary)


def _effectiveness(
    book: DayBook, settled: list[Bet], joint: Callable[[Mapping[str, bool]], float] | None, known: set[str] | None
) -> dict[str, float | None]:
    """Var(unhedged) and Var(hedged) of the settled bets' book P&L (the house pays each winning bet's payout, holds
    the day's hedge contracts) under the joint law, and 1 − their ratio."""
    none = {"var_unhedged": None, "var_hedged": None, "effectiveness": None}
    if joint is None or not settled:
        return none
    bets = [b for b in settled if known is None or all(m in known for m, _ in b.legs)]
    markets = {m for b in bets for m, _ in b.legs}
    hedges = [p for p in book.positions if p.contracts and p.market in markets]
    events = [b.legs for b in bets] + [((p.market, p.side),) for p in hedges]
    if not bets:
        return none

    def probability(legs: tuple[tuple[str, str], ...]) -> float:
        return float(joint({m: s == "yes" for m, s in legs}))

    _, cov = M.indicator_covariance(events, probability)
    w_bets = [-float(b.payout) for b in bets]
    var_u = M.book_variance(cov[: len(bets), : len(bets)], w_bets)
    var_h = M.book_variance(cov, w_bets + [float(p.contracts) for p in hedges])
    eff = M.hedge_effectiveness(var_u, var_h)
    return {"var_unhedged": var_u, "var_hedged": var_h, "effectiveness": None if math.isnan(eff) else eff}


SUMMARY_COLUMNS = [
    "orders",
    "orders_filled",
    "contracts_ordered",
    "contracts_filled",
    "fill_ratio",
    "mean_slippage_cents",
    "max_slippage_cents",
    "median_seconds_to_fill",
    "settled_bets",
    "var_unhedged",
    "var_hedged",
    "effectiveness",
    "bets_pnl",
    "hedges_pnl",
]


def store_hedge_quality(conn: psycopg.Connection, day: date, q: HedgeQuality) -> None:
    _replace(conn, "monitoring.hedge_quality", day, ORDER_COLUMNS, q.orders)
    _replace(conn, "monitoring.hedge_summary", day, SUMMARY_COLUMNS, pd.DataFrame([q.summary]))


# ----------------------------------------------------------------------------- model drift


@dataclass(frozen=True)
class Drift:
    calibration: pd.DataFrame  # settled_day, source, n, brier, log_loss
    reliability: pd.DataFrame  # bin_lower, bin_upper, n, mean_predicted, observed_rate
    parameters: pd.DataFrame  # cluster_id, kind, from_ref, to_ref, n_variables, max_abs_dh, …
    features: pd.DataFrame  # feature, psi, n_reference, n_current


CAL_COLUMNS = ["settled_day", "source", "n", "brier", "log_loss"]
REL_COLUMNS = ["bin_lower", "bin_upper", "n", "mean_predicted", "observed_rate"]
PARAM_COLUMNS = [
    "cluster_id",
    "kind",
    "from_ref",
    "to_ref",
    "n_variables",
    "max_abs_dh",
    "rms_dh",
    "max_abs_dj",
    "rms_dj",
]
PSI_COLUMNS = ["feature", "psi", "n_reference", "n_current"]


def _settled_bets(conn: psycopg.Connection, day: date, days: int) -> list[tuple[date, float, int]]:
    """(settlement day, quoted probability, won) of the settled bets of ``day`` and the ``days`` before, each dated
    by its markets' close_time (New York calendar)."""
    rows = conn.execute(
        """SELECT b.bet_id, b.state, q.probability::float8, array_agg(l.market_ticker), array_agg(l.side),
                  array_agg(m.close_time), array_agg(m.result)
           FROM ledger.bets b JOIN ledger.quotes q USING (quote_id) JOIN ledger.bet_legs l USING (bet_id)
           LEFT JOIN marts.markets m ON m.market_ticker = l.market_ticker
           WHERE b.state IN ('won', 'lost') AND b.trading_day BETWEEN %s AND %s
           GROUP BY b.bet_id, b.state, q.probability""",
        (day - timedelta(days=days), day),
    ).fetchall()
    out = []
    for _, state, p, _, sides, closes, results in rows:
        known = [c for c in closes if c is not None]
        if state == "lost":
            losing = [c for c, s, r in zip(closes, sides, results, strict=True) if c is not None and r not in (None, s)]
            when = min(losing or known) if known else None
        else:
            when = max(known) if known else None
        if when is not None:
            out.append((when.astimezone(EXCHANGE_TZ).date(), float(p), int(state == "won")))
    return out


def _artifact(url: str) -> tuple[np.ndarray, np.ndarray]:
    import fsspec

    with fsspec.open(url, "rb") as fh, np.load(io.BytesIO(fh.read())) as z:
        return z["h"], z["J"]


def parameter_drift_frame(conn: psycopg.Connection, day: date) -> pd.DataFrame:
    """Per cluster of the day: drift between consecutive stored fits (any day, same variables) and between
    consecutive session checkpoints of its newest fit."""
    from parlay import pricing_store

    clusters = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT cluster_id FROM pricing.cluster_models WHERE trading_day = %s ORDER BY 1", (day,)
        )
    ]
    rows: list[dict[str, object]] = []
    for cluster in clusters:
        fits = conn.execute(
            """SELECT model_version, variables, artifact_url FROM pricing.cluster_models
               WHERE cluster_id = %s AND trading_day <= %s ORDER BY fitted_at, model_version""",
            (cluster, day),
        ).fetchall()
        prev = None
        for version, variables, url in fits:
            try:
                h, J = _artifact(url)
            except (OSError, KeyError, ValueError):
                continue
            if prev is not None and prev[1] == list(variables):
                rows.append(
                    {
                        "cluster_id": cluster,
                        "kind": "refit",
                        "from_ref": prev[0],
                        "to_ref": version,
                        "n_variables": len(h),
                        **_drift(prev[2], prev[3], h, J),
                    }
                )
            prev = (version, list(variables), h, J)
        if not fits:
            continue
        try:
            snaps = pricing_store.load_snapshots(conn, fits[-1][0])
        except (OSError, KeyError, ValueError, LookupError):
            snaps = []
        for (t0, m0), (t1, m1) in itertools.pairwise(snaps):
            rows.append(
                {
                    "cluster_id": cluster,
                    "kind": "session",
                    "from_ref": t0.isoformat(),
                    "to_ref": t1.isoformat(),
                    "n_variables": int(m1.n),
                    **_drift(m0.h, m0.J, m1.h, m1.J),
                }
            )
    return pd.DataFrame(rows, columns=PARAM_COLUMNS)


def _drift(h0: np.ndarray, J0: np.ndarray, h1: np.ndarray, J1: np.ndarray) -> dict[str, float]:
    d = M.parameter_drift(h0, J0, h1, J1)
    return {"max_abs_dh": d["max_abs_dh"], "rms_dh": d["rms_dh"], "max_abs_dj": d["max_abs_dJ"], "rms_dj": d["rms_dJ"]}


def feature_drift_frame(conn: psycopg.Connection, day: date) -> pd.DataFrame:
    """PSI of every CatBoost feature: the member's training rows (reference) vs the day's held-back rows."""
    from models.pricing.catboost_parlay import parlay_features
    from parlay import pricing_runtime

    train, held = pricing_runtime.split_settled(pricing_runtime.settled_parlays(conn, day), day)
    if train.empty or held.empty:
        return pd.DataFrame(columns=PSI_COLUMNS)
    ref, cur = parlay_features(train), parlay_features(held)
    rows = []
    for feature in ref.columns:
        r, c = ref[feature].dropna(), cur[feature].dropna()
        value = M.psi(r.to_numpy(), c.to_numpy()) if len(r) and len(c) else math.nan
        rows.append(
            {
                "feature": feature,
                "psi": None if math.isnan(value) else value,
                "n_reference": len(r),
                "n_current": len(c),
            }
        )
    return pd.DataFrame(rows, columns=PSI_COLUMNS)


def model_drift(conn: psycopg.Connection, day: date) -> Drift:
    settled = _settled_bets(conn, day, 30)
    cal = []
    for d in sorted({s for s, _, _ in settled}):
        p = [x for s, x, _ in settled if s == d]
        y = [w for s, _, w in settled if s == d]
        cal.append(
            {"settled_day": d, "source": "bets", "n": len(p), "brier": M.brier(p, y), "log_loss": M.log_loss(p, y)}
        )
    from parlay import pricing_store

    found = pricing_store.latest_ensemble(conn, day)
    if found:
        row = conn.execute(
            "SELECT n_parlays, brier, log_loss FROM pricing.calibration "
            "WHERE ensemble_version = %s AND member = 'ensemble'",
            (found[0],),
        ).fetchone()
        if row and row[0]:
            cal.append(
                {
                    "settled_day": day,
                    "source": "held_back",
                    "n": int(row[0]),
                    "brier": _f(row[1]),
                    "log_loss": _f(row[2]),
                }
            )
    today = [(x, w) for s, x, w in _settled_bets(conn, day, 0)]
    bins = M.reliability_bins([x for x, _ in today], [w for _, w in today])
    rel = pd.DataFrame(
        [
            {
                "bin_lower": b.lower,
                "bin_upper": b.upper,
                "n": b.n,
                "mean_predicted": b.mean_predicted,
                "observed_rate": b.observed_rate,
            }
            for b in bins
        ],
        columns=REL_COLUMNS,
    )
    return Drift(
        pd.DataFrame(cal, columns=CAL_COLUMNS), rel, parameter_drift_frame(conn, day), feature_drift_frame(conn, day)
    )


def store_drift(conn: psycopg.Connection, day: date, d: Drift) -> None:
    _replace(conn, "monitoring.calibration", day, CAL_COLUMNS, d.calibration)
    _replace(conn, "monitoring.reliability", day, REL_COLUMNS, d.reliability)
    _replace(conn, "monitoring.parameter_drift", day, PARAM_COLUMNS, d.parameters)
    _replace(conn, "monitoring.feature_drift", day, PSI_COLUMNS, d.features)


# ----------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Verdict:
    name: str
    grade: str  # ok | warn | error
    value: float | None
    threshold: M.Threshold
    detail: str


def _verdict(name: str, value: float | None, detail: str) -> Verdict:
    return Verdict(name, M.grade(value, THRESHOLDS[name]), value, THRESHOLDS[name], detail)


def check_drawdown(conn: psycopg.Connection, day: date, cfg: RiskConfig | None = None) -> Verdict:
    cfg = cfg or RiskConfig()
    row = conn.execute("SELECT max(drawdown) FROM monitoring.lp_pool WHERE trading_day = %s", (day,)).fetchone()
    dd = _f(row[0]) if row else math.nan
    share = dd / cfg.max_drawdown if not math.isnan(dd) else None
    return _verdict(
        "drawdown_near_limit",
        share,
        f"largest drawdown {dd:.2%} of the limit {cfg.max_drawdown:.0%}"
        if share is not None
        else "no pool series for the day",
    )


def check_fill_ratio(conn: psycopg.Connection, day: date) -> Verdict:
    row = conn.execute(
        "SELECT fill_ratio, contracts_filled, contracts_ordered FROM monitoring.hedge_summary WHERE trading_day = %s",
        (day,),
    ).fetchone()
    if not row or row[0] is None:
        return _verdict("fill_ratio_floor", None, "no hedge orders for the day")
    return _verdict("fill_ratio_floor", float(row[0]), f"{float(row[1]):g} of {float(row[2]):g} contracts filled")


def check_slippage(conn: psycopg.Connection, day: date) -> Verdict:
    row = conn.execute(
        "SELECT mean_slippage_cents, max_slippage_cents FROM monitoring.hedge_summary WHERE trading_day = %s", (day,)
    ).fetchone()
    if not row or row[0] is None:
        return _verdict("slippage_ceiling", None, "no fills against a known mid")
    return _verdict(
        "slippage_ceiling",
        float(row[0]),
        f"mean {float(row[0]):.2f}¢, worst {_f(row[1]):.2f}¢ per contract vs the mid at decision time",
    )


def check_calibration(conn: psycopg.Connection, day: date) -> Verdict:
    rows = conn.execute(
        "SELECT settled_day, brier FROM monitoring.calibration WHERE trading_day = %s "
        "AND source = 'bets' AND brier IS NOT NULL ORDER BY settled_day",
        (day,),
    ).fetchall()
    if not rows:
        return _verdict("calibration_vs_recent", None, "no settled bets to score")
    last_day, last = rows[-1]
    recent = [float(b) for d, b in rows[:-1] if d >= last_day - timedelta(days=RECENT_DAYS)]
    if not recent:
        return _verdict(
            "calibration_vs_recent", None, f"Brier {float(last):.4f} on {last_day}; no earlier settled days to compare"
        )
    avg = float(np.mean(recent))
    return _verdict(
        "calibration_vs_recent",
        float(last) - avg,
        f"Brier {float(last):.4f} on {last_day} vs {avg:.4f} over the {len(recent)} days before",
    )


def check_psi(conn: psycopg.Connection, day: date) -> Verdict:
    row = conn.execute(
        "SELECT feature, psi FROM monitoring.feature_drift WHERE trading_day = %s AND psi IS NOT NULL "
        "ORDER BY psi DESC LIMIT 1",
        (day,),
    ).fetchone()
    if not row:
        return _verdict("feature_psi", None, "no features to compare")
    n = conn.execute(
        "SELECT count(*) FROM monitoring.feature_drift WHERE trading_day = %s AND psi > %s",
        (day, THRESHOLDS["feature_psi"].warn),
    ).fetchone()[0]
    return _verdict(
        "feature_psi",
        float(row[1]),
        f"largest PSI {float(row[1]):.3f} ({row[0]}); {n} features above {THRESHOLDS['feature_psi'].warn}",
    )


def store_verdict(conn: psycopg.Connection, day: date, v: Verdict) -> None:
    conn.execute(
        """INSERT INTO monitoring.check_results (trading_day, check_name, grade, value, warn_level, error_level, detail)
           VALUES (%s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (trading_day, check_name) DO UPDATE SET grade = EXCLUDED.grade, value = EXCLUDED.value,
               warn_level = EXCLUDED.warn_level, error_level = EXCLUDED.error_level, detail = EXCLUDED.detail,
               evaluated_at = now()""",
        (day, v.name, v.grade, v.value, v.threshold.warn, v.threshold.error, v.detail),
    )


# ----------------------------------------------------------------------------- pauses of the hedge schedule


def pause_hedging(conn: psycopg.Connection, day: date | None, check_name: str, reason: str, run_id: str | None) -> bool:
    """Record that hedging is paused because of a failed ERROR check; False when this failure was recorded
    before."""
    cur = conn.execute(
        """INSERT INTO monitoring.hedge_pauses (trading_day, check_name, reason, run_id) VALUES (%s, %s, %s, %s)
           ON CONFLICT (run_id, check_name) DO NOTHING""",
        (day, check_name, reason, run_id),
    )
    return cur.rowcount == 1


def active_pauses(conn: psycopg.Connection) -> list[tuple[datetime, date | None, str, str]]:
    """(paused_at, trading_day, check, reason) of every pause not resumed, newest first; none when the table is
    missing (an unmigrated database)."""
    exists = conn.execute("SELECT to_regclass('monitoring.hedge_pauses')").fetchone()[0]
    if exists is None:
        return []
    return [
        tuple(r)
        for r in conn.execute(  # type: ignore[misc]
            "SELECT paused_at, trading_day, check_name, reason FROM monitoring.hedge_pauses WHERE resumed_at IS NULL "
            "ORDER BY paused_at DESC, pause_id DESC"
        ).fetchall()
    ]


def resume_hedging(conn: psycopg.Connection) -> int:
    """Lift every active pause; returns how many."""
    return conn.execute("UPDATE monitoring.hedge_pauses SET resumed_at = now() WHERE resumed_at IS NULL").rowcount
