"""The book's runtime: LP capital, the listed-combo quote table, books for hedging, settlement, P&L.

The code behind the ``risk``, ``hedging`` and ``ledger`` assets; the pure rules live in
:mod:`models.risk` and :mod:`models.hedging`, the money in :mod:`parlay.ledger`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import psycopg

from models.hedging import Ask
from models.pricing.ensemble import EnsemblePricer
from models.risk import Book, MarketDef, RiskConfig, evaluate
from parlay import ledger, pricing_store

LP_SEED_KEY = "lp-seed"


def ensure_lp_capital(conn: psycopg.Connection, amount: Decimal) -> bool:
    """Deposit the LP pool's starting capital once (idempotent); True when deposited now."""
    before = conn.execute("SELECT count(*) FROM ledger.transactions WHERE idempotency_key = %s",
                          (LP_SEED_KEY,)).fetchone()[0]
    ledger.deposit(conn, amount, LP_SEED_KEY)
    return before == 0


def book_market_defs(defs: Mapping[str, MarketDef], book: Book) -> dict[str, MarketDef]:
    """``defs`` plus a stand-in (its own variable) for every market of an open bet that today's model does not
    map (a bet of another trading day): that bet's payout still counts against the LP's capacity, as the
    quote API counts it."""
    out = dict(defs)
    for bet in book.bets:
        for ticker, _ in bet.legs:
            if ticker not in out:
                out[ticker] = MarketDef(ticker, ((f"market/{ticker}", True),))
    return out


def listed_quotes(conn: psycopg.Connection, pricer: EnsemblePricer, day: date, cfg: RiskConfig,
                  stake: Decimal = Decimal(10)) -> pd.DataFrame:
    """A quote (at ``stake``) for every combo listed on ``day`` whose legs the pricer knows: the model's
    probability and uncertainty, the margin, the grid price, the max stake, and the rule when refused."""
    rows = conn.execute(
        "SELECT combo_ticker, legs FROM marts.combo_structure WHERE trading_day = %s ORDER BY combo_ticker", (day,)
    ).fetchall()
    book, pool = ledger.open_book(conn), ledger.pool_state(conn)
    defs = book_market_defs(pricer.market_defs(), book)
    markets = pricer.markets()
    out = []
    for combo, legs_json in rows:
        legs = [(leg["market_ticker"], leg["side"]) for leg in (legs_json if not isinstance(legs_json, str)
                                                                else json.loads(legs_json))]
        if not legs or any(t not in markets for t, _ in legs):
            out.append({"combo_ticker": combo, "n_legs": len(legs), "quotable": False, "rule": "unknown_market"})
            continue
        q = pricer.quote(legs)
        d = evaluate(legs, stake, q.probability, q.uncertainty, book, pool, defs, cfg)
        out.append({
            "combo_ticker": combo, "n_legs": len(legs), "quotable": d.accepted,
            "rule": d.rule, "probability": q.probability, "independence": q.raw_probability,
            "uncertainty": q.uncertainty, "margin": d.margin, "price": float(d.price) if d.price else None,
            "max_stake": float(d.max_stake),
        })
    return pd.DataFrame(out, columns=["combo_ticker", "n_legs", "quotable", "rule", "probability", "independence",
                                      "uncertainty", "margin", "price", "max_stake"])


def store_listed_quotes(conn: psycopg.Connection, day: date, version: str, table: pd.DataFrame) -> None:
    with conn.transaction():
        conn.execute("DELETE FROM risk.listed_quotes WHERE trading_day = %s", (day,))
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO risk.listed_quotes (trading_day, combo_ticker, ensemble_version, n_legs, quotable, rule,
                       probability, independence, uncertainty, margin, price, max_stake)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                [(day, r["combo_ticker"], version, int(r["n_legs"]), bool(r["quotable"]), r["rule"],
                  *(None if pd.isna(r[c]) else float(r[c]) for c in
                    ("probability", "independence", "uncertainty", "margin", "price", "max_stake")))
                 for r in table.to_dict("records")],
            )


@dataclass(frozen=True)
class BookView:
    asks: dict[str, Ask]
    mids: dict[str, float]
    stale: dict[str, str]  # market → why its book may not be traded on


