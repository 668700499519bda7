"""The ledger in Postgres: double-entry postings, bets, hedge orders and fills, settlements.

Safety properties:

* every posting set balances (checked here and by a deferred constraint trigger in the database);
* bet placement is serialized by a transaction-level advisory lock and re-checks the risk rules against
  the book *inside* the transaction, so concurrent placements cannot together breach a limit;
* an idempotency key makes a retried placement return the same bet; settlement and fills post with
  idempotency keys too, so a retry after a crash cannot settle or book twice;
* each operation is one transaction: a connection killed midway leaves nothing half-written.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import psycopg

from models import ledger_rules as L
from models.risk import Book, BookBet, PoolState, RiskDecision

PLACEMENT_LOCK = 7_340_112_101  # pg_advisory_xact_lock key serializing bet placement
SETTLEMENT_LOCK = 7_340_112_102


class LedgerError(RuntimeError):
    pass


@dataclass(frozen=True)
class StoredQuote:
    quote_id: str
    legs: tuple[tuple[str, str], ...]
    stake: Decimal
    probability: float
    uncertainty: float
    margin: float
    price: Decimal
    payout: Decimal
    max_stake: Decimal
    model_version: str
    expires_at: datetime
    api_key_id: str | None


@dataclass(frozen=True)
class PlacedBet:
    bet_id: str
    quote_id: str
    stake: Decimal
    price: Decimal
    payout: Decimal
    state: str
    placed_at: datetime
    created: bool  # False when an earlier call with the same idempotency key placed it
    legs: tuple[tuple[str, str], ...] = ()


class BetRejected(LedgerError):
    def __init__(self, decision: RiskDecision) -> None:
        super().__init__(f"{decision.rule}: {decision.reason}")
        self.decision = decision


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


# ----------------------------------------------------------------------------- postings


def _ensure_accounts(conn: psycopg.Connection, accounts: Iterable[str]) -> None:
    rows = [(a, L.account_kind(a), a.split(":")[1] if a.startswith("hedge:") and a.count(":") == 2 else None)
            for a in set(accounts)]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO ledger.accounts (account_id, kind, market_ticker) VALUES (%s, %s, %s) "
            "ON CONFLICT (account_id) DO NOTHING",
            rows,
        )


def post(
    conn: psycopg.Connection,
    kind: str,
    postings: Sequence[L.Posting],
    *,
    ref_type: str | None = None,
    ref_id: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[int, bool]:
    """Write one balanced transaction (inside the caller's transaction). Returns (txn_id, created);
    with an idempotency key already used, nothing is written and the earlier transaction is returned."""
    postings = L.balanced(list(postings))
    if idempotency_key is not None:
        row = conn.execute(
            "SELECT txn_id FROM ledger.transactions WHERE idempotency_key = %s", (idempotency_key,)
        ).fetchone()
        if row:
            return int(row[0]), False
    _ensure_accounts(conn, (p.account for p in postings))
    txn_id = conn.execute(
        "INSERT INTO ledger.transactions (kind, ref_type, ref_id, idempotency_key) VALUES (%s, %s, %s, %s) "
        "RETURNING txn_id",
        (kind, ref_type, ref_id, idempotency_key),
    ).fetchone()[0]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO ledger.entries (txn_id, account_id, amount) VALUES (%s, %s, %s)",
            [(txn_id, p.account, p.amount) for p in postings],
        )
    return int(txn_id), True


def deposit(conn: psycopg.Connection, amount: Decimal, idempotency_key: str) -> int:
    with conn.transaction():
        txn, _ = post(conn, "deposit", L.deposit(amount), idempotency_key=idempotency_key)
    return txn


def balances(conn: psycopg.Connection) -> dict[str, Decimal]:
    return {a: b for a, b in conn.execute("SELECT account_id, balance FROM ledger.account_balances")}


def trial_balance(conn: psycopg.Connection) -> Decimal:
    """Sum of all entries: zero in a healthy ledger."""
    return conn.execute("SELECT coalesce(sum(amount), 0) FROM ledger.entries").fetchone()[0]


def unbalanced_transactions(conn: psycopg.Connection) -> list[int]:
    return [r[0] for r in conn.execute(
        "SELECT txn_id FROM ledger.entries GROUP BY txn_id HAVING sum(amount) <> 0")]


# ----------------------------------------------------------------------------- state for the risk engine


def open_book(conn: psycopg.Connection) -> Book:
    rows = conn.execute(
        """SELECT b.bet_id, b.payout, b.stake, array_agg(l.market_ticker ORDER BY l.leg_index),
                  array_agg(l.side ORDER BY l.leg_index)
           FROM ledger.bets b JOIN ledger.bet_legs l USING (bet_id)
           WHERE b.state = 'open' GROUP BY b.bet_id, b.payout, b.stake"""
    ).fetchall()
    return Book([BookBet(tuple(zip(m, s, strict=True)), payout, stake) for _, payout, stake, m, s in rows])


def pool_cash(conn: psycopg.Connection) -> Decimal:
    return conn.execute(
        "SELECT coalesce(sum(balance), 0) FROM ledger.account_balances WHERE account_id = %s", (L.POOL_CASH,)
    ).fetchone()[0]


def pool_state(conn: psycopg.Connection) -> PoolState:
    """Pool cash now; equity from the latest equity mark (by the instant it describes, ``marked_at``) and the
    peak over every mark. Without marks, equity = peak = cash."""
    cash = pool_cash(conn)
    mark = conn.execute(
        "SELECT equity, (SELECT max(equity) FROM ledger.equity_marks) FROM ledger.equity_marks "
        "ORDER BY marked_at DESC, mark_id DESC LIMIT 1"
    ).fetchone()
    if mark is None:
        return PoolState(cash=cash, equity=cash, peak_equity=cash)
    equity, peak = mark
    return PoolState(cash=cash, equity=equity, peak_equity=max(peak, equity))


@dataclass(frozen=True)
class EquityMark:
    marked_at: datetime
    cash: Decimal
    expected_payout: Decimal  # open bets' payouts weighted by the model's probability that they win
    hedge_value: Decimal  # hedge contracts held, marked at the venue's mids
    equity: Decimal  # cash + hedge_value − expected_payout
    reason: str
    trading_day: date | None = None


MARK_CENTS = Decimal("0.0001")

# P(every leg holds) under the current model; None when the model cannot price the legs (the quote's then)
LegProbability = Callable[[tuple[tuple[str, str], ...]], float | None]


def open_liabilities(conn: psycopg.Connection, probability: LegProbability | None = None) -> Decimal:
    """Expected payout of the open bets: Σ payout · P(bet wins), P from ``probability`` (the current model),
    else — or where it returns None — the probability of the quote the bet was placed on."""
    rows = conn.execute(
        """SELECT b.bet_id, b.payout, q.probability,
                  array_agg(l.market_ticker ORDER BY l.leg_index), array_agg(l.side ORDER BY l.leg_index)
           FROM ledger.bets b JOIN ledger.quotes q USING (quote_id) JOIN ledger.bet_legs l USING (bet_id)
           WHERE b.state = 'open' GROUP BY b.bet_id, b.payout, q.probability ORDER BY b.bet_id"""
    ).fetchall()
    total = Decimal(0)
    for _, payout, quoted, markets, sides in rows:
        p = probability(tuple(zip(markets, sides, strict=True))) if probability is not None else None
        if p is None or not math.isfinite(float(p)):  # the model cannot price it (another day's markets)
            p = float(quoted)
        total += Decimal(payout) * Decimal(repr(min(max(float(p), 0.0), 1.0)))
    return total.quantize(MARK_CENTS)


def hedge_value(conn: psycopg.Connection, mids: Mapping[str, float]) -> Decimal:
    """Hedge contracts still held (sides not settled), marked at the YES mid (a NO contract at 1 − mid); a market
    without a mid is carried at its cost basis."""
    rows = conn.execute(
        """SELECT p.market_ticker, p.side, p.contracts, coalesce(a.balance, 0) FROM ledger.hedge_positions p
           LEFT JOIN ledger.account_balances a ON a.account_id = 'hedge:' || p.market_ticker || ':' || p.side
           WHERE p.contracts <> 0 AND NOT EXISTS (
               SELECT 1 FROM ledger.hedge_settlements s WHERE s.market_ticker = p.market_ticker AND s.side = p.side)"""
    ).fetchall()
    total = Decimal(0)
    for market, side, contracts, basis in rows:
        mid = mids.get(market)
        if mid is None or not math.isfinite(float(mid)):
            total += Decimal(basis)
            continue
        yes = Decimal(repr(min(max(float(mid), 0.0), 1.0)))
        total += Decimal(contracts) * (yes if side == "yes" else 1 - yes)
    return total.quantize(MARK_CENTS)


def mark_equity(
    conn: psycopg.Connection,
    marked_at: datetime,
    reason: str,
    *,
    probability: LegProbability | None = None,
    mids: Mapping[str, float] | None = None,
    trading_day: date | None = None,
) -> EquityMark:
    """Record the pool's equity at ``marked_at`` — the instant the mark describes (replayed or simulated time in
    a replay, the wall clock live): pool cash, open liabilities marked to the current model (``probability``),
    hedge positions marked at the venue's ``mids``, and equity = cash + hedge value − expected payout. The
    drawdown guardrail (:func:`pool_state`) reads the latest mark and the peak over marks."""
    if marked_at.tzinfo is None:
        raise ValueError("marked_at must be timezone-aware")
    with conn.transaction():
        cash = pool_cash(conn)
        expected = open_liabilities(conn, probability)
        hedges = hedge_value(conn, mids or {})
        equity = cash + hedges - expected
        conn.execute(
            "INSERT INTO ledger.equity_marks (marked_at, trading_day, cash, expected_payout, hedge_value, equity, "
            "reason) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (marked_at, trading_day, cash, expected, hedges, equity, reason),
        )
    return EquityMark(marked_at, cash, expected, hedges, equity, reason, trading_day)


def equity_marks(conn: psycopg.Connection, trading_day: date | None = None) -> list[EquityMark]:
    """The marks (of ``trading_day``, or all) in the order of the instants they describe."""
    rows = conn.execute(
        "SELECT marked_at, cash, expected_payout, hedge_value, equity, reason, trading_day FROM ledger.equity_marks "
        "WHERE %s::date IS NULL OR trading_day = %s ORDER BY marked_at, mark_id", (trading_day, trading_day)
    ).fetchall()
    return [EquityMark(*r) for r in rows]


# ----------------------------------------------------------------------------- quotes and bets


def store_quote(conn: psycopg.Connection, q: StoredQuote) -> None:
    conn.execute(
        """INSERT INTO ledger.quotes (quote_id, api_key_id, legs, stake, probability, uncertainty, margin, price,
                                      payout, max_stake, model_version, expires_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (q.quote_id, q.api_key_id, json.dumps([{"ticker": t, "side": s} for t, s in q.legs]), q.stake,
         q.probability, q.uncertainty, q.margin, q.price, q.payout, q.max_stake, q.model_version, q.expires_at),
    )


