"""The quote and bet logic of the service, independent of HTTP (the routes and ``parlay quote`` call it).

Quoting reads only memory (pricer, risk state, market snapshot — see :mod:`service.state`) and writes
one row (``ledger.quotes``): one Postgres round trip. Placing a bet re-runs the risk rules inside the
ledger's placement lock against the book as it is then (:func:`parlay.ledger.place_bet`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import psycopg
from pydantic import BaseModel, ConfigDict, Field

from models.pricing.quotes import EnsembleQuote, ModelNotConverged, UnknownMarket
from models.risk import Book, BookBet, PoolState, RiskDecision, evaluate
from parlay import ledger
from parlay.ledger import BetRejected, PlacedBet, StoredQuote
from service.db import ConnectionPool
from service.errors import ApiError, risk_error
from service.settings import ServiceSettings
from service.state import LoadedPricer, MarketSnapshot, Refreshing, RiskState, is_live, with_book_markets

log = logging.getLogger("parlay.service")

TICKER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,149}$")
OPEN_STATUSES = {None, "", "open", "active"}
CENT = Decimal("0.01")


# ----------------------------------------------------------------------------- request / response bodies


class LegIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticker: str = Field(min_length=1, max_length=150, description="Kalshi market ticker")
    side: Literal["yes", "no"] = Field(description="the side of the market that must win")


class QuoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    legs: list[LegIn] = Field(max_length=100, description="the parlay's legs (every one must win)")
    stake: Decimal = Field(description="dollars the bettor would stake, in whole cents",
                           allow_inf_nan=False)


class BetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quote_id: str = Field(min_length=1, max_length=100)
    stake: Decimal = Field(description="dollars to stake, at most the quoted stake", allow_inf_nan=False)
    idempotency_key: str = Field(description="a retried request with the same key returns the same bet")


class MemberOut(BaseModel):
    name: str
    probability: float
    weight: float


class QuoteOut(BaseModel):
    quote_id: str
    legs: list[LegIn]
    stake: Decimal
    probability: float = Field(description="model probability that every leg wins")
    uncertainty: float
    margin: float
    price: Decimal = Field(description="dollars per $1 of payout")
    payout: Decimal = Field(description="paid when every leg wins, for the quoted stake")
    max_stake: Decimal = Field(description="the largest stake the risk rules allow right now")
    expires_at: datetime
    model_version: str
    raw_probability: float = Field(description="the independence price (product of the legs' probabilities)")
    leg_probabilities: list[float]
    members: list[MemberOut]


class BetOut(BaseModel):
    bet_id: str
    quote_id: str
    legs: list[LegIn]
    stake: Decimal
    price: Decimal
    payout: Decimal
    state: str
    placed_at: datetime
    created: bool = Field(description="false when an earlier request with the same idempotency key placed it")


# ----------------------------------------------------------------------------- validation


def check_stake(stake: Decimal, settings: ServiceSettings, field: str = "stake") -> Decimal:
    try:
        ok = stake.is_finite() and stake > 0 and stake == stake.quantize(CENT)
    except InvalidOperation:
        ok = False
    if not ok:
        raise ApiError(422, "invalid_stake", f"{field} must be a positive dollar amount in whole cents, got {stake}")
    if stake > settings.max_request_stake:
        raise ApiError(422, "invalid_stake", f"{field} {stake} is above the request bound "
                                             f"{settings.max_request_stake} (the policy maximum is "
                                             f"{settings.risk.max_stake})")
    return stake.quantize(CENT)


def check_legs(legs: list[LegIn], settings: ServiceSettings) -> tuple[tuple[str, str], ...]:
    if len(legs) < settings.min_legs:
        raise ApiError(422, "too_few_legs", f"a parlay needs at least {settings.min_legs} legs, got {len(legs)}")
    if len(legs) > settings.max_legs:
        raise ApiError(422, "too_many_legs", f"at most {settings.max_legs} legs per parlay, got {len(legs)}")
    out: list[tuple[str, str]] = []
    sides: dict[str, str] = {}
    for leg in legs:
        ticker = leg.ticker.strip().upper()
        if not TICKER.match(ticker):
            raise ApiError(422, "invalid_ticker", f"{leg.ticker!r} is not a market ticker")
        if ticker in sides:
            if sides[ticker] == leg.side:
                raise ApiError(422, "duplicate_legs", f"{ticker} {leg.side} appears twice", {"ticker": ticker})
            raise ApiError(422, "conflicting_sides", f"both sides of {ticker}: they cannot both win",
                           {"ticker": ticker})
        sides[ticker] = leg.side
        out.append((ticker, leg.side))
    return tuple(out)


# ----------------------------------------------------------------------------- the engine


@dataclass(frozen=True)
class PricedQuote:
    legs: tuple[tuple[str, str], ...]
    stake: Decimal
    priced: EnsembleQuote
    decision: RiskDecision
    loaded: LoadedPricer


class QuoteEngine:
    def __init__(self, settings: ServiceSettings, pool: ConnectionPool, pricers: Refreshing[LoadedPricer],
                 risk_state: Refreshing[RiskState], snapshot: Refreshing[MarketSnapshot]) -> None:
        self.settings = settings
        self.pool = pool
        self.pricers = pricers
        self.risk_state = risk_state
        self.snapshot = snapshot

    # ------------------------------------------------------------------ quotes
    def price(self, request: QuoteRequest) -> PricedQuote:
        """Validate, price and size a parlay; raises :class:`ApiError` for every refusal."""
        s = self.settings
        stake = check_stake(request.stake, s)
        legs = check_legs(request.legs, s)
        loaded = self.pricers.get()
        markets = loaded.pricer.markets()
        for t, _ in legs:
            if t not in markets:
                raise ApiError(422, "unknown_market", f"{t} is not a quotable market (see GET /markets)",
                               {"ticker": t})
        live = is_live(s.live, loaded.trading_day)
        now = datetime.now(UTC)
        if live:
            age = loaded.age_s(now)
            if age is not None and age > s.max_model_age_s:
                raise ApiError(503, "stale_model", f"the pricing model {loaded.version} is {age:.0f} s old (limit "
                                                   f"{s.max_model_age_s:g} s): refit it (`parlay run --source live`) "
                                                   "or raise PARLAY_SERVICE_MAX_MODEL_AGE_S",
                               headers={"Retry-After": "60"})
        snap = self.snapshot.get()
        for t, _ in legs:
            state = snap.markets.get(t)
            status = state.status if state is not None and state.status is not None else markets[t].status
            if status not in OPEN_STATUSES:
                raise ApiError(409, "market_closed", f"{t} is {status}: it cannot be quoted", {"ticker": t})
            if live:
                close = state.close_time if state is not None else None
                if close is not None and close <= now:
                    raise ApiError(409, "market_closed", f"{t} closed at {close.isoformat()}", {"ticker": t})
                ts = state.book_ts if state is not None else None
                if ts is None or (now - ts).total_seconds() > s.max_market_data_age_s:
                    seen = f"last book at {ts.isoformat()}" if ts else "no book today"
                    raise ApiError(503, "stale_market_data",
                                   f"{t}: {seen}, older than {s.max_market_data_age_s:g} s; check the market-data "
                                   "ingest and retry", {"ticker": t}, headers={"Retry-After": "30"})
        try:
            priced = loaded.pricer.quote(legs)
        except UnknownMarket as exc:
            raise ApiError(422, "unknown_market", str(exc), {"ticker": exc.market}) from None
        except ModelNotConverged as exc:
            raise ApiError(503, exc.code, f"{exc}: no price without a converged model; retry after the next fit",
                           {"cluster_id": exc.cluster_id}, headers={"Retry-After": "60"}) from None
        except ValueError as exc:
            raise ApiError(422, "invalid_request", str(exc)) from None
        if priced.impossible:
            reason = priced.notes[0] if priced.notes else "impossible"
            raise risk_error("impossible_combo", f"these legs cannot all win together ({reason})")
        risk = self.risk_state.get()
        defs = with_book_markets(loaded.market_defs, risk.book)
        try:
            decision = evaluate(legs, stake, priced.probability, priced.uncertainty, risk.book, risk.pool, defs,
                                s.risk)
        except ValueError as exc:  # e.g. too many variables to decide feasibility
            raise ApiError(422, "invalid_request", str(exc)) from None
        if not decision.accepted:
            raise risk_error(decision.rule or "rejected", decision.reason, decision.max_stake)
        return PricedQuote(legs, stake, priced, decision, loaded)

    def quote(self, request: QuoteRequest, api_key_id: str | None) -> QuoteOut:
        """Price, store (one insert) and describe a quote."""
        p = self.price(request)
        d = p.decision
        q = StoredQuote(ledger.new_id("q"), p.legs, p.stake, d.probability, d.uncertainty, d.margin, d.price,
                        d.payout, d.max_stake, p.loaded.version,
                        datetime.now(UTC) + timedelta(seconds=self.settings.quote_ttl_s), api_key_id)
        with self.pool.connection() as conn:
            ledger.store_quote(conn, q)
        return QuoteOut(
            quote_id=q.quote_id, legs=_legs_out(q.legs), stake=q.stake,
            probability=q.probability, uncertainty=q.uncertainty, margin=q.margin, price=q.price, payout=q.payout,
            max_stake=q.max_stake, expires_at=q.expires_at, model_version=q.model_version,
            raw_probability=p.priced.raw_probability, leg_probabilities=list(p.priced.leg_probabilities),
            members=[MemberOut(name=m.name, probability=m.probability, weight=m.weight) for m in p.priced.members],
        )

    # ------------------------------------------------------------------ bets
    def place(self, request: BetRequest, api_key_id: str) -> BetOut:
        s = self.settings
        stake = check_stake(request.stake, s)
        key = request.idempotency_key
        if not 1 <= len(key) <= 200 or not key.isprintable():
            raise ApiError(422, "invalid_idempotency_key", "idempotency_key must have 1 to 200 printable characters")
        with self.pool.connection() as conn:
            earlier = _bet_by_key(conn, api_key_id, key)
            if earlier is not None:
                return self._replay(earlier, request, stake)
            quote = ledger.get_quote(conn, request.quote_id)
            if quote is None or quote.api_key_id != api_key_id:
                raise ApiError(404, "unknown_quote", f"no quote {request.quote_id!r} for this key")
            if quote.expires_at <= datetime.now(UTC):
                raise ApiError(410, "quote_expired", f"quote {quote.quote_id} expired at "
                                                     f"{quote.expires_at.isoformat()}: ask for a new quote")
            if stake > quote.stake:
                raise ApiError(422, "stake_exceeds_quote", f"stake {stake} is above the quoted stake {quote.stake}",
                               {"quoted_stake": str(quote.stake)})
            loaded = self.pricers.get()
            check = self._checker(conn, quote, stake, loaded)
            try:
                bet = ledger.place_bet(conn, quote, stake, key, api_key_id, check, loaded.trading_day)
            except BetRejected as exc:
                d = exc.decision
                if d.rule in ("quote_exhausted", "price_changed"):
                    raise ApiError(409, d.rule, d.reason) from None
                raise risk_error(d.rule or "rejected", d.reason, d.max_stake) from None
        if bet.created:
            self.risk_state.refresh_soon()
        else:  # a concurrent retry with the same key won the lock
            return self._replay(bet, request, stake)
        return _bet_out(bet)

    def _replay(self, earlier: PlacedBet, request: BetRequest, stake: Decimal) -> BetOut:
        if earlier.quote_id != request.quote_id or earlier.stake != stake:
            raise ApiError(409, "idempotency_key_reused", "this idempotency key was used for a different bet "
                                                          f"({earlier.bet_id})", {"bet_id": earlier.bet_id})
        return _bet_out(earlier, created=False)

    def _checker(self, conn: psycopg.Connection, quote: StoredQuote, stake: Decimal,
                 loaded: LoadedPricer) -> Callable[[Book, PoolState], RiskDecision]:
        cfg = self.settings.risk

        def check(book: Book, pool: PoolState) -> RiskDecision:
            # inside the placement lock, on the same transaction: the quote's stake is taken at most once
            row = conn.execute("SELECT coalesce(sum(stake), 0) FROM ledger.bets WHERE quote_id = %s",
                               (quote.quote_id,)).fetchone()
            taken = row[0] if row else Decimal(0)
            # markets of the book or the quote that the current model no longer knows still count
            defs = with_book_markets(loaded.market_defs, Book([*book.bets, BookBet(quote.legs, Decimal(0))]))
            d = evaluate(quote.legs, stake, quote.probability, quote.uncertainty, book, pool, defs, cfg)
            if d.accepted and taken + stake > quote.stake:
                return _refuse(d, "quote_exhausted", f"quote {quote.quote_id} has {quote.stake - taken} of its "
                                                     f"stake {quote.stake} left")
            if d.accepted and d.price != quote.price:
                return _refuse(d, "price_changed", f"the price is now {d.price}, the quote said {quote.price}: "
                                                   "ask for a new quote")
            return d

        return check

    # ------------------------------------------------------------------ reads
    def bet(self, bet_id: str, api_key_id: str) -> BetOut:
        with self.pool.connection() as conn:
            row = conn.execute(
                """SELECT b.bet_id, b.quote_id, b.stake, b.price, b.payout, b.state, b.placed_at, b.api_key_id,
                          array_agg(l.market_ticker ORDER BY l.leg_index), array_agg(l.side ORDER BY l.leg_index)
                   FROM ledger.bets b JOIN ledger.bet_legs l USING (bet_id) WHERE b.bet_id = %s
                   GROUP BY b.bet_id""", (bet_id,)).fetchone()
        if row is None or row[7] != api_key_id:
            raise ApiError(404, "unknown_bet", f"no bet {bet_id!r} for this key")
        bet = PlacedBet(row[0], row[1], row[2], row[3], row[4], row[5], row[6], False,
                        tuple(zip(row[8], row[9], strict=True)))
        return _bet_out(bet, created=False)

    def markets(self) -> list[dict[str, Any]]:
        loaded = self.pricers.get()
        snap = self.snapshot.get()
        out = []
        for t, m in sorted(loaded.pricer.markets().items()):
            st = snap.markets.get(t)
            out.append({
                "ticker": t, "cluster_id": m.cluster_id, "event_ticker": m.event_ticker, "title": m.title,
                "yes_sub_title": m.yes_sub_title, "no_sub_title": m.no_sub_title,
                "status": (st.status if st is not None and st.status is not None else m.status),
                "close_time": st.close_time.isoformat() if st is not None and st.close_time else m.close_time,
                "mid": st.mid if st is not None and st.mid is not None else m.mid,
                "book_ts": st.book_ts.isoformat() if st is not None and st.book_ts else None,
                "model_probability": m.probability,
            })
        return out


def filter_markets(markets: list[dict[str, Any]], search: str | None = None,
                   event_ticker: str | None = None) -> list[dict[str, Any]]:
    """The markets of ``event_ticker`` (any case) whose ticker, event ticker, title or side titles contain every
    word of ``search`` (any case)."""
    words = (search or "").casefold().split()
    event = (event_ticker or "").strip().casefold()
    fields = ("ticker", "event_ticker", "title", "yes_sub_title", "no_sub_title")
    out = []
    for m in markets:
        if event and str(m.get("event_ticker") or "").casefold() != event:
            continue
        text = " ".join(str(m.get(f) or "") for f in fields).casefold()
        if all(w in text for w in words):
            out.append(m)
    return out


def _legs_out(legs: tuple[tuple[str, str], ...]) -> list[LegIn]:
    return [LegIn.model_validate({"ticker": t, "side": s}) for t, s in legs]


def _refuse(d: RiskDecision, rule: str, reason: str) -> RiskDecision:
    return RiskDecision(False, rule, reason, d.probability, d.uncertainty, d.margin, d.price, d.payout, d.max_stake,
                        d.worst_case_payout, d.worst_case_exact)


def _bet_by_key(conn: psycopg.Connection, api_key_id: str, key: str) -> PlacedBet | None:
    row = conn.execute(
        """SELECT b.bet_id, b.quote_id, b.stake, b.price, b.payout, b.state, b.placed_at,
                  array_agg(l.market_ticker ORDER BY l.leg_index), array_agg(l.side ORDER BY l.leg_index)
           FROM ledger.bets b JOIN ledger.bet_legs l USING (bet_id)
           WHERE b.api_key_id = %s AND b.idempotency_key = %s GROUP BY b.bet_id""", (api_key_id, key)).fetchone()
    if row is None:
        return None
    return PlacedBet(row[0], row[1], row[2], row[3], row[4], row[5], row[6], False,
                     tuple(zip(row[7], row[8], strict=True)))


def _bet_out(bet: PlacedBet, created: bool | None = None) -> BetOut:
    return BetOut(bet_id=bet.bet_id, quote_id=bet.quote_id, legs=_legs_out(bet.legs),
                  stake=bet.stake, price=bet.price, payout=bet.payout, state=bet.state, placed_at=bet.placed_at,
                  created=bet.created if created is None else created)
