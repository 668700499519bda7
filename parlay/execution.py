"""Execution venues: where hedge orders go. One interface, three venues.

* :class:`PaperVenue` (the default) fills orders in memory against a book it is given: a buy fills in
  full at ``min(ask + slippage, limit)`` when the ask is at or below the limit, otherwise the order is
  canceled with a reason (immediate-or-cancel: nothing rests between rebalances). Kalshi's taker fee
  is charged on every fill.
* :class:`KalshiVenue` sends orders to Kalshi (demo or prod) through :class:`~parlay.kalshi.client.KalshiClient`.
  Every order carries its deterministic ``client_order_id``; after an answer that may hide an accepted
  order (timeout, 5xx, 429 after the client's own retries, a dropped connection, a 409 duplicate) the
  venue looks the order up by ``client_order_id`` before anything is sent again, so a retry can never
  double an order.
* :func:`venue_from_env` picks one from ``PARLAY_EXECUTION_VENUE`` (paper | demo | prod; paper by
  default). Prod needs an explicit opt-in and hard limits.

Order states use the vocabulary of ``ledger.hedge_orders``: pending, submitted, resting, filled,
partially_filled, canceled, rejected (``unknown`` is never produced here: an order whose fate cannot
be established stays ``pending`` with a reason, and is looked up before any resubmission).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Protocol, runtime_checkable

import httpx

from models.hedging import NO, YES, Ask, HedgeOrder
from parlay.kalshi.client import BASE_URLS, KalshiClient
from parlay.kalshi.errors import (
    KalshiAuthError,
    KalshiBadResponse,
    KalshiConfigError,
    KalshiConflict,
    KalshiError,
    KalshiHTTPError,
    KalshiNotFound,
    KalshiRateLimited,
    KalshiRetriesExhausted,
    KalshiServerError,
    KalshiTransportError,
)
from parlay.kalshi.types import Fill as KalshiFill
from parlay.kalshi.types import Order as KalshiOrder

log = logging.getLogger(__name__)

ENV_VENUE = "PARLAY_EXECUTION_VENUE"
ENV_ALLOW_PROD = "PARLAY_ALLOW_PROD_TRADING"
ENV_PROD_MAX_ORDER_CONTRACTS = "PARLAY_PROD_MAX_ORDER_CONTRACTS"
ENV_PROD_MAX_NOTIONAL = "PARLAY_PROD_MAX_NOTIONAL"

VENUE_NAMES = ("paper", "demo", "prod")
KALSHI_TAKER_FEE_RATE = Decimal("0.07")  # taker fee = ceil to the cent of rate · C · P · (1 − P)
CENT = Decimal("0.01")
OUR_ORDER_PREFIX = "pmm-"  # models.hedging.client_order_id

PENDING, SUBMITTED, RESTING = "pending", "submitted", "resting"
FILLED, PARTIALLY_FILLED, CANCELED, REJECTED = "filled", "partially_filled", "canceled", "rejected"
ORDER_STATES = frozenset({PENDING, SUBMITTED, RESTING, FILLED, PARTIALLY_FILLED, CANCELED, REJECTED})
LIVE_STATES = frozenset({PENDING, SUBMITTED, RESTING, PARTIALLY_FILLED})  # may still trade


class ExecutionConfigError(RuntimeError):
    """The execution venue is misconfigured; the message says what to set (never a secret)."""


# Where orders can go without moving real money. Every other host counts as production.
DEMO_HOSTS = frozenset({httpx.URL(BASE_URLS["demo"]).host, "demo-api.kalshi.co"})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# The hosts Kalshi serves production order entry from (kept for the messages; the rule is the allow-list).
PRODUCTION_HOSTS = frozenset(
    {"external-api.kalshi.com", "api.elections.kalshi.com", "trading-api.kalshi.com", "api.kalshi.com"}
)
TARGET_DEMO, TARGET_LOCAL, TARGET_PRODUCTION = "demo", "local", "production"


def request_host(base_url: str) -> str | None:
    """The host requests to ``base_url`` actually go to, normalized the way DNS sees it (case, trailing
    dots and surrounding whitespace dropped; userinfo and port ignored), or None when there is none."""
    try:
        url = httpx.URL(base_url.strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    host = (url.host or "").strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or None


def execution_target(base_url: str) -> str:
    """``demo`` for a known demo host, ``local`` for an explicit local test URL (localhost, 127.0.0.1,
    ::1 over http or https), else ``production``: anything unknown can move real money."""
    host = request_host(base_url)
    if host is None:
        return TARGET_PRODUCTION
    try:
        scheme = httpx.URL(base_url.strip()).scheme.lower()
    except (httpx.InvalidURL, TypeError, ValueError):
        return TARGET_PRODUCTION
    if scheme not in ("http", "https"):
        return TARGET_PRODUCTION
    if host in DEMO_HOSTS:
        return TARGET_DEMO
    if host in LOCAL_HOSTS:
        return TARGET_LOCAL
    try:
        if ipaddress.ip_address(host).is_loopback:
            return TARGET_LOCAL
    except ValueError:
        pass
    return TARGET_PRODUCTION


@dataclass(frozen=True)
class VenueOrder:
    """An order as the venue knows it. ``state`` is one of :data:`ORDER_STATES`."""

    client_order_id: str
    exchange_order_id: str | None
    state: str
    filled_count: Decimal
    market_ticker: str = ""
    side: str = ""
    action: str = ""
    count: Decimal = Decimal(0)
    limit_price: Decimal | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.state not in ORDER_STATES:
            raise ValueError(f"unknown order state {self.state!r}")


@dataclass(frozen=True)
class VenueFill:
    fill_id: str
    client_order_id: str
    market_ticker: str
    side: str
    action: str
    count: Decimal
    price: Decimal  # dollars per contract of ``side``
    fee: Decimal
    filled_at: datetime


@runtime_checkable
class Venue(Protocol):
    name: str

    def submit(self, order: HedgeOrder) -> VenueOrder:
        """Place ``order``; submitting the same ``client_order_id`` again returns the existing order."""
        ...

    def order_status(self, client_order_id: str) -> VenueOrder | None:
        """The order carrying ``client_order_id``, or None when the venue has none."""
        ...

    def fills(self, since: datetime | None = None) -> list[VenueFill]:
        """Fills of our orders (at or after ``since`` when given)."""
        ...


def taker_fee(count: Decimal | int, price: Decimal, rate: Decimal = KALSHI_TAKER_FEE_RATE) -> Decimal:
    """Kalshi's taker fee for one order: ``ceil(rate · C · P · (1 − P))`` to the cent."""
    c, p = Decimal(count), Decimal(price)
    return (rate * c * p * (Decimal(1) - p)).quantize(CENT, rounding=ROUND_CEILING)