def get_quote(conn: psycopg.Connection, quote_id: str) -> StoredQuote | None:
    row = conn.execute(
        """SELECT quote_id, legs, stake, probability, uncertainty, margin, price, payout, max_stake,
                  model_version, expires_at, api_key_id FROM ledger.quotes WHERE quote_id = %s""",
        (quote_id,),
    ).fetchone()
    if row is None:
        return None
    legs = tuple((leg["ticker"], leg["side"]) for leg in row[1])
    return StoredQuote(row[0], legs, row[2], float(row[3]), float(row[4]), float(row[5]), row[6], row[7], row[8],
                       row[9], row[10], row[11])


def _bet_from_row(row: tuple, created: bool, legs: tuple[tuple[str, str], ...] = ()) -> PlacedBet:
    return PlacedBet(row[0], row[1], row[2], row[3], row[4], row[5], row[6], created, legs)


def get_bet(conn: psycopg.Connection, bet_id: str) -> PlacedBet | None:
    row = conn.execute(
        "SELECT bet_id, quote_id, stake, price, payout, state, placed_at FROM ledger.bets WHERE bet_id = %s",
        (bet_id,),
    ).fetchone()
    if row is None:
        return None
    legs = tuple(conn.execute(
        "SELECT market_ticker, side FROM ledger.bet_legs WHERE bet_id = %s ORDER BY leg_index", (bet_id,)
    ).fetchall())
    return _bet_from_row(row, False, legs)


