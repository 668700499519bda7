"""The hedging runtime: ledger state in, pure hedge math, orders out to a venue, fills back into the ledger.

One :func:`rebalance` is

1. :func:`reconcile` — book every fill the venue reports and refresh order states, so positions are
   current before planning (a venue that cannot report fills aborts the run: never plan on stale
   positions);
2. exposure of the open bets (:func:`models.hedging.book_exposure`) and the plan
   (:func:`models.hedging.plan_hedges`) moving each market to ``ratio · exposure`` contracts;
3. markets that must not trade are skipped with their reason: ``blocked_markets`` given by the caller
   (stale book, failed fit, …), markets of bets without a usable marginal, and markets where an order of
   an earlier plan is still working (trading next to it could over-hedge);
4. every order is written to ``ledger.hedge_orders`` (and committed) *before* it is sent; an order whose
   ``client_order_id`` is already in the ledger is never sent again unless it is still ``pending`` and
   the venue, asked first, does not have it;
5. :func:`reconcile` again, an equity mark (:func:`parlay.ledger.mark_equity`) at the instant the rebalance
   describes — open bets marked to the model, hedges at the venue's mids — and a :class:`RebalanceReport`.

The functions commit on the connection they are given (each order must be durable before it leaves).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

import psycopg

from models.hedging import (
    NO,
    YES,
    Ask,
    HedgeConfig,
    HedgeOrder,
    Joint,
    Leg,
    OpenBet,
    Position,
    book_exposure,
    check_ratio,
    independent_joint,
    plan_hedges,
)
from parlay import ledger
from parlay.execution import (
    FILLED,
    LIVE_STATES,
    PARTIALLY_FILLED,
    PENDING,
    REJECTED,
    SUBMITTED,
    VENUE_NAMES,
    Venue,
    VenueOrder,
)

log = logging.getLogger(__name__)

_EMPTY: Mapping[str, str] = MappingProxyType({})
FILL_LOOKBACK = timedelta(minutes=5)  # fills are fetched from a little before the oldest open order
RECONCILE_WINDOW = timedelta(days=7)  # orders older than this with missing fills are no longer chased
_UNRESOLVED = tuple(sorted(LIVE_STATES | {"unknown"}))


@dataclass(frozen=True)
class OrderOutcome:
    client_order_id: str
    market_ticker: str
    side: str
    action: str
    count: Decimal
    limit_price: Decimal
    state: str
    filled_count: Decimal
    reason: str | None


@dataclass
class RebalanceReport:
    plan_key: str
    venue: str
    planned: int = 0  # orders the plan asked for (before skips)
    submitted: int = 0  # sent to the venue in this run and accepted (any state but pending / rejected)
    already_known: int = 0  # already in the ledger: not sent again
    failed: int = 0  # sent in this run but rejected, or left pending (outcome unknown)
    orders: list[OrderOutcome] = field(default_factory=list)  # final state of every planned order not skipped
    skipped: dict[str, str] = field(default_factory=dict)  # market → reason
    exposure: dict[str, float] = field(default_factory=dict)
    targets: dict[str, Decimal] = field(default_factory=dict)
    notional: Decimal = Decimal(0)  # Σ count · limit of the orders accepted in this run (most it can cost)
    filled_notional: Decimal = Decimal(0)  # Σ count · price of the fills of this plan's orders
    fills_booked: int = 0
    reconcile_error: str | None = None
    mark: ledger.EquityMark | None = None  # the pool's equity after this rebalance


def _commit(conn: psycopg.Connection) -> None:
    if not conn.autocommit and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.commit()


# ----------------------------------------------------------------------------- ledger reads


def other_days_open_bets(conn: psycopg.Connection, day: date) -> dict[str, int]:
    """Open bets placed for trading days other than ``day``, counted by day: each is handled by its own day."""
    rows = conn.execute(
        """SELECT trading_day, count(*) FROM ledger.bets
           WHERE state = 'open' AND trading_day IS NOT NULL AND trading_day <> %s
           GROUP BY trading_day ORDER BY trading_day""",
        (day,),
    ).fetchall()
    return {d.isoformat(): int(n) for d, n in rows}


def current_positions(conn: psycopg.Connection) -> dict[str, Position]:
    """Contracts held per market from the ledger's fills (sides already settled are closed)."""
    rows = conn.execute(
        """SELECT p.market_ticker, p.side, p.contracts FROM ledger.hedge_positions p
           WHERE p.contracts <> 0 AND NOT EXISTS (
               SELECT 1 FROM ledger.hedge_settlements s WHERE s.market_ticker = p.market_ticker AND s.side = p.side)
           ORDER BY p.market_ticker, p.side"""
    ).fetchall()
    held: dict[str, dict[str, Decimal]] = {}
    for market, side, contracts in rows:
        held.setdefault(market, {YES: Decimal(0), NO: Decimal(0)})[side] = Decimal(contracts)
    return {m: Position(yes=v[YES], no=v[NO]) for m, v in held.items()}