def day_books(conn: psycopg.Connection, day: date, at: datetime | None = None,
              max_age: timedelta = timedelta(minutes=30)) -> BookView:
    """The latest valid book of every market of ``day`` at or before ``at`` (default: the day's last
    snapshot). A market whose newest book is older than ``max_age`` before ``at`` (or before the day's
    last snapshot), unreliable or crossed is listed in ``stale`` and must not be hedged on."""
    rows = conn.execute(
        """SELECT DISTINCT ON (market_ticker) market_ticker, ts, yes_bid::float8, yes_ask::float8, mid::float8,
                  reliable, crossed
           FROM marts.book_snapshots
           WHERE trading_day = %s AND (%s::timestamptz IS NULL OR ts <= %s::timestamptz)
           ORDER BY market_ticker, ts DESC""", (day, at, at)).fetchall()
    if not rows:
        return BookView({}, {}, {})
    ref = at or max(r[1] for r in rows)
    asks, mids, stale = {}, {}, {}
    for market, ts, bid, ask, mid, reliable, crossed in rows:
        if crossed or reliable is False:
            stale[market] = "book unreliable or crossed"
            continue
        if ref - ts > max_age:
            stale[market] = f"book is {(ref - ts).total_seconds() / 60:.0f} min old"
        asks[market] = Ask(Decimal(str(round(ask, 4))) if ask is not None else None,
                           Decimal(str(round(1 - bid, 4))) if bid is not None else None)
        if mid is not None:
            mids[market] = mid
    return BookView(asks, mids, stale)


def day_results(conn: psycopg.Connection, markets: list[str]) -> tuple[dict[str, str], list[str]]:
    """Settled results ("yes"/"no") and voided markets among ``markets`` (from marts.markets)."""
    rows = conn.execute("SELECT market_ticker, result, status FROM marts.markets WHERE market_ticker = ANY(%s)",
                        (markets,)).fetchall()
    results = {m: r for m, r, _ in rows if r in ("yes", "no")}
    void = [m for m, r, s in rows if r in ("void", "voided") or (s == "finalized" and r in (None, "", "void"))]
    return results, void


def settle_from_results(conn: psycopg.Connection) -> ledger.SettlementReport:
    """Settle every open bet and hedge position whose markets have results."""
    markets = [r[0] for r in conn.execute(
        """SELECT DISTINCT market_ticker FROM ledger.bet_legs l JOIN ledger.bets b USING (bet_id) WHERE b.state = 'open'
           UNION SELECT DISTINCT market_ticker FROM ledger.hedge_positions WHERE contracts <> 0""").fetchall()]
    results, void = day_results(conn, markets)
    return ledger.settle(conn, results, void)


def pnl(conn: psycopg.Connection) -> dict[str, object]:
    """Ledger balances that tell the LP's story, and the trial balance (0 when every entry balances)."""
    balances = ledger.balances(conn)
    bets = dict(conn.execute("SELECT state, count(*) FROM ledger.bets GROUP BY state").fetchall())
    stakes = conn.execute("SELECT coalesce(sum(stake), 0), coalesce(sum(payout) FILTER (WHERE state = 'won'), 0) "
                          "FROM ledger.bets WHERE state IN ('won', 'lost')").fetchone()
    hedges = conn.execute("SELECT count(*), coalesce(sum(count * price), 0), coalesce(sum(fee), 0) FROM ledger.fills"
                          ).fetchone()
    return {
        "trial_balance": ledger.trial_balance(conn),
        "bets": {k: int(v) for k, v in bets.items()},
        "settled_stakes": stakes[0], "settled_payouts": stakes[1], "bettor_pnl_for_house": stakes[0] - stakes[1],
        "hedge_fills": int(hedges[0]), "hedge_cost": hedges[1], "hedge_fees": hedges[2],
        "balances": {k: v for k, v in balances.items() if v != 0},
    }


def pricer_at_hedge_time(conn: psycopg.Connection, day: date) -> EnsemblePricer:
    """The day's pricer as it stood at the hedge instant (:func:`hedge_time`): the model snapshots and books
    stamped at or before it (:func:`parlay.pricing_store.as_of_pricer`), the pricer the simulated bettors quote
    from, so that listed quotes and hedges of a replay see no later data either. A day without books: the
    stored pricer."""
    base = pricing_store.load_pricer(conn, day=day)
    at = hedge_time(conn, day)
    return pricing_store.as_of_pricer(conn, day, at, base) if at is not None else base


def hedge_time(conn: psycopg.Connection, day: date) -> datetime | None:
    """When the day's hedge is placed in a replay: the last book before the first market of the day closes
    (live: now). None when the day has no books."""
    row = conn.execute(
        """SELECT min(m.close_time) FROM marts.markets m
           WHERE m.market_ticker IN (SELECT DISTINCT market_ticker FROM marts.book_snapshots WHERE trading_day = %s)""",
        (day,)).fetchone()
    first_close = row[0] if row else None
    last = conn.execute("SELECT max(ts) FROM marts.book_snapshots WHERE trading_day = %s", (day,)).fetchone()[0]
    if last is None:
        return None
    if first_close is None or first_close > last:
        return last
    return first_close - timedelta(minutes=1)