def place_bet(
    conn: psycopg.Connection,
    quote: StoredQuote,
    stake: Decimal,
    idempotency_key: str,
    api_key_id: str | None,
    check: Callable[[Book, PoolState], RiskDecision],
    trading_day: date | None = None,
) -> PlacedBet:
    """Place a bet on a stored quote, atomically. ``check`` re-runs the risk rules against the book as it
    is inside the lock; a rejection raises :class:`BetRejected` and writes nothing."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PLACEMENT_LOCK,))
        existing = conn.execute(
            """SELECT bet_id, quote_id, stake, price, payout, state, placed_at FROM ledger.bets
               WHERE api_key_id IS NOT DISTINCT FROM %s AND idempotency_key = %s""",
            (api_key_id, idempotency_key),
        ).fetchone()
        if existing:
            return _bet_from_row(existing, False, quote.legs)
        decision = check(open_book(conn), pool_state(conn))
        if not decision.accepted:
            raise BetRejected(decision)
        bet_id = new_id("bet")
        payout = decision.payout
        conn.execute(
            """INSERT INTO ledger.bets (bet_id, quote_id, api_key_id, idempotency_key, stake, price, payout, state,
                                        trading_day)
               VALUES (%s, %s, %s, %s, %s, %s, %s, 'open', %s)""",
            (bet_id, quote.quote_id, api_key_id, idempotency_key, stake, decision.price, payout, trading_day),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ledger.bet_legs (bet_id, leg_index, market_ticker, side) VALUES (%s, %s, %s, %s)",
                [(bet_id, i, t, s) for i, (t, s) in enumerate(quote.legs)],
            )
        txn, _ = post(conn, "bet_placed", L.bet_placed(bet_id, stake, payout), ref_type="bet", ref_id=bet_id,
                      idempotency_key=f"bet_placed:{bet_id}")
        conn.execute("UPDATE ledger.bets SET txn_placed = %s WHERE bet_id = %s", (txn, bet_id))
        row = conn.execute(
            "SELECT bet_id, quote_id, stake, price, payout, state, placed_at FROM ledger.bets WHERE bet_id = %s",
            (bet_id,),
        ).fetchone()
    return _bet_from_row(row, True, quote.legs)


# ----------------------------------------------------------------------------- settlement


@dataclass(frozen=True)
class SettlementReport:
    markets: int
    bets_won: int
    bets_lost: int
    bets_void: int
    hedges_closed: int


def settle(conn: psycopg.Connection, results: dict[str, str], void_markets: Iterable[str] = ()) -> SettlementReport:
    """Apply market results ("yes"/"no"): a bet is lost as soon as one leg fails, won when every leg held,
    void when a leg's market was voided. Hedge positions on settled markets are closed. Idempotent."""
    won = lost = void = closed = 0
    voided = set(void_markets)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SETTLEMENT_LOCK,))
        for market, result in results.items():
            conn.execute(
                "INSERT INTO ledger.market_settlements (market_ticker, result) VALUES (%s, %s) "
                "ON CONFLICT (market_ticker) DO NOTHING",
                (market, result),
            )
        known = {m: r for m, r in conn.execute("SELECT market_ticker, result FROM ledger.market_settlements")}
        rows = conn.execute(
            """SELECT b.bet_id, b.stake, b.payout, array_agg(l.market_ticker), array_agg(l.side)
               FROM ledger.bets b JOIN ledger.bet_legs l USING (bet_id)
               WHERE b.state = 'open' GROUP BY b.bet_id, b.stake, b.payout"""
        ).fetchall()
        for bet_id, stake, payout, markets, sides in rows:
            legs = list(zip(markets, sides, strict=True))
            if any(m in voided for m, _ in legs):
                outcome = "void"
            elif any(m in known and known[m] != s for m, s in legs):
                outcome = "lost"
            elif all(m in known and known[m] == s for m, s in legs):
                outcome = "won"
            else:
                continue
            txn, _ = post(conn, "bet_settled", L.bet_settled(bet_id, stake, payout, outcome), ref_type="bet",
                                ref_id=bet_id, idempotency_key=f"bet_settled:{bet_id}")
            conn.execute(
                "UPDATE ledger.bets SET state = %s, settled_at = now(), txn_settled = %s WHERE bet_id = %s",
                (outcome, txn, bet_id),
            )
            won += outcome == "won"
            lost += outcome == "lost"
            void += outcome == "void"
        for market, side, contracts in conn.execute(
            """SELECT p.market_ticker, p.side, p.contracts FROM ledger.hedge_positions p
               WHERE p.market_ticker = ANY(%s) AND p.contracts > 0
                 AND NOT EXISTS (SELECT 1 FROM ledger.hedge_settlements s
                                 WHERE s.market_ticker = p.market_ticker AND s.side = p.side)""",
            (list(known),),
        ).fetchall():
            basis = _open_cost_basis(conn, market, side)
            wins = known[market] == side
            txn, _ = post(conn, "hedge_settled", L.hedge_settled(market, side, contracts, basis, wins),
                          ref_type="hedge", ref_id=f"{market}:{side}", idempotency_key=f"hedge_settled:{market}:{side}")
            conn.execute(
                "INSERT INTO ledger.hedge_settlements (market_ticker, side, contracts, value, txn_id) "
                "VALUES (%s, %s, %s, %s, %s)",
                (market, side, contracts, contracts if wins else Decimal(0), txn),
            )
            closed += 1
    return SettlementReport(len(results), won, lost, void, closed)


