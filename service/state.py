"""What the quote path reads without touching Postgres: the loaded pricer, the risk state (open book and
pool), and the market snapshot (statuses, latest books). Each is refreshed in the background when
older than its period (stale-while-revalidate); only the very first load happens on a request.

The market snapshot is also written to Redis (when there is one) so several service processes share
one query per period.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

import psycopg

from models.pricing.ensemble import EnsemblePricer
from models.pricing.quotes import Pricer
from models.risk import Book, BookBet, MarketDef, PoolState
from parlay import ledger
from parlay.pricing_store import NoFittedModels, as_of_pricer, books_as_of
from parlay.redis_cache import JsonCache
from service.db import ConnectionPool, DatabaseUnavailable
from service.errors import ApiError

log = logging.getLogger("parlay.service")
NEW_YORK = ZoneInfo("America/New_York")
T = TypeVar("T")

PricerLoader = Callable[[psycopg.Connection], Pricer]


class Refreshing(Generic[T]):
    """A value loaded by ``load`` and reloaded in a background thread once older than ``period_s``.
    ``get`` blocks only when there is no value yet (then a failure raises, and is not retried for
    ``retry_s``)."""

    def __init__(self, name: str, load: Callable[[], T], period_s: float, retry_s: float = 2.0) -> None:
        self.name = name
        self._load = load
        self._period_s = period_s
        self._retry_s = retry_s
        self._value: T | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()
        self._refreshing = False
        self._retry_at = 0.0
        self.last_error: BaseException | None = None

    @property
    def value(self) -> T | None:
        return self._value

    def get(self) -> T:
        value = self._value
        if value is None:
            return self._first_load()
        if time.monotonic() - self._loaded_at >= self._period_s:
            self.refresh_soon()
        return value

    def _first_load(self) -> T:
        with self._lock:
            if self._value is not None:
                return self._value
            if self.last_error is not None and time.monotonic() < self._retry_at:
                raise self.last_error
            try:
                self._set(self._load())
            except BaseException as exc:
                self.last_error = exc
                self._retry_at = time.monotonic() + self._retry_s
                raise
            assert self._value is not None
            return self._value

    def _set(self, value: T) -> None:
        self._value = value
        self._loaded_at = time.monotonic()
        self.last_error = None

    def refresh_soon(self) -> None:
        """Reload in a background thread (at most one at a time)."""
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
            # push the next attempt back even if this one fails, so a broken source is not hammered
            self._loaded_at = time.monotonic()
        threading.Thread(target=self._background, name=f"refresh-{self.name}", daemon=True).start()

    def refresh_now(self) -> T:
        value = self._load()
        self._set(value)
        return value

    def _background(self) -> None:
        try:
            self._set(self._load())
        except Exception as exc:  # keep serving the previous value, and say why
            self.last_error = exc
            log.warning("refreshing %s failed, keeping the previous value: %s", self.name, exc)
        finally:
            with self._lock:
                self._refreshing = False


# ----------------------------------------------------------------------------- the pricer


@dataclass(frozen=True)
class LoadedPricer:
    pricer: Pricer
    version: str
    trading_day: date | None
    created_at: datetime | None  # when the ensemble snapshot was stored
    loaded_at: datetime
    market_defs: Mapping[str, MarketDef]

    def age_s(self, now: datetime | None = None) -> float | None:
        if self.created_at is None:
            return None
        return ((now or datetime.now(UTC)) - self.created_at).total_seconds()


def pricer_market_defs(pricer: Pricer) -> dict[str, MarketDef]:
    """The risk engine's view of the pricer's markets (a single own variable when the pricer has none)."""
    defs_fn = getattr(pricer, "market_defs", None)
    defs: dict[str, MarketDef] = dict(defs_fn()) if callable(defs_fn) else {}
    for ticker in pricer.markets():
        defs.setdefault(ticker, MarketDef(ticker, ((f"market/{ticker}", True),)))
    return defs


def with_book_markets(defs: Mapping[str, MarketDef], book: Book) -> Mapping[str, MarketDef]:
    """``defs`` plus a stand-in for every market of the book the current pricer no longer knows (a bet
    placed on an earlier model): its own variable, so its exposure still counts."""
    missing = {t for b in book.bets for t, _ in b.legs if t not in defs}
    if not missing:
        return defs
    out = dict(defs)
    for t in missing:
        out[t] = MarketDef(t, ((f"market/{t}", True),))
    return out


def replay_loader(loader: PricerLoader, when: datetime) -> PricerLoader:
    """A replay's pricer: the stored ensemble ``loader`` gives, as it stood at ``when`` (model snapshots and
    books stamped at or before ``when``; :func:`parlay.pricing_store.as_of_pricer`)."""

    def load(conn: psycopg.Connection) -> Pricer:
        base = loader(conn)
        if not isinstance(base, EnsemblePricer):
            return base  # a pricer without stored snapshots (tests, benchmarks) is used as it is
        row = conn.execute("SELECT trading_day FROM pricing.ensembles WHERE ensemble_version = %s",
                           (base.version,)).fetchone()
        if row is None:
            return base
        return as_of_pricer(conn, row[0], when, base)

    return load


def load_pricer_state(pool: ConnectionPool, loader: PricerLoader) -> LoadedPricer:
    with pool.connection() as conn:
        try:
            pricer = loader(conn)
        except NoFittedModels as exc:
            raise ApiError(503, "pricer_unavailable", f"{exc}") from None
        meta = None
        stored = getattr(pricer, "snapshot_of", None) or pricer.version  # a replay's view: its stored ensemble
        with contextlib.suppress(psycopg.errors.UndefinedTable):
            meta = conn.execute("SELECT trading_day, created_at FROM pricing.ensembles WHERE ensemble_version = %s",
                                (stored,)).fetchone()
    return LoadedPricer(pricer, pricer.version, meta[0] if meta else None, meta[1] if meta else None,
                        datetime.now(UTC), pricer_market_defs(pricer))


# ----------------------------------------------------------------------------- risk state


@dataclass(frozen=True)
class RiskState:
    book: Book
    pool: PoolState
    loaded_at: float = field(default_factory=time.monotonic)


def open_reservations(conn: psycopg.Connection, exclude_quote_id: str | None = None) -> list[BookBet]:
    """What unexpired quotes still hold (``risk.quote_reservations``): per quote, its payout less the payouts
    of the bets already placed on it, as book entries (stake 0). ``exclude_quote_id``: the quote being
    taken, whose bet is checked in its place."""
    rows = conn.execute(
        """SELECT r.legs, r.payout - coalesce((SELECT sum(b.payout) FROM ledger.bets b
                                               WHERE b.quote_id = r.quote_id), 0)
           FROM risk.quote_reservations r
           WHERE r.expires_at > now() AND r.quote_id IS DISTINCT FROM %s""", (exclude_quote_id,)).fetchall()
    return [BookBet(tuple((leg["ticker"], leg["side"]) for leg in legs), left) for legs, left in rows if left > 0]


def reserve_quote(conn: psycopg.Connection, quote_id: str, legs: tuple[tuple[str, str], ...], payout: Decimal,
                  expires_at: datetime) -> None:
    conn.execute("INSERT INTO risk.quote_reservations (quote_id, legs, payout, expires_at) VALUES (%s, %s, %s, %s)",
                 (quote_id, json.dumps([{"ticker": t, "side": s} for t, s in legs]), payout, expires_at))


def risk_book(conn: psycopg.Connection, exclude_quote_id: str | None = None) -> Book:
    """The book the risk rules size against: open bets plus what open quotes reserve."""
    book = ledger.open_book(conn)
    return Book([*book.bets, *open_reservations(conn, exclude_quote_id)])


def load_risk_state(pool: ConnectionPool) -> RiskState:
    with pool.connection() as conn, conn.transaction():
        # one snapshot: the book (bets and reservations) and the pool's cash agree with each other
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return RiskState(risk_book(conn), ledger.pool_state(conn))


# ----------------------------------------------------------------------------- market snapshot


@dataclass(frozen=True)
class MarketState:
    status: str | None = None
    close_time: datetime | None = None
    book_ts: datetime | None = None
    mid: float | None = None
    result: str | None = None  # "yes"/"no" once the market is settled (Kalshi's result, or the ledger's)


@dataclass(frozen=True)
class MarketSnapshot:
    markets: Mapping[str, MarketState]
    taken_at: datetime
    source: str  # "postgres" or "redis"

    def to_json(self) -> bytes:
        def iso(d: datetime | None) -> str | None:
            return d.isoformat() if d else None

        markets = {t: [m.status, iso(m.close_time), iso(m.book_ts), m.mid, m.result] for t, m in self.markets.items()}
        return json.dumps({"taken_at": self.taken_at.isoformat(), "markets": markets}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> MarketSnapshot:
        raw = json.loads(data)

        def dt(s: str | None) -> datetime | None:
            return datetime.fromisoformat(s) if s else None

        return cls({t: MarketState(v[0], dt(v[1]), dt(v[2]), v[3], v[4] if len(v) > 4 else None)
                    for t, v in raw["markets"].items()},
                   datetime.fromisoformat(raw["taken_at"]), "redis")


def query_snapshot(conn: psycopg.Connection, tickers: list[str], day: date | None) -> dict[str, MarketState]:
    """Current status/close time (``raw.markets``) and the latest reliable book (``raw.reliable_orderbook_tops``:
    rebuilt from an unbroken sequence and not crossed) of ``tickers``."""
    out: dict[str, dict[str, Any]] = {}
    try:
        for t, status, close_time, result in conn.execute(
                "SELECT ticker, status, close_time, result FROM raw.markets WHERE ticker = ANY(%s)", (tickers,)):
            out.setdefault(t, {}).update(status=status, close_time=close_time, result=result)
        if day is not None:
            rows = conn.execute(
                # the latest reliable state: the one definition every reader of book state uses
                """SELECT DISTINCT ON (market_ticker) market_ticker, ts, yes_bid, no_bid
                   FROM raw.reliable_orderbook_tops WHERE trading_day = %s AND market_ticker = ANY(%s)
                   ORDER BY market_ticker, ts DESC""",
                (day, tickers))
            for t, ts, yes_bid, no_bid in rows:
                mid = None
                if yes_bid is not None and no_bid is not None:
                    mid = float((yes_bid + (1 - no_bid)) / 2)
                out.setdefault(t, {}).update(book_ts=ts, mid=mid)
    except psycopg.errors.UndefinedTable:
        return {}
    return {t: MarketState(**v) for t, v in out.items()}


def load_snapshot(pool: ConnectionPool, pricers: Refreshing[LoadedPricer], cache: JsonCache | None) -> MarketSnapshot:
    loaded = pricers.get()
    day = loaded.trading_day
    name = f"snapshot:{loaded.version}"
    if cache is not None:
        hit = cache.get(name)
        if hit is not None:
            try:
                return MarketSnapshot.from_json(hit)
            except (ValueError, KeyError, TypeError, IndexError):
                pass
    with pool.connection() as conn:
        markets = query_snapshot(conn, sorted(loaded.pricer.markets()), day)
    snap = MarketSnapshot(markets, datetime.now(UTC), "postgres")
    if cache is not None:
        cache.set(name, snap.to_json())
    return snap


def placement_states(conn: psycopg.Connection, pricer: Pricer, tickers: list[str], day: date | None,
                     as_of: datetime | None) -> dict[str, MarketState]:
    """The legs' market state as a bet is placed, read now on ``conn`` (never from a cache): status, close
    time, latest book and result from ``raw.markets`` / ``raw.orderbook_tops`` (in a replay, the states as
    of the replay instant), and a settlement the ledger already booked (in a replay, only for markets closed
    by the replay instant: a result that came later is not known then)."""
    if as_of is not None:
        snap = as_of_snapshot(conn, pricer, day, as_of).markets
        states = {t: snap[t] for t in tickers if t in snap}
    else:
        states = query_snapshot(conn, tickers, day)
    settled = conn.execute("SELECT market_ticker, result FROM ledger.market_settlements WHERE market_ticker = ANY(%s)",
                           (tickers,)).fetchall()
    for t, result in settled:
        known = states.get(t)
        if as_of is not None and known is not None and known.status == "active":
            continue  # a replay as of an instant before the market closed: its later settlement is not yet known
        states[t] = replace(known or MarketState(), result=result)
    return states


def as_of_snapshot(conn: psycopg.Connection, pricer: Pricer, day: date | None, when: datetime) -> MarketSnapshot:
    """Market states as they were at ``when`` (a replay), from data stamped at or before ``when`` only: a
    market is open until its close time; its book is the latest reliable state at or before ``when`` (its
    own instant as ``book_ts``; no book yet: no mid)."""
    markets = pricer.markets()
    books = books_as_of(conn, day, sorted(markets), when) if day is not None else {}
    states = {}
    for t, m in markets.items():
        close = datetime.fromisoformat(m.close_time) if m.close_time else None
        if close is not None and close.tzinfo is None:
            close = close.replace(tzinfo=UTC)
        status = "active" if close is None or close > when else "closed"
        book_ts, mid = books.get(t, (None, None))
        states[t] = MarketState(status, close, book_ts, mid)
    return MarketSnapshot(states, when, "as-of")


def is_live(settings_live: bool | None, trading_day: date | None) -> bool:
    """Wall-clock staleness checks: as configured, else when the model's day is today or later (New York)."""
    if settings_live is not None:
        return settings_live
    if trading_day is None:
        return False
    return trading_day >= datetime.now(NEW_YORK).date()


__all__ = [
    "DatabaseUnavailable",
    "LoadedPricer",
    "MarketSnapshot",
    "MarketState",
    "PricerLoader",
    "Refreshing",
    "RiskState",
    "as_of_snapshot",
    "is_live",
    "load_pricer_state",
    "load_risk_state",
    "load_snapshot",
    "open_reservations",
    "placement_states",
    "pricer_market_defs",
    "query_snapshot",
    "replay_loader",
    "reserve_quote",
    "risk_book",
    "with_book_markets",
]