def day_book(conn: psycopg.Connection, day: date) -> dict[str, object]:
    """One trading day's book: bets placed for the day by state, their settled stakes and payouts, and the hedge
    fills of the day's orders (cumulative figures: :func:`pnl`)."""
    bets = dict(conn.execute("SELECT state, count(*) FROM ledger.bets WHERE trading_day = %s GROUP BY state",
                             (day,)).fetchall())
    stakes = conn.execute("SELECT coalesce(sum(stake), 0), coalesce(sum(payout) FILTER (WHERE state = 'won'), 0) "
                          "FROM ledger.bets WHERE trading_day = %s AND state IN ('won', 'lost')", (day,)).fetchone()
    hedges = conn.execute(
        """SELECT count(*), coalesce(sum(f.count * f.price), 0), coalesce(sum(f.fee), 0)
           FROM ledger.fills f JOIN ledger.hedge_orders o USING (client_order_id) WHERE o.plan_key LIKE %s""",
        (f"{day.isoformat()}:%",)).fetchone()
    return {
        "bets": {k: int(v) for k, v in bets.items()},
        "settled_stakes": stakes[0], "settled_payouts": stakes[1], "bettor_pnl_for_house": stakes[0] - stakes[1],
        "hedge_fills": int(hedges[0]), "hedge_cost": hedges[1], "hedge_fees": hedges[2],
    }


# ----------------------------------------------------------------------------- equity marks over the day


def model_probability(pricer: EnsemblePricer | None) -> ledger.LegProbability:
    """P(every leg holds) under ``pricer``; None for legs it cannot price, or without a pricer (the bet's quote is
    used then)."""

    def probability(legs: tuple[tuple[str, str], ...]) -> float | None:
        if pricer is None:
            return None
        try:
            return float(pricer.quote(list(legs)).probability)
        except Exception:  # unknown market, unconverged cluster, impossible combo of an old model
            return None

    return probability


def trading_day_span(conn: psycopg.Connection, day: date) -> tuple[datetime, datetime] | None:
    """The replayed trading day: from its first to its last book snapshot (None when it has no books)."""
    row = conn.execute("SELECT min(ts), max(ts) FROM marts.book_snapshots WHERE trading_day = %s", (day,)).fetchone()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]


def hourly_instants(start: datetime, end: datetime, *, include_start: bool = True) -> list[datetime]:
    """``start``, every full hour after it up to ``end``, and ``end``: at least one instant in every clock hour
    the interval touches."""
    out = [start] if include_start else []
    hour = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    while hour < end:
        out.append(hour)
        hour += timedelta(hours=1)
    if end > start:
        out.append(end)
    return out


def mark_hours(conn: psycopg.Connection, day: date, instants: list[datetime], pricer: EnsemblePricer | None,
               reason: str) -> list[ledger.EquityMark]:
    """An equity mark of the pool at each of ``instants`` of ``day``: the ledger as it stands, open bets marked to
    ``pricer`` as it stood at the instant (:func:`parlay.pricing_store.as_of_pricer`: the model snapshot at or
    before it; a bet no snapshot can price yet keeps its quote's probability), hedges at the mids of the latest
    book at or before the instant. An instant already marked for the day with the same reason is not marked
    again (a rerun adds nothing)."""
    done = {r[0] for r in conn.execute(
        "SELECT marked_at FROM ledger.equity_marks WHERE trading_day = %s AND reason = %s", (day, reason))}
    out = []
    for at in instants:
        if at in done:
            continue
        probability = model_probability(pricing_store.as_of_pricer(conn, day, at, pricer) if pricer else None)
        books = day_books(conn, day, at=at)
        out.append(ledger.mark_equity(conn, at, reason, probability=probability, mids=books.mids, trading_day=day))
        conn.commit()
    return out


def settlement_time(conn: psycopg.Connection, day: date) -> datetime | None:
    """When the day's open bets settle in a replay: the last book of the day, or the last close of a market the
    day's books cover when that is later (live: now). None when the day has no books."""
    span = trading_day_span(conn, day)
    if span is None:
        return None
    row = conn.execute(
        """SELECT max(m.close_time) FROM marts.markets m
           WHERE m.market_ticker IN (SELECT DISTINCT market_ticker FROM marts.book_snapshots WHERE trading_day = %s)""",
        (day,)).fetchone()
    last_close = row[0] if row else None
    return max(span[1], last_close) if last_close is not None else span[1]