def open_bets(
    conn: psycopg.Connection,
    probability: Callable[[tuple[Leg, ...]], float] | None = None,
    day: date | None = None,
) -> list[OpenBet]:
    """Open bets with their legs. ``probability`` gives the current model P(all legs hold); without it
    the probability of the quote the bet was placed on is used. With ``day``, only the bets placed for that
    trading day (and bets that carry no day)."""
    rows = conn.execute(
        """SELECT b.bet_id, b.payout, q.probability,
                  array_agg(l.market_ticker ORDER BY l.leg_index), array_agg(l.side ORDER BY l.leg_index)
           FROM ledger.bets b JOIN ledger.quotes q USING (quote_id) JOIN ledger.bet_legs l USING (bet_id)
           WHERE b.state = 'open' AND (%(day)s::date IS NULL OR b.trading_day = %(day)s::date
                                       OR b.trading_day IS NULL)
           GROUP BY b.bet_id, b.payout, q.probability ORDER BY b.bet_id""",
        {"day": day},
    ).fetchall()
    out = []
    for bet_id, payout, quoted, markets, sides in rows:
        legs = tuple(Leg(m, s) for m, s in zip(markets, sides, strict=True))
        p = probability(legs) if probability is not None else float(quoted)
        out.append(OpenBet(bet_id, legs, Decimal(payout), p))
    return out


def _order_row(conn: psycopg.Connection, coid: str) -> tuple | None:
    return conn.execute(
        """SELECT state, filled_count, count, market_ticker, side, action, limit_price, reason
           FROM ledger.hedge_orders WHERE client_order_id = %s""",
        (coid,),
    ).fetchone()


# ----------------------------------------------------------------------------- venue → ledger


def _apply(conn: psycopg.Connection, vo: VenueOrder) -> str:
    """Write the venue's view of an order to the ledger; fill-driven states follow the fills booked."""
    row = _order_row(conn, vo.client_order_id)
    if row is None:
        return vo.state
    booked, count = Decimal(row[1]), Decimal(row[2])
    state, reason = vo.state, vo.reason
    if state in (FILLED, PARTIALLY_FILLED):
        if booked > 0 and booked >= vo.filled_count:
            state = FILLED if booked >= count else PARTIALLY_FILLED
            reason = f"filled {booked} of {count}" + (f" ({vo.reason})" if vo.reason else "")
        else:
            state, reason = SUBMITTED, f"venue reports {vo.filled_count} filled, {booked} booked: awaiting fills"
    if state == row[0] and reason is None and vo.exchange_order_id is None:
        return state
    ledger.update_order(conn, vo.client_order_id, state, vo.exchange_order_id, reason)
    _commit(conn)
    return state


def reconcile(conn: psycopg.Connection, venue: Venue) -> int:
    """Book every fill the venue reports for our orders (idempotent by fill id) and refresh the state of
    every order that may still change. Returns the number of fills newly booked.

    A failed look-up of one order leaves its (known) state as it is; a failure to list fills raises.
    """
    _commit(conn)
    rows = conn.execute(
        """SELECT client_order_id, state, created_at FROM ledger.hedge_orders
           WHERE venue = %s AND (state = ANY(%s)
                 OR (state <> 'rejected' AND filled_count < count AND created_at > now() - %s))
           ORDER BY created_at, client_order_id""",
        (venue.name, list(_UNRESOLVED), RECONCILE_WINDOW),
    ).fetchall()
    _commit(conn)
    if not rows:
        return 0
    statuses: list[VenueOrder] = []
    for coid, state, _ in rows:
        if state not in _UNRESOLVED:
            continue
        try:
            vo = venue.order_status(coid)
        except Exception as exc:  # the order keeps its known state; the next run asks again
            log.warning("order look-up of %s on %s failed: %s", coid, venue.name, type(exc).__name__)
            continue
        if vo is not None:
            statuses.append(vo)
        elif state == PENDING:
            log.info("pending order %s is not on %s (yet): it stays pending", coid, venue.name)
    since = min(r[2] for r in rows) - FILL_LOOKBACK
    booked = 0
    fills = venue.fills(since)
    ours = {f.client_order_id for f in fills}
    known = {r[0] for r in conn.execute(
        "SELECT client_order_id FROM ledger.hedge_orders WHERE venue = %s AND client_order_id = ANY(%s)",
        (venue.name, sorted(ours)),
    )}
    _commit(conn)
    for f in sorted(fills, key=lambda f: (f.filled_at, f.fill_id)):
        if f.client_order_id not in known:
            continue
        if ledger.record_fill(conn, f.fill_id, f.client_order_id, f.market_ticker, f.side, f.action, f.count,
                              f.price, f.fee, f.filled_at):
            booked += 1
        _commit(conn)
    for vo in statuses:
        _apply(conn, vo)
    return booked