def _open_cost_basis(conn: psycopg.Connection, market: str, side: str) -> Decimal:
    """Balance of the hedge account: the cost basis of the contracts still held."""
    row = conn.execute(
        "SELECT balance FROM ledger.account_balances WHERE account_id = %s", (L.hedge_account(market, side),)
    ).fetchone()
    return row[0] if row else Decimal(0)


# ----------------------------------------------------------------------------- hedge orders and fills


@dataclass(frozen=True)
class OrderRecord:
    client_order_id: str
    venue: str
    market_ticker: str
    side: str
    action: str
    count: Decimal
    limit_price: Decimal
    plan_key: str
    reason: str
    delta: float | None = None  # the market's book delta the order came from


def record_order(conn: psycopg.Connection, o: OrderRecord) -> bool:
    """Insert a pending hedge order; False when the same client_order_id exists (a retry)."""
    with conn.transaction():
        cur = conn.execute(
            """INSERT INTO ledger.hedge_orders (client_order_id, venue, market_ticker, side, action, count,
                                               limit_price, state, plan_key, reason, delta)
               VALUES (%s, %s, %s, %s, %s, %s, %s, 'pending', %s, %s, %s)
               ON CONFLICT (client_order_id) DO NOTHING""",
            (o.client_order_id, o.venue, o.market_ticker, o.side, o.action, o.count, o.limit_price, o.plan_key,
             o.reason, o.delta),
        )
        return cur.rowcount == 1