# ----------------------------------------------------------------------------- paper


BookSource = Mapping[str, Ask] | Callable[[str], Ask | None]


class PaperVenue:
    """Simulated fills against the current book (a mapping market → :class:`~models.hedging.Ask`, or a
    callable returning the market's ``Ask`` or None). Orders are kept in memory, one per
    ``client_order_id``; fill ids are derived from it, so the same order never fills twice."""

    name = "paper"

    def __init__(
        self,
        book_source: BookSource | None = None,
        slippage: Decimal = CENT,
        fee_rate: Decimal = KALSHI_TAKER_FEE_RATE,
        *,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        if slippage < 0:
            raise ValueError("slippage must be non-negative")
        if fee_rate < 0:
            raise ValueError("fee_rate must be non-negative")
        self._book = book_source if book_source is not None else {}
        self.slippage = Decimal(slippage)
        self.fee_rate = Decimal(fee_rate)
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._orders: dict[str, VenueOrder] = {}
        self._fills: list[VenueFill] = []

    def __repr__(self) -> str:
        return f"PaperVenue(slippage={self.slippage}, fee_rate={self.fee_rate}, orders={len(self._orders)})"

    def _ask(self, market: str) -> Ask | None:
        src = self._book
        if callable(src):
            return src(market)
        return src.get(market)

    def submit(self, order: HedgeOrder) -> VenueOrder:
        with self._lock:
            existing = self._orders.get(order.client_order_id)
            if existing is not None:
                return existing
            result = self._execute(order)
            self._orders[order.client_order_id] = result
            return result

    def _execute(self, order: HedgeOrder) -> VenueOrder:
        base = VenueOrder(
            order.client_order_id,
            f"paper-{order.client_order_id}",
            CANCELED,
            Decimal(0),
            order.market_ticker,
            order.side,
            order.action,
            Decimal(order.count),
            order.limit_price,
        )
        if order.side not in (YES, NO) or order.action not in ("buy", "sell") or order.count <= 0:
            return replace(base, state=REJECTED, reason="invalid order (side, action or count)")
        if not Decimal(0) < order.limit_price < Decimal(1):
            return replace(base, state=REJECTED, reason=f"limit price {order.limit_price} outside (0, 1)")
        book = self._ask(order.market_ticker)
        if book is None:
            return replace(base, reason=f"no book for {order.market_ticker}")
        if order.action == "buy":
            ask = book.yes if order.side == YES else book.no
            if ask is None:
                return replace(base, reason=f"no {order.side.upper()} ask")
            if ask > order.limit_price:
                return replace(base, reason=f"{order.side.upper()} ask {ask} above limit {order.limit_price}")
            price = min(ask + self.slippage, order.limit_price)
        else:  # selling ``side`` hits its bid = 1 − the other side's ask
            other = book.no if order.side == YES else book.yes
            if other is None:
                return replace(base, reason=f"no {order.side.upper()} bid")
            bid = Decimal(1) - other
            if bid < order.limit_price:
                return replace(base, reason=f"{order.side.upper()} bid {bid} below limit {order.limit_price}")
            price = max(bid - self.slippage, order.limit_price)
        count = Decimal(order.count)
        fill = VenueFill(
            fill_id=f"paper-fill-{hashlib.sha256(order.client_order_id.encode()).hexdigest()[:24]}",
            client_order_id=order.client_order_id,
            market_ticker=order.market_ticker,
            side=order.side,
            action=order.action,
            count=count,
            price=price,
            fee=taker_fee(count, price, self.fee_rate),
            filled_at=self._now(),
        )
        self._fills.append(fill)
        return replace(base, state=FILLED, filled_count=count, reason=None)

    def order_status(self, client_order_id: str) -> VenueOrder | None:
        with self._lock:
            return self._orders.get(client_order_id)

    def fills(self, since: datetime | None = None) -> list[VenueFill]:
        with self._lock:
            return [f for f in self._fills if since is None or f.filled_at >= since]


# ----------------------------------------------------------------------------- Kalshi


@dataclass(frozen=True)
class OrderLimits:
    """Hard caps enforced before an order leaves the process: contracts per order, and the notional
    (``count · limit price``) of all orders this venue instance has sent."""

    max_order_contracts: int
    max_notional: Decimal

    def __post_init__(self) -> None:
        if self.max_order_contracts < 1:
            raise ValueError("max_order_contracts must be at least 1")
        if self.max_notional <= 0:
            raise ValueError("max_notional must be positive")


# Failures after which the order may or may not exist on the exchange.
_AMBIGUOUS = (
    KalshiRetriesExhausted,
    KalshiServerError,
    KalshiRateLimited,
    KalshiTransportError,
    KalshiBadResponse,
    KalshiConflict,
)


def _state_of(rec: KalshiOrder) -> tuple[str, str | None]:
    filled = rec.fill_count or Decimal(0)
    status = (rec.status or "").lower()
    if status == "executed":
        return FILLED, None
    if status == "resting":
        return (PARTIALLY_FILLED, None) if filled > 0 else (RESTING, None)
    if status == "canceled":
        if filled > 0:
            return CANCELED, f"canceled after {filled} of {rec.initial_count} filled"
        return CANCELED, "canceled on the exchange"
    return SUBMITTED, f"exchange status {rec.status!r}"


def _venue_order(rec: KalshiOrder, coid: str) -> VenueOrder:
    state, reason = _state_of(rec)
    price = rec.yes_price if rec.side == YES else rec.no_price
    count = rec.initial_count
    if count is None:
        count = (rec.fill_count or Decimal(0)) + (rec.remaining_count or Decimal(0))
    return VenueOrder(
        coid, rec.order_id, state, rec.fill_count or Decimal(0), rec.ticker, rec.side, rec.action, count, price, reason
    )


class KalshiVenue:
    """Orders on Kalshi through ``client``. ``name`` is ``demo`` or ``prod`` (the ledger's venue)."""

    def __init__(
        self,
        client: KalshiClient,
        name: str = "demo",
        *,
        limits: OrderLimits | None = None,
        time_in_force: str | None = "immediate_or_cancel",
    ) -> None:
        if name not in ("demo", "prod"):
            raise ValueError(f"Kalshi venue name must be 'demo' or 'prod', got {name!r}")
        if name == "prod" and limits is None:
            raise ExecutionConfigError("the prod venue needs OrderLimits (max contracts per order, max notional)")
        if name == "demo" and execution_target(client.base_url) == TARGET_PRODUCTION:
            raise ExecutionConfigError(
                f"the demo venue's client sends orders to {request_host(client.base_url) or 'an unknown host'}, "
                "which is not a known demo host or a local test URL; use the prod venue with its limits"
            )
        self.name = name
        self.client = client
        self.limits = limits
        self.time_in_force = time_in_force
        self._lock = threading.Lock()
        self._tickers: dict[str, str] = {}  # client_order_id → market, a hint for look-ups
        self._exchange_ids: dict[str, str] = {}  # client_order_id → Kalshi order_id
        self._owners: dict[str, str | None] = {}  # Kalshi order_id → client_order_id (None: not ours)
        self._sent_notional = Decimal(0)

    def __repr__(self) -> str:  # the client's repr carries no secret, but keep this one minimal anyway
        return f"KalshiVenue(name={self.name!r}, base_url={self.client.base_url!r}, limits={self.limits!r})"

    def _remember(self, coid: str, rec: KalshiOrder) -> None:
        with self._lock:
            self._exchange_ids[coid] = rec.order_id
            self._owners[rec.order_id] = coid
            self._tickers.setdefault(coid, rec.ticker)

    def _find(self, coid: str) -> KalshiOrder | None:
        with self._lock:
            exchange_id = self._exchange_ids.get(coid)
            ticker = self._tickers.get(coid)
        if exchange_id is not None:
            try:
                rec = self.client.get_order(exchange_id)
            except KalshiNotFound:
                rec = None
            if rec is not None:
                return rec
        rec = self.client.find_order_by_client_id(coid, ticker=ticker)
        if rec is not None:
            self._remember(coid, rec)
        return rec

    def _check_limits(self, order: HedgeOrder) -> str | None:
        if self.limits is None:
            return None
        if order.count > self.limits.max_order_contracts:
            return (
                f"{order.count} contracts exceed the per-order limit {self.limits.max_order_contracts} "
                f"({ENV_PROD_MAX_ORDER_CONTRACTS})"
            )
        notional = Decimal(order.count) * order.limit_price
        if self._sent_notional + notional > self.limits.max_notional:
            return (
                f"notional {self._sent_notional + notional} would exceed the limit {self.limits.max_notional} "
                f"({ENV_PROD_MAX_NOTIONAL})"
            )
        return None

    def submit(self, order: HedgeOrder) -> VenueOrder:
        coid = order.client_order_id
        base = VenueOrder(
            coid,
            None,
            PENDING,
            Decimal(0),
            order.market_ticker,
            order.side,
            order.action,
            Decimal(order.count),
            order.limit_price,
        )
        with self._lock:
            known = coid in self._exchange_ids
            self._tickers.setdefault(coid, order.market_ticker)
        if known:  # already placed from this process: never send it again
            return self.order_status(coid) or replace(base, reason="placed earlier; look-up failed")
        problem = self._check_limits(order)
        if problem is not None:
            return replace(base, state=REJECTED, reason=f"not sent: {problem}")
        try:
            rec = self.client.create_order(
                order.market_ticker,
                order.side,
                order.action,
                order.count,
                order.limit_price,
                client_order_id=coid,
                time_in_force=self.time_in_force,
            )
        except _AMBIGUOUS as exc:
            # The order may have been taken: find it by client_order_id before anyone sends it again.
            log.warning("kalshi submit of %s ended ambiguously (%s); looking it up", coid, type(exc).__name__)
            try:
                found = self._find(coid)
            except KalshiError as lookup_exc:
                return replace(
                    base,
                    reason=f"submit failed ({_brief(exc)}); look-up failed too "
                    f"({_brief(lookup_exc)}): look up before resubmitting",
                )
            if found is not None:
                self._count_notional(order)
                return _venue_order(found, coid)
            return replace(
                base,
                reason=f"submit failed ({_brief(exc)}); not found on the exchange: "
                "safe to resubmit with the same client_order_id",
            )
        except (KalshiHTTPError, KalshiAuthError, KalshiConfigError, ValueError, TypeError) as exc:
            return replace(base, state=REJECTED, reason=f"rejected: {_brief(exc)}")
        self._remember(coid, rec)
        self._count_notional(order)
        return _venue_order(rec, coid)

    def _count_notional(self, order: HedgeOrder) -> None:
        with self._lock:
            self._sent_notional += Decimal(order.count) * order.limit_price

    def order_status(self, client_order_id: str) -> VenueOrder | None:
        rec = self._find(client_order_id)
        return _venue_order(rec, client_order_id) if rec is not None else None

    def _owner(self, order_id: str | None) -> str | None:
        """client_order_id of a Kalshi order if it is one of ours (ours: placed or looked up here, or
        carrying the hedging id prefix)."""
        if not order_id:
            return None
        with self._lock:
            if order_id in self._owners:
                return self._owners[order_id]
        try:
            rec = self.client.get_order(order_id)
            coid = rec.client_order_id if rec.client_order_id else None
        except KalshiNotFound:
            coid = None
        if coid is not None and not coid.startswith(OUR_ORDER_PREFIX):
            with self._lock:
                coid = coid if coid in self._tickers else None
        with self._lock:
            self._owners[order_id] = coid
        return coid

    def fills(self, since: datetime | None = None) -> list[VenueFill]:
        out: list[VenueFill] = []
        for rec in self.client.iter_fills(min_ts=since):
            assert isinstance(rec, KalshiFill)
            coid = self._owner(rec.order_id)
            if coid is None:
                continue
            price = rec.yes_price if rec.side == YES else rec.no_price
            out.append(
                VenueFill(
                    rec.fill_id,
                    coid,
                    rec.ticker,
                    rec.side,
                    rec.action,
                    rec.count,
                    price,
                    rec.fee if rec.fee is not None else Decimal(0),
                    rec.ts or datetime.now(UTC),
                )
            )
        return out


def _brief(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:240]


# ----------------------------------------------------------------------------- configuration


def _positive_int(env: Mapping[str, str], name: str) -> int | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ExecutionConfigError(f"{name} must be a whole number of contracts, got {raw!r}") from None
    if value < 1:
        raise ExecutionConfigError(f"{name} must be at least 1, got {value}")
    return value


def _positive_decimal(env: Mapping[str, str], name: str) -> Decimal | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except ArithmeticError:
        raise ExecutionConfigError(f"{name} must be a dollar amount, got {raw!r}") from None
    if not value.is_finite() or value <= 0:
        raise ExecutionConfigError(f"{name} must be a positive dollar amount, got {raw!r}")
    return value


def venue_from_env(
    book_source: BookSource | None = None,
    environ: Mapping[str, str] | None = None,
    **client_kwargs: object,
) -> Venue:
    """The venue named by ``PARLAY_EXECUTION_VENUE`` (paper | demo | prod; default paper).

    * paper: a :class:`PaperVenue` over ``book_source``;
    * demo: a :class:`KalshiVenue` on Kalshi's demo host; ``PARLAY_KALSHI_BASE_URL`` may point it at
      another known demo host or at a local test server (localhost, 127.0.0.1, ::1). Any other host,
      however it is spelled (case, port, trailing dot, whitespace), counts as production and is refused
      here; limits apply when configured;
    * prod: needs ``PARLAY_ALLOW_PROD_TRADING=1`` and both ``PARLAY_PROD_MAX_ORDER_CONTRACTS`` and
      ``PARLAY_PROD_MAX_NOTIONAL``, and Kalshi credentials.

    ``client_kwargs`` go to :meth:`KalshiClient.from_env` (tests: timeout, retry policy, …).
    """
    env = os.environ if environ is None else environ
    name = (env.get(ENV_VENUE) or "paper").strip().lower()
    if name not in VENUE_NAMES:
        raise ExecutionConfigError(f"{ENV_VENUE} must be one of {', '.join(VENUE_NAMES)}; got {name!r}")
    if name == "paper":
        return PaperVenue(book_source)
    max_contracts = _positive_int(env, ENV_PROD_MAX_ORDER_CONTRACTS)
    max_notional = _positive_decimal(env, ENV_PROD_MAX_NOTIONAL)
    limits = OrderLimits(max_contracts, max_notional) if max_contracts and max_notional else None
    if name == "prod":
        missing = []
        if (env.get(ENV_ALLOW_PROD) or "").strip() != "1":
            missing.append(f"{ENV_ALLOW_PROD}=1")
        if max_contracts is None:
            missing.append(f"{ENV_PROD_MAX_ORDER_CONTRACTS}=<contracts per order>")
        if max_notional is None:
            missing.append(f"{ENV_PROD_MAX_NOTIONAL}=<dollars>")
        if missing:
            raise ExecutionConfigError(f"{ENV_VENUE}=prod trades real money; to enable it set {', '.join(missing)}")
    kwargs = dict(client_kwargs)
    kwargs["env"] = name
    if name == "prod":
        kwargs["allow_prod_trading"] = True
    try:
        client = KalshiClient.from_env(env, **kwargs)
    except KalshiConfigError as exc:
        raise ExecutionConfigError(f"Kalshi client for the {name} venue: {exc}") from None
    if name == "demo" and execution_target(client.base_url) == TARGET_PRODUCTION:
        host = request_host(client.base_url) or "an unparseable URL"
        client.close()
        raise ExecutionConfigError(
            f"{ENV_VENUE}=demo but PARLAY_KALSHI_BASE_URL points at {host}, which is not a known demo host or a "
            f"local test URL and so counts as the production host; use {ENV_VENUE}=prod (with "
            f"{ENV_ALLOW_PROD}=1 and both limits) or unset PARLAY_KALSHI_BASE_URL"
        )
    if not client.has_credentials:
        client.close()
        raise ExecutionConfigError(
            f"the {name} venue places orders and needs Kalshi credentials: set KALSHI_API_KEY_ID and "
            "KALSHI_PRIVATE_KEY_PATH (or KALSHI_PRIVATE_KEY_PEM)"
        )
    return KalshiVenue(client, name, limits=limits)


__all__ = [
    "CANCELED",
    "FILLED",
    "LIVE_STATES",
    "ORDER_STATES",
    "PARTIALLY_FILLED",
    "PENDING",
    "REJECTED",
    "RESTING",
    "SUBMITTED",
    "ExecutionConfigError",
    "KalshiVenue",
    "OrderLimits",
    "PaperVenue",
    "Venue",
    "VenueFill",
    "VenueOrder",
    "taker_fee",
    "venue_from_env",
]