# ----------------------------------------------------------------------------- rebalance


def _submit(venue: Venue, order: HedgeOrder) -> VenueOrder:
    try:
        return venue.submit(order)
    except Exception as exc:  # outcome unknown: the order stays pending and is looked up before a resend
        log.error("submit of %s to %s raised %s", order.client_order_id, venue.name, type(exc).__name__)
        return VenueOrder(order.client_order_id, None, PENDING, Decimal(0), order.market_ticker, order.side,
                          order.action, Decimal(order.count), order.limit_price,
                          f"submit raised {type(exc).__name__}: {str(exc)[:200]}; look up before resubmitting")


def _status(venue: Venue, coid: str) -> tuple[VenueOrder | None, str | None]:
    """(the venue's order or None, None) — or (None, error) when the venue could not be asked."""
    try:
        return venue.order_status(coid), None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {str(exc)[:200]}"


def _live_orders(conn: psycopg.Connection, venue_name: str) -> list[tuple[str, str, str]]:
    return conn.execute(
        """SELECT client_order_id, market_ticker, state FROM ledger.hedge_orders
           WHERE venue = %s AND state = ANY(%s) ORDER BY created_at, client_order_id""",
        (venue_name, list(_UNRESOLVED)),
    ).fetchall()


def rebalance(
    conn: psycopg.Connection,
    venue: Venue,
    marginals: Mapping[str, float],
    asks: Mapping[str, Ask],
    cfg: HedgeConfig,
    plan_key: str,
    *,
    blocked_markets: Mapping[str, str] = _EMPTY,
    probability: Callable[[tuple[Leg, ...]], float] | None = None,
    joint: Joint | None = None,
    cluster_of: Mapping[str, str] | None = None,
    marked_at: datetime | None = None,
    mids: Mapping[str, float] | None = None,
    trading_day: date | None = None,
    day: date | None = None,
) -> RebalanceReport:
    """Move the hedge towards ``cfg.ratio`` of the book's exposure (see the module docstring).

    ``plan_key`` names this plan: the same key with the same book gives the same ``client_order_id``s, so a
    rerun after a crash or a timeout cannot double an order. ``blocked_markets`` maps markets that must not
    trade to the reason. ``joint`` is the model's joint law (``{market: bool}`` → probability) the deltas
    Σ⁻¹c come from (independent markets at ``marginals`` without it), solved per cluster of ``cluster_of``.
    With ``day``, the plan covers that trading day's bets and positions on its markets (``marginals``) only:
    another day's book is hedged by its own day. The rebalance ends with an equity mark at ``marked_at`` (the
    replayed instant in a replay; default: now), open bets marked with ``probability`` and hedges at ``mids``
    (default: ``marginals``). Raises when the venue cannot report fills before planning.
    """
    trading_day = trading_day if trading_day is not None else day
    # hedging the full payout would pay the correlation premium away
    check_ratio(cfg.ratio, bool(getattr(cfg, "ratio_override", False)))
    if venue.name not in VENUE_NAMES:
        raise ValueError(f"venue name {venue.name!r} is not one of {VENUE_NAMES}")
    report = RebalanceReport(plan_key, venue.name)
    report.fills_booked += reconcile(conn, venue)

    blocked: dict[str, str] = {m: r for m, r in blocked_markets.items()}
    usable: list[OpenBet] = []
    book_markets: set[str] = set()
    for bet in open_bets(conn, probability, day):
        book_markets.update(leg.market_ticker for leg in bet.legs)
        missing = sorted({leg.market_ticker for leg in bet.legs
                          if not 0.0 < float(marginals.get(leg.market_ticker, -1.0)) < 1.0})
        if missing:
            for leg in bet.legs:
                blocked.setdefault(leg.market_ticker, f"bet {bet.bet_id} has no usable marginal for {missing}")
            continue
        usable.append(bet)
    report.exposure = book_exposure(usable, joint or independent_joint(marginals), cluster_of)
    positions = current_positions(conn)
    if day is not None:  # positions on another day's markets belong to that day's plan
        positions = {m: pos for m, pos in positions.items() if m in marginals}
    plan = plan_hedges(report.exposure, positions, asks, cfg, plan_key)
    report.targets = dict(plan.targets)
    report.skipped.update(plan.skipped)
    report.planned = len(plan.orders)

    planned_ids = {o.client_order_id for o in plan.orders}
    for coid, market, state in _live_orders(conn, venue.name):
        if coid not in planned_ids:
            blocked.setdefault(market, f"order {coid} of an earlier plan is still {state}")
    _commit(conn)
    for market in sorted(blocked.keys() & (book_markets | set(positions) | set(report.exposure))):
        report.skipped[market] = blocked[market]  # a block outranks whatever the plan said

    sent: list[HedgeOrder] = []
    for order in plan.orders:
        market = order.market_ticker
        if market in blocked:
            report.skipped[market] = blocked[market]
            continue
        record = ledger.OrderRecord(order.client_order_id, venue.name, market, order.side, order.action,
                                    Decimal(order.count), order.limit_price, plan_key, order.reason, order.delta)
        created = ledger.record_order(conn, record)
        _commit(conn)  # durable before it leaves the process
        sent.append(order)
        if not created:
            row = _order_row(conn, order.client_order_id)
            _commit(conn)
            if row is None or row[0] != PENDING:
                report.already_known += 1
                continue
            found, error = _status(venue, order.client_order_id)  # never resend before asking
            if error is not None:
                report.failed += 1
                ledger.update_order(conn, order.client_order_id, PENDING,
                                    reason=f"not resent: look-up failed ({error}); the next run asks again")
                _commit(conn)
                continue
            if found is not None:
                report.already_known += 1
                _apply(conn, found)
                continue
        result = _submit(venue, order)
        state = _apply(conn, result)
        if state in (PENDING, REJECTED):
            report.failed += 1
        else:
            report.submitted += 1
            report.notional += Decimal(order.count) * order.limit_price

    try:
        report.fills_booked += reconcile(conn, venue)
    except Exception as exc:  # the orders are in the ledger; the next run books their fills
        log.error("reconcile after rebalance %s failed: %s", plan_key, type(exc).__name__)
        report.reconcile_error = f"{type(exc).__name__}: {str(exc)[:200]}"
    report.orders = _outcomes(conn, [o.client_order_id for o in sent])
    report.filled_notional = conn.execute(
        "SELECT coalesce(sum(count * price), 0) FROM ledger.fills WHERE client_order_id = ANY(%s)",
        ([o.client_order_id for o in sent],),
    ).fetchone()[0]
    _commit(conn)

    def leg_probability(legs: tuple[tuple[str, str], ...]) -> float | None:
        if probability is None:
            return None
        try:
            return probability(tuple(Leg(m, s) for m, s in legs))
        except Exception:  # a bet the current model cannot price keeps its quote's probability
            return None

    report.mark = ledger.mark_equity(conn, marked_at or datetime.now(UTC), f"rebalance {plan_key}",
                                     probability=leg_probability, mids=marginals if mids is None else mids,
                                     trading_day=trading_day)
    _commit(conn)
    return report


def _outcomes(conn: psycopg.Connection, coids: Sequence[str]) -> list[OrderOutcome]:
    rows = conn.execute(
        """SELECT client_order_id, market_ticker, side, action, count, limit_price, state, filled_count, reason
           FROM ledger.hedge_orders WHERE client_order_id = ANY(%s)""",
        (list(coids),),
    ).fetchall()
    by_id = {r[0]: OrderOutcome(*r) for r in rows}
    return [by_id[c] for c in coids if c in by_id]


__all__ = [
    "OrderOutcome",
    "RebalanceReport",
    "current_positions",
    "open_bets",
    "other_days_open_bets",
    "rebalance",
    "reconcile",
]