def update_order(conn: psycopg.Connection, client_order_id: str, state: str, exchange_order_id: str | None = None,
                 reason: str | None = None) -> None:
    with conn.transaction():
        conn.execute(
            """UPDATE ledger.hedge_orders SET state = %s, exchange_order_id = coalesce(%s, exchange_order_id),
                      reason = coalesce(%s, reason), updated_at = now() WHERE client_order_id = %s""",
            (state, exchange_order_id, reason, client_order_id),
        )


def record_fill(conn: psycopg.Connection, fill_id: str, client_order_id: str, market: str, side: str, action: str,
                count: Decimal, price: Decimal, fee: Decimal, filled_at: datetime) -> bool:
    """Book a fill (idempotent by fill id): ledger postings, order's filled count. False if already booked."""
    with conn.transaction():
        exists = conn.execute("SELECT 1 FROM ledger.fills WHERE fill_id = %s", (fill_id,)).fetchone()
        if exists:
            return False
        basis = Decimal(0)
        if action == "sell":
            row = conn.execute(
                "SELECT contracts FROM ledger.hedge_positions WHERE market_ticker = %s AND side = %s",
                (market, side),
            ).fetchone()
            held = row[0] if row else Decimal(0)
            if held < count:
                raise LedgerError(f"fill {fill_id} sells {count} {side} of {market} but only {held} are held")
            basis = (_open_cost_basis(conn, market, side) / held * count).quantize(Decimal("0.0001"))
        txn, _ = post(conn, "hedge_fill", L.hedge_filled(market, side, action, count, price, fee, basis),
                      ref_type="fill", ref_id=fill_id, idempotency_key=f"fill:{fill_id}")
        conn.execute(
            """INSERT INTO ledger.fills (fill_id, client_order_id, market_ticker, side, action, count, price, fee,
                                         filled_at, txn_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (fill_id, client_order_id, market, side, action, count, price, fee, filled_at, txn),
        )
        conn.execute(
            """UPDATE ledger.hedge_orders SET filled_count = filled_count + %s,
                      state = CASE WHEN filled_count + %s >= count THEN 'filled' ELSE 'partially_filled' END,
                      updated_at = now()
               WHERE client_order_id = %s""",
            (count, count, client_order_id),
        )
        return True
