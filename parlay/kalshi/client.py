"""Synchronous Kalshi Trade API v2 client (httpx).

What it does for every call:

* rate limiting on the client side (separate read / write buckets, :mod:`parlay.kalshi.ratelimit`);
* RSA-PSS signing of ``/portfolio`` calls (:mod:`parlay.kalshi.signing`); calling one without a
  signer raises :class:`~parlay.kalshi.errors.KalshiAuthError` before anything is sent;
* bounded retries with exponential backoff and full jitter on 429, 5xx/408, timeouts and connection
  errors. A non-idempotent call (POST) is only retried when the server cannot have acted (429, or a
  connection that was never made); order creation is the exception, made safe by ``client_order_id``
  (see :meth:`KalshiClient.create_order`);
* JSON parsed with ``parse_float=Decimal`` so no price ever passes through a binary float;
* typed errors (:mod:`parlay.kalshi.errors`) that never contain secrets.

Lists are followed through Kalshi's ``cursor`` until it comes back empty; a cursor seen twice raises
:class:`~parlay.kalshi.errors.KalshiPaginationError`.

Return values are the normalized records of :mod:`models.records` (market data) and
:mod:`parlay.kalshi.types` (portfolio); raw dicts where no record type exists (multivariate
collections). Iterators and list getters take ``rejects``: with ``rejects=False`` (default) an item
that fails normalization raises :class:`~parlay.kalshi.errors.KalshiBadResponse`; with
``rejects=True`` it is yielded as :class:`~models.records.Rejected` (``source`` = the client's
``source`` name, ``locator`` = the endpoint path, ``position`` = the item's index in the iteration,
``reason`` from :class:`~parlay.kalshi.normalize.PayloadError`) and the iteration goes on. A page
that is not JSON ends the iteration with one ``Rejected`` (reason ``malformed_json``) in that mode.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar

import httpx

from models.records import (
    COUNT_PLACES,
    PRICE_PLACES,
    BookSnapshot,
    Candle,
    ComboMarket,
    EventRecord,
    MarketRecord,
    Rejected,
    SeriesRecord,
    Settlement,
    Trade,
)
from parlay.kalshi import normalize as nz
from parlay.kalshi.errors import (
    KalshiAuthError,
    KalshiBadResponse,
    KalshiConfigError,
    KalshiConflict,
    KalshiError,
    KalshiHTTPError,
    KalshiNotFound,
    KalshiPaginationError,
    KalshiRateLimited,
    KalshiRetriesExhausted,
    KalshiServerError,
    KalshiTransportError,
    KalshiUnauthorized,
)
from parlay.kalshi.normalize import PayloadError
from parlay.kalshi.ratelimit import BASIC, RateLimiter, RateTier, request_kind
from parlay.kalshi.ratelimit import tier as tier_by_name
from parlay.kalshi.signing import KalshiSigner, signer_from_env
from parlay.kalshi.types import Balance, Fill, HistoricalCutoff, Order, Position

log = logging.getLogger(__name__)

BASE_URLS: dict[str, str] = {
    "demo": "https://external-api.demo.kalshi.co/trade-api/v2",
    "prod": "https://external-api.kalshi.com/trade-api/v2",
}
DEFAULT_ENV = "demo"

ENV_KALSHI_ENV = "PARLAY_KALSHI_ENV"
ENV_RATE_TIER = "KALSHI_RATE_TIER"

CANDLE_PERIODS = frozenset({1, 60, 1440})
MAX_MARKETS_PAGE = 1000
MAX_EVENTS_PAGE = 200
MAX_TRADES_PAGE = 1000
MAX_PORTFOLIO_PAGE = 200

# Kalshi: up to 64 characters of letters, digits and - _ : + = /
_CLIENT_ORDER_ID = re.compile(r"^[-\w:+=/]{1,64}$", re.ASCII)
_TIME_IN_FORCE = frozenset({"fill_or_kill", "good_till_canceled", "immediate_or_cancel"})
_DUPLICATE_LOOKBACK_S = 600

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``max_attempts`` tries; before try ``n`` (n ≥ 1) sleep a uniform random time in
    ``[0, min(max_delay, base_delay · 2^(n-1))]`` (exponential backoff, full jitter)."""

    max_attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must be non-negative")

    def ceiling(self, retry_number: int) -> float:
        """Upper bound of the sleep before retry ``retry_number`` (1 = the first retry)."""
        return min(self.max_delay, self.base_delay * (2 ** max(0, retry_number - 1)))

    def delay(self, retry_number: int, rng: random.Random) -> float:
        return rng.uniform(0.0, self.ceiling(retry_number))


def _unix(ts: int | float | datetime) -> int:
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            raise ValueError("naive datetime: give a timezone-aware time")
        return int(ts.timestamp())
    return int(ts)


def _dump(item: Any) -> str:
    try:
        return json.dumps(item, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(item)


def _item_ticker(item: Any) -> str | None:
    if isinstance(item, Mapping):
        for key in ("ticker", "market_ticker", "event_ticker"):
            v = item.get(key)
            if isinstance(v, str) and v:
                return v
    return None


def _error_fields(body: bytes) -> tuple[str | None, str | None]:
    """``(code, message)`` from Kalshi's error body: ``{"error": {"code", "message", "details"}}``
    or the same keys at the top level."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace").strip()
        return None, text or None
    if not isinstance(data, Mapping):
        return None, None
    err = data.get("error")
    if isinstance(err, str):
        return None, err
    src: Mapping[str, Any] = err if isinstance(err, Mapping) else data
    code = src.get("code")
    message = src.get("message")
    details = src.get("details")
    text = " — ".join(str(x) for x in (message, details) if x)
    return (str(code) if code else None), (text or None)


def _is_duplicate_order(exc: KalshiHTTPError) -> bool:
    """Kalshi answers a reused ``client_order_id`` with HTTP 409; we also accept a 400 whose code
    or message says the order already exists / is a duplicate."""
    if exc.status == 409:
        return True
    text = f"{exc.code or ''} {exc.server_message or ''}".lower()
    return exc.status == 400 and ("duplicate" in text or "already_exists" in text or "already exists" in text)


class KalshiClient:
    """Kalshi REST client. Not tied to a thread; httpx's pool is shared by all calls.

    ``env`` picks the host (``demo`` default, ``prod``); ``base_url`` overrides it (tests, proxies).
    Order entry on ``prod`` needs ``allow_prod_trading=True``.
    ``rate_tier`` builds a :class:`RateLimiter` unless ``rate_limiter`` is given; pass
    ``rate_tier=None`` for no client-side limiting. ``sleep``, ``rng``, ``now`` and ``clock`` are
    injectable for tests.
    """

    def __init__(
        self,
        env: str = DEFAULT_ENV,
        *,
        base_url: str | None = None,
        signer: KalshiSigner | None = None,
        rate_limiter: RateLimiter | None = None,
        rate_tier: RateTier | None = BASIC,
        timeout: float | httpx.Timeout = 10.0,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        now: Callable[[], datetime] | None = None,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
        allow_prod_trading: bool = False,
        source: str = "live",
    ) -> None:
        if env not in BASE_URLS:
            known = sorted(BASE_URLS)
            raise KalshiConfigError(f"unknown Kalshi environment {env!r}; expected one of {known}")
        self.env = env
        self.base_url = (base_url or BASE_URLS[env]).rstrip("/")
        self.source = source
        self._signer = signer
        self._limiter = rate_limiter if rate_limiter is not None else (
            RateLimiter(rate_tier) if rate_tier is not None else None
        )
        self._retry = retry
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._now = now or (lambda: datetime.now(UTC))
        self._clock = clock
        self._trading_allowed = env != "prod" or allow_prod_trading
        self._http = httpx.Client(
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )

    # ------------------------------------------------------------------ construction / lifecycle

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> KalshiClient:
        """Client configured from ``PARLAY_KALSHI_ENV`` (demo|prod), ``PARLAY_KALSHI_BASE_URL`` (optional
        override of the host, e.g. a proxy), ``KALSHI_API_KEY_ID`` with
        ``KALSHI_PRIVATE_KEY_PEM`` or ``KALSHI_PRIVATE_KEY_PATH`` (optional: unsigned without them)
        and ``KALSHI_RATE_TIER`` (basic|advanced|premier|prime, default basic). Keyword arguments
        override."""
        env = os.environ if environ is None else environ
        kwargs.setdefault("env", (env.get(ENV_KALSHI_ENV) or DEFAULT_ENV).strip().lower())
        if "base_url" not in kwargs and env.get("PARLAY_KALSHI_BASE_URL"):
            kwargs["base_url"] = env["PARLAY_KALSHI_BASE_URL"]  # a proxy, a recorder, or a test server
        if "signer" not in kwargs:
            kwargs["signer"] = signer_from_env(env)
        if "rate_tier" not in kwargs and "rate_limiter" not in kwargs:
            name = (env.get(ENV_RATE_TIER) or "").strip()
            if name:
                try:
                    kwargs["rate_tier"] = tier_by_name(name)
                except ValueError as exc:
                    raise KalshiConfigError(str(exc)) from None
        return cls(**kwargs)

    @property
    def has_credentials(self) -> bool:
        return self._signer is not None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KalshiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"KalshiClient(env={self.env!r}, base_url={self.base_url!r}, "
            f"signed={self._signer is not None}, limiter={self._limiter!r})"
        )

    # ------------------------------------------------------------------ transport

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
        signed: bool = False,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """One API call with rate limiting, signing and retries; returns the decoded JSON object.

        ``path`` is relative to the API root (``/markets``). ``idempotent`` defaults to True for
        GET and DELETE: only idempotent calls are retried after an answer that may hide a
        completed action (5xx, timeout, dropped connection).
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "DELETE", "HEAD")
        return self._with_retries(
            method, path, lambda: self._send_once(method, path, params, json_body, signed), idempotent
        )

    def _with_retries(
        self,
        method: str,
        path: str,
        attempt_fn: Callable[[], T],
        idempotent: bool,
        before_retry: Callable[[KalshiError], T | None] | None = None,
    ) -> T:
        endpoint = f"{method} {path}"
        last: KalshiError | None = None
        for attempt in range(self._retry.max_attempts):
            if attempt:
                assert last is not None
                delay = self._retry.delay(attempt, self._rng)
                log.warning(
                    "kalshi %s failed (%s); retry %d/%d in %.3fs",
                    endpoint, _short(last), attempt, self._retry.max_attempts - 1, delay,
                )
                self._sleep(delay)
                if before_retry is not None:
                    found = before_retry(last)
                    if found is not None:
                        return found
            try:
                return attempt_fn()
            except KalshiRateLimited as exc:
                last = exc
                if self._limiter is not None:
                    self._limiter.throttled(request_kind(method, path))
            except KalshiServerError as exc:
                if not idempotent:
                    raise
                last = exc
            except KalshiTransportError as exc:
                if not idempotent and exc.request_was_sent:
                    raise
                last = exc
        assert last is not None
        raise KalshiRetriesExhausted(endpoint, self._retry.max_attempts, last)

    def _send_once(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Mapping[str, Any] | None,
        signed: bool,
    ) -> dict[str, Any]:
        endpoint = f"{method} {path}"
        if signed and self._signer is None:
            raise KalshiAuthError(
                f"{endpoint} needs Kalshi credentials (KALSHI_API_KEY_ID and a private key)"
            )
        url = self.base_url + path
        headers: dict[str, str] = {}
        clean_params = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        content: bytes | None = None
        if json_body is not None:
            content = json.dumps(json_body, default=str).encode()
            headers["Content-Type"] = "application/json"
        if self._limiter is not None:
            waited = self._limiter.acquire(request_kind(method, path))
            if waited > 0:
                log.debug("kalshi %s waited %.3fs for rate budget", endpoint, waited)
        if signed:  # after the rate wait, so the timestamp is fresh
            assert self._signer is not None
            headers.update(self._signer.headers(method, httpx.URL(url).path))
        try:
            response = self._http.request(method, url, params=clean_params, content=content, headers=headers)
        except httpx.ConnectTimeout as exc:
            raise KalshiTransportError(endpoint, "connect", f"{type(exc).__name__}: {exc}") from None
        except httpx.TimeoutException as exc:
            raise KalshiTransportError(endpoint, "timeout", f"{type(exc).__name__}: {exc}") from None
        except httpx.ConnectError as exc:
            raise KalshiTransportError(endpoint, "connect", f"{type(exc).__name__}: {exc}") from None
        except httpx.TransportError as exc:
            raise KalshiTransportError(endpoint, "network", f"{type(exc).__name__}: {exc}") from None
        body = response.content
        status = response.status_code
        log.debug("kalshi %s -> %d (%d bytes)", endpoint, status, len(body))
        if status >= 400:
            code, message = _error_fields(body)
            cls: type[KalshiHTTPError]
            if status == 429:
                cls = KalshiRateLimited
            elif status >= 500 or status == 408:
                cls = KalshiServerError
            elif status in (401, 403):
                cls = KalshiUnauthorized
            elif status == 404:
                cls = KalshiNotFound
            elif status == 409:
                cls = KalshiConflict
            else:
                cls = KalshiHTTPError
            raise cls(endpoint, status, code, message)
        text = body.decode("utf-8", "replace")
        if status < 200 or status >= 300:
            raise KalshiBadResponse(endpoint, "unexpected_status", f"HTTP {status}", text)
        if not body.strip():
            return {}
        try:
            data = json.loads(body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            detail = f"response is not JSON ({exc})"
            raise KalshiBadResponse(endpoint, "malformed_json", detail, text) from None
        if not isinstance(data, dict):
            got = type(data).__name__
            raise KalshiBadResponse(endpoint, "unexpected_shape", f"expected a JSON object, got {got}", text)
        return data

    # ------------------------------------------------------------------ pagination

    def paginate(
        self,
        path: str,
        items_key: str,
        params: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        signed: bool = False,
        max_pages: int = 100_000,
    ) -> Iterator[Any]:
        """Raw items of a cursor-paginated list, page after page until the cursor comes back empty."""
        base = dict(params or {})
        if limit is not None:
            base["limit"] = limit
        seen: set[str] = set()
        cursor = ""
        for _ in range(max_pages):
            page_params = dict(base)
            if cursor:
                page_params["cursor"] = cursor
            body = self.request("GET", path, params=page_params, signed=signed)
            items = body.get(items_key)
            if items is None:
                items = []
            if not isinstance(items, list):
                raise KalshiBadResponse(
                    f"GET {path}", "unexpected_shape", f"{items_key!r} is {type(items).__name__}, not a list",
                    _dump(body),
                )
            yield from items
            nxt = body.get("cursor") or ""
            if not isinstance(nxt, str):
                raise KalshiBadResponse(
                    f"GET {path}", "unexpected_shape", "cursor is not a string", _dump(body)
                )
            if not nxt:
                return
            if nxt in seen or nxt == cursor:
                raise KalshiPaginationError(
                    f"GET {path}", "repeated_cursor", f"cursor {nxt[:40]!r} was already followed", ""
                )
            seen.add(nxt)
            cursor = nxt
        raise KalshiPaginationError(f"GET {path}", "too_many_pages", f"more than {max_pages} pages", "")

    def _rejected(self, path: str, position: int, reason: str, detail: str, item: Any) -> Rejected:
        payload = item if isinstance(item, str) else _dump(item)
        return Rejected(self.source, path, position, reason, detail, payload, _item_ticker(item))

    def _safe_items(self, path: str, items: Iterable[Any], rejects: bool) -> Iterator[Any]:
        """Raw items; with ``rejects`` a page that cannot be read ends the stream with one
        :class:`Rejected` instead of raising (a repeated cursor always raises)."""
        iterator = iter(items)
        position = 0
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return
            except KalshiBadResponse as exc:
                if not rejects or isinstance(exc, KalshiPaginationError):
                    raise
                log.error("kalshi %s: page rejected (%s); iteration stops", path, exc.reason)
                yield self._rejected(path, position, exc.reason, exc.detail, exc.payload)
                return
            yield item
            position += 1

    def _convert(
        self,
        path: str,
        position: int,
        item: Any,
        convert: Callable[[Mapping[str, Any]], Iterable[T]],
        rejects: bool,
    ) -> list[T | Rejected]:
        """``convert`` one raw item; a :class:`PayloadError` becomes a :class:`Rejected`
        (``rejects=True``) or a :class:`KalshiBadResponse`."""
        try:
            if not isinstance(item, Mapping):
                raise PayloadError("bad_item", f"item is {type(item).__name__}, expected an object")
            return list(convert(item))
        except PayloadError as exc:
            if not rejects:
                raise KalshiBadResponse(
                    f"GET {path}", exc.reason, f"item {position}: {exc.detail}", _dump(item)
                ) from exc
            return [self._rejected(path, position, exc.reason, exc.detail, item)]

    def _normalize_items(
        self,
        path: str,
        items: Iterable[Any],
        convert: Callable[[Mapping[str, Any]], Iterable[T]],
        rejects: bool,
    ) -> Iterator[T | Rejected]:
        """Apply ``convert`` (one raw item → zero or more records) to each item."""
        for position, item in enumerate(self._safe_items(path, items, rejects)):
            if isinstance(item, Rejected):
                yield item
                return
            yield from self._convert(path, position, item, convert, rejects)

    def _one(
        self, path: str, item: Any, convert: Callable[[Mapping[str, Any]], T], rejects: bool
    ) -> T | Rejected:
        out = list(self._normalize_items(path, [item], lambda m: [convert(m)], rejects))
        return out[0]

    # ------------------------------------------------------------------ market data

    def get_series(self, series_ticker: str) -> SeriesRecord:
        path = f"/series/{series_ticker}"
        body = self.request("GET", path)
        rec = self._one(path, body.get("series"), lambda m: nz.series(m, self.source), rejects=False)
        assert isinstance(rec, SeriesRecord)
        return rec

    def iter_events(
        self,
        *,
        series_ticker: str | None = None,
        status: str | None = None,
        with_nested_markets: bool = False,
        min_close_ts: int | datetime | None = None,
        rejects: bool = False,
    ) -> Iterator[EventRecord | MarketRecord | Rejected]:
        """Events (``GET /events``). With ``with_nested_markets`` each event is followed by its
        markets, so the stream reads: event, its markets, next event, …"""
        params: dict[str, Any] = {
            "series_ticker": series_ticker,
            "status": status,
            "with_nested_markets": "true" if with_nested_markets else None,
            "min_close_ts": _unix(min_close_ts) if min_close_ts is not None else None,
        }
        items = self.paginate("/events", "events", params, limit=MAX_EVENTS_PAGE)
        return self._events_and_markets("/events", items, with_nested_markets, rejects)

    def _events_and_markets(
        self, path: str, items: Iterable[Any], with_markets: bool, rejects: bool
    ) -> Iterator[EventRecord | MarketRecord | Rejected]:
        position = 0
        for raw in self._safe_items(path, items, rejects):
            if isinstance(raw, Rejected):
                yield raw
                return
            bare = {k: v for k, v in raw.items() if k != "markets"} if isinstance(raw, Mapping) else raw
            out = self._convert(path, position, bare, lambda m: [nz.event(m, self.source)], rejects)
            position += 1
            yield from out
            if not with_markets or not isinstance(raw, Mapping):
                continue
            ev = out[0] if out and isinstance(out[0], EventRecord) else None
            for m in raw.get("markets") or []:
                if ev is None:
                    detail = f"its event {_item_ticker(raw)!r} was rejected"
                    yield self._rejected(path, position, "parent_event_rejected", detail, m)
                else:
                    yield from self._convert(path, position, m, self._market_of(ev.series_ticker), rejects)
                position += 1

    def _market_of(self, series_ticker: str | None) -> Callable[[Mapping[str, Any]], list[MarketRecord]]:
        def convert(msg: Mapping[str, Any]) -> list[MarketRecord]:
            return [nz.market(msg, self.source, series_ticker)]

        return convert

    def get_event(
        self, event_ticker: str, *, with_nested_markets: bool = False
    ) -> tuple[EventRecord, tuple[MarketRecord, ...]]:
        """One event and its markets (``GET /events/{event_ticker}``)."""
        path = f"/events/{event_ticker}"
        body = self.request(
            "GET", path, params={"with_nested_markets": "true" if with_nested_markets else None}
        )
        raw_event = body.get("event")
        if not isinstance(raw_event, Mapping):
            raise KalshiBadResponse(f"GET {path}", "unexpected_shape", "no 'event' object", _dump(body))
        raw_markets = body.get("markets")
        if not raw_markets:
            raw_markets = raw_event.get("markets") or []
        ev = self._one(path, raw_event, lambda m: nz.event(m, self.source), rejects=False)
        assert isinstance(ev, EventRecord)
        markets = []
        for rec in self._normalize_items(
            path, raw_markets, lambda m: [nz.market(m, self.source, ev.series_ticker)], rejects=False
        ):
            assert isinstance(rec, MarketRecord)
            markets.append(rec)
        return ev, tuple(markets)

    def iter_markets(
        self,
        *,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        tickers: Sequence[str] | None = None,
        status: str | None = None,
        min_close_ts: int | datetime | None = None,
        max_close_ts: int | datetime | None = None,
        limit: int = MAX_MARKETS_PAGE,
        rejects: bool = False,
    ) -> Iterator[MarketRecord | Rejected]:
        """Markets (``GET /markets``); ``limit`` is the page size (at most 1000)."""
        if not 1 <= limit <= MAX_MARKETS_PAGE:
            raise ValueError(f"limit must be in 1..{MAX_MARKETS_PAGE}")
        params = self._market_params(event_ticker, series_ticker, tickers, status, min_close_ts, max_close_ts)
        items = self.paginate("/markets", "markets", params, limit=limit)
        return self._normalize_items("/markets", items, lambda m: [nz.market(m, self.source)], rejects)

    @staticmethod
    def _market_params(
        event_ticker: str | None,
        series_ticker: str | None,
        tickers: Sequence[str] | None,
        status: str | None,
        min_close_ts: int | datetime | None,
        max_close_ts: int | datetime | None,
    ) -> dict[str, Any]:
        return {
            "event_ticker": event_ticker,
            "series_ticker": series_ticker,
            "tickers": ",".join(tickers) if tickers else None,
            "status": status,
            "min_close_ts": _unix(min_close_ts) if min_close_ts is not None else None,
            "max_close_ts": _unix(max_close_ts) if max_close_ts is not None else None,
        }

    def get_market(self, ticker: str) -> MarketRecord:
        path = f"/markets/{ticker}"
        body = self.request("GET", path)
        rec = self._one(path, body.get("market"), lambda m: nz.market(m, self.source), rejects=False)
        assert isinstance(rec, MarketRecord)
        return rec

    def iter_settlements(
        self,
        *,
        event_ticker: str | None = None,
        series_ticker: str | None = None,
        tickers: Sequence[str] | None = None,
        rejects: bool = False,
    ) -> Iterator[Settlement | Rejected]:
        """Settlements of determined markets (result ``yes``/``no``) among the selected ones;
        ``settled_ts`` is the market's ``settlement_ts``, else its ``close_time``."""
        params = self._market_params(event_ticker, series_ticker, tickers, None, None, None)
        items = self.paginate("/markets", "markets", params, limit=MAX_MARKETS_PAGE)
        return self._normalize_items("/markets", items, self._settlement_of, rejects)

    def _settlement_of(self, msg: Mapping[str, Any]) -> list[Settlement]:
        rec = nz.market(msg, self.source)
        if rec.result is None:
            return []
        settled = nz.market_settled_ts(msg)
        if settled is None:
            raise PayloadError("missing_field", f"{rec.ticker} has a result but no settlement_ts/close_time")
        s = nz.settlement_from_market(rec, settled)
        return [s] if s is not None else []

    def get_orderbook(
        self, ticker: str, *, depth: int | None = None, rejects: bool = False
    ) -> BookSnapshot | Rejected:
        """Current bid ladders (``GET /markets/{ticker}/orderbook``), stamped with the client's clock."""
        path = f"/markets/{ticker}/orderbook"
        body = self.request("GET", path, params={"depth": depth})
        ts = self._now()
        return self._one(path, body, lambda m: nz.rest_orderbook(ticker, m, ts), rejects)

    def get_candlesticks(
        self,
        series_ticker: str,
        ticker: str,
        start_ts: int | datetime,
        end_ts: int | datetime,
        period_interval: int = 1,
        *,
        rejects: bool = False,
    ) -> list[Candle | Rejected]:
        """Candles of a live-tier market (``GET /series/{s}/markets/{t}/candlesticks``);
        ``period_interval`` in minutes: 1, 60 or 1440."""
        path = f"/series/{series_ticker}/markets/{ticker}/candlesticks"
        return self._candles(path, ticker, start_ts, end_ts, period_interval, rejects, historical=None)

    def get_historical_candlesticks(
        self,
        ticker: str,
        start_ts: int | datetime,
        end_ts: int | datetime,
        period_interval: int = 1,
        *,
        rejects: bool = False,
    ) -> list[Candle | Rejected]:
        """Candles of an archived market (``GET /historical/markets/{t}/candlesticks``): OHLC fields
        without the ``_dollars`` suffix, ``volume`` / ``open_interest`` as fixed-point strings."""
        path = f"/historical/markets/{ticker}/candlesticks"
        return self._candles(path, ticker, start_ts, end_ts, period_interval, rejects, historical=True)

    def _candles(
        self,
        path: str,
        ticker: str,
        start_ts: int | datetime,
        end_ts: int | datetime,
        period_interval: int,
        rejects: bool,
        historical: bool | None,
    ) -> list[Candle | Rejected]:
        if period_interval not in CANDLE_PERIODS:
            raise ValueError(f"period_interval must be one of {sorted(CANDLE_PERIODS)}")
        params = {"start_ts": _unix(start_ts), "end_ts": _unix(end_ts), "period_interval": period_interval}
        body = self.request("GET", path, params=params)
        items = body.get("candlesticks")
        if items is None:
            items = []
        if not isinstance(items, list):
            raise KalshiBadResponse(
                f"GET {path}", "unexpected_shape", "candlesticks is not a list", _dump(body)
            )
        return list(
            self._normalize_items(
                path, items, lambda m: [nz.candle(ticker, period_interval, m, historical=historical)], rejects
            )
        )

    def get_historical_cutoff(self) -> HistoricalCutoff:
        path = "/historical/cutoff"
        body = self.request("GET", path)
        rec = self._one(path, body, nz.historical_cutoff, rejects=False)
        assert isinstance(rec, HistoricalCutoff)
        return rec

    def get_historical_market(self, ticker: str) -> MarketRecord:
        path = f"/historical/markets/{ticker}"
        body = self.request("GET", path)
        rec = self._one(path, body.get("market"), lambda m: nz.market(m, self.source), rejects=False)
        assert isinstance(rec, MarketRecord)
        return rec

    def iter_trades(
        self,
        *,
        ticker: str | None = None,
        min_ts: int | datetime | None = None,
        max_ts: int | datetime | None = None,
        limit: int = MAX_TRADES_PAGE,
        historical: bool = False,
        rejects: bool = False,
    ) -> Iterator[Trade | Rejected]:
        """Public trades (``GET /markets/trades``, or ``/historical/trades``), newest first as Kalshi
        sends them."""
        if not 1 <= limit <= MAX_TRADES_PAGE:
            raise ValueError(f"limit must be in 1..{MAX_TRADES_PAGE}")
        path = "/historical/trades" if historical else "/markets/trades"
        params = {
            "ticker": ticker,
            "min_ts": _unix(min_ts) if min_ts is not None else None,
            "max_ts": _unix(max_ts) if max_ts is not None else None,
        }
        items = self.paginate(path, "trades", params, limit=limit)
        return self._normalize_items(path, items, lambda m: [nz.trade(m)], rejects)

    def iter_multivariate_collections(
        self, *, status: str | None = None, series_ticker: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Raw multivariate event collections (``GET /multivariate_event_collections``)."""
        params = {"status": status, "series_ticker": series_ticker}
        for item in self.paginate("/multivariate_event_collections", "multivariate_contracts", params):
            if not isinstance(item, dict):
                raise KalshiBadResponse(
                    "GET /multivariate_event_collections", "bad_item", "collection is not an object",
                    _dump(item),
                )
            yield item

    def iter_multivariate_events(
        self,
        *,
        collection_ticker: str | None = None,
        series_ticker: str | None = None,
        with_nested_markets: bool = True,
        rejects: bool = False,
    ) -> Iterator[ComboMarket | Rejected]:
        """Combo markets of multivariate events (``GET /events/multivariate``): every nested market
        becomes a :class:`ComboMarket` built from its ``mve_selected_legs``."""
        params = {
            "collection_ticker": collection_ticker,
            "series_ticker": series_ticker,
            "with_nested_markets": "true" if with_nested_markets else None,
        }
        events = self.paginate("/events/multivariate", "events", params, limit=MAX_EVENTS_PAGE)
        markets = self._nested_markets(events)
        return self._normalize_items(
            "/events/multivariate", markets, lambda m: [nz.combo_market(m, self.source)], rejects
        )

    @staticmethod
    def _nested_markets(events: Iterable[Any]) -> Iterator[Any]:
        for ev in events:
            if not isinstance(ev, Mapping):
                yield ev  # rejected downstream as a bad item
                continue
            for m in ev.get("markets") or []:
                if isinstance(m, dict) and not m.get("event_ticker") and ev.get("event_ticker"):
                    m = {**m, "event_ticker": ev["event_ticker"]}
                yield m

    # ------------------------------------------------------------------ portfolio (signed)

    def get_balance(self) -> Balance:
        path = "/portfolio/balance"
        body = self.request("GET", path, signed=True)
        rec = self._one(path, body, nz.balance, rejects=False)
        assert isinstance(rec, Balance)
        return rec

    def iter_positions(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        count_filter: str | None = None,
        rejects: bool = False,
    ) -> Iterator[Position | Rejected]:
        """Market positions (``GET /portfolio/positions``, ``market_positions``)."""
        path = "/portfolio/positions"
        params = {"ticker": ticker, "event_ticker": event_ticker, "count_filter": count_filter}
        items = self.paginate(path, "market_positions", params, limit=MAX_PORTFOLIO_PAGE, signed=True)
        return self._normalize_items(path, items, lambda m: [nz.position(m)], rejects)

    def iter_fills(
        self,
        *,
        ticker: str | None = None,
        order_id: str | None = None,
        min_ts: int | datetime | None = None,
        max_ts: int | datetime | None = None,
        rejects: bool = False,
    ) -> Iterator[Fill | Rejected]:
        path = "/portfolio/fills"
        params = {
            "ticker": ticker,
            "order_id": order_id,
            "min_ts": _unix(min_ts) if min_ts is not None else None,
            "max_ts": _unix(max_ts) if max_ts is not None else None,
        }
        items = self.paginate(path, "fills", params, limit=MAX_PORTFOLIO_PAGE, signed=True)
        return self._normalize_items(path, items, lambda m: [nz.fill(m)], rejects)

    def iter_orders(
        self,
        *,
        ticker: str | None = None,
        event_ticker: str | None = None,
        status: str | None = None,
        min_ts: int | datetime | None = None,
        max_ts: int | datetime | None = None,
        rejects: bool = False,
    ) -> Iterator[Order | Rejected]:
        """Orders (``GET /portfolio/orders``); ``status``: resting, canceled or executed."""
        path = "/portfolio/orders"
        params = {
            "ticker": ticker,
            "event_ticker": event_ticker,
            "status": status,
            "min_ts": _unix(min_ts) if min_ts is not None else None,
            "max_ts": _unix(max_ts) if max_ts is not None else None,
        }
        items = self.paginate(path, "orders", params, limit=MAX_PORTFOLIO_PAGE, signed=True)
        return self._normalize_items(path, items, lambda m: [nz.order(m)], rejects)

    def get_order(self, order_id: str) -> Order:
        path = f"/portfolio/orders/{order_id}"
        body = self.request("GET", path, signed=True)
        rec = self._one(path, body.get("order"), nz.order, rejects=False)
        assert isinstance(rec, Order)
        return rec

    def find_order_by_client_id(
        self, client_order_id: str, *, ticker: str | None = None, min_ts: int | datetime | None = None
    ) -> Order | None:
        """The order carrying ``client_order_id``, or None. ``GET /portfolio/orders`` has no
        client-order-id filter, so this scans the (ticker- and time-filtered) order list."""
        for rec in self.iter_orders(ticker=ticker, min_ts=min_ts):
            assert isinstance(rec, Order)
            if rec.client_order_id == client_order_id:
                return rec
        return None

    def create_order(
        self,
        ticker: str,
        side: str,
        action: str,
        count: int | Decimal,
        price: Decimal,
        *,
        client_order_id: str | None = None,
        time_in_force: str | None = None,
        post_only: bool | None = None,
        expiration_ts: int | datetime | None = None,
    ) -> Order:
        """Place a limit order (``POST /portfolio/orders``) and return it as Kalshi recorded it.

        ``price`` is the limit price of ``side`` in dollars (``Decimal("0.42")``; sub-cent ticks
        allowed). It is sent as ``{side}_price_dollars`` (4 places) and, when it is a whole number
        of cents, also as the legacy ``{side}_price`` in cents. ``count`` goes out as ``count`` and
        ``count_fp``. A ``client_order_id`` is generated (UUID4) when not given.

        Safe to retry: after an ambiguous failure (timeout, dropped connection, 5xx) the client
        first looks the order up by ``client_order_id`` and returns it if the server had accepted
        it; otherwise it sends the same body again with the same ``client_order_id``. A 409
        (``client_order_id`` already used) is answered by fetching the existing order. The
        server therefore never holds two orders for one call.
        """
        if not self._trading_allowed:
            raise KalshiConfigError("order entry on prod needs KalshiClient(..., allow_prod_trading=True)")
        body = self._order_body(
            ticker, side, action, count, price, client_order_id, time_in_force, post_only, expiration_ts
        )
        coid = body["client_order_id"]
        path = "/portfolio/orders"
        lookup_from = int(self._clock()) - _DUPLICATE_LOOKBACK_S

        def lookup(cause: KalshiError | None = None) -> Order | None:
            """After an ambiguous failure: was the order taken? (Orders created before this call
            cannot carry our id, so the scan starts shortly before it.) After a 409 (``cause`` is
            None) the holder of the id may be older: scan every order of the ticker."""
            if isinstance(cause, KalshiRateLimited) or (
                isinstance(cause, KalshiTransportError) and not cause.request_was_sent
            ):
                return None  # the server cannot have taken the order
            since = lookup_from if cause is not None else None
            try:
                return self.find_order_by_client_id(coid, ticker=ticker, min_ts=since)
            except (KalshiRetriesExhausted, KalshiTransportError, KalshiServerError) as exc:
                log.warning(
                    "kalshi order lookup for a retried create failed (%s); sending again", _short(exc)
                )
                return None

        def attempt() -> Order:
            try:
                data = self._send_once("POST", path, None, body, True)
            except KalshiHTTPError as exc:
                if _is_duplicate_order(exc):
                    existing = lookup()
                    if existing is not None:
                        log.info("kalshi create_order: client_order_id already accepted; using that order")
                        return existing
                raise
            rec = self._one(path, data.get("order"), nz.order, rejects=False)
            assert isinstance(rec, Order)
            return rec

        try:
            return self._with_retries("POST", path, attempt, idempotent=True, before_retry=lookup)
        except KalshiRetriesExhausted as exc:
            existing = lookup(exc.last_error)  # the last attempt may have been taken after all
            if existing is not None:
                return existing
            raise

    @staticmethod
    def _order_body(
        ticker: str,
        side: str,
        action: str,
        count: int | Decimal,
        price: Decimal,
        client_order_id: str | None,
        time_in_force: str | None,
        post_only: bool | None,
        expiration_ts: int | datetime | None,
    ) -> dict[str, Any]:
        if not ticker:
            raise ValueError("ticker is empty")
        if side not in ("yes", "no"):
            raise ValueError(f"side must be 'yes' or 'no', got {side!r}")
        if action not in ("buy", "sell"):
            raise ValueError(f"action must be 'buy' or 'sell', got {action!r}")
        if isinstance(price, float) or isinstance(count, float):
            raise TypeError("give price and count as Decimal or int, not float")
        qty = Decimal(count)
        if qty <= 0 or qty != qty.to_integral_value():
            raise ValueError(f"count must be a positive whole number of contracts, got {count}")
        px = Decimal(price)
        if not Decimal(0) < px < Decimal(1):
            raise ValueError(f"price must be inside (0, 1) dollars, got {price}")
        if px != px.quantize(PRICE_PLACES):
            raise ValueError(f"price {price} has more than 4 decimal places")
        coid = client_order_id or str(uuid.uuid4())
        if not _CLIENT_ORDER_ID.match(coid):
            raise ValueError("client_order_id must be 1-64 characters of letters, digits and -_:+=/")
        if time_in_force is not None and time_in_force not in _TIME_IN_FORCE:
            raise ValueError(f"time_in_force must be one of {sorted(_TIME_IN_FORCE)}")
        body: dict[str, Any] = {
            "ticker": ticker,
            "side": side,
            "action": action,
            "type": "limit",
            "count": int(qty),
            "count_fp": str(qty.quantize(COUNT_PLACES)),
            f"{side}_price_dollars": str(px.quantize(PRICE_PLACES)),
            "client_order_id": coid,
        }
        cents_value = px * 100
        if cents_value == cents_value.to_integral_value():
            body[f"{side}_price"] = int(cents_value)
        if time_in_force is not None:
            body["time_in_force"] = time_in_force
        if post_only is not None:
            body["post_only"] = post_only
        if expiration_ts is not None:
            body["expiration_ts"] = _unix(expiration_ts)
        return body

    def cancel_order(self, order_id: str) -> Order:
        """Cancel a resting order (``DELETE /portfolio/orders/{order_id}``); returns the order as
        canceled. If a retried cancel finds the order gone (404) it is fetched and returned when it
        is already canceled."""
        if not self._trading_allowed:
            raise KalshiConfigError("order entry on prod needs KalshiClient(..., allow_prod_trading=True)")
        path = f"/portfolio/orders/{order_id}"
        attempts = {"n": 0}

        def attempt() -> Order:
            attempts["n"] += 1
            try:
                data = self._send_once("DELETE", path, None, None, True)
            except KalshiNotFound:
                if attempts["n"] > 1:
                    existing = self.get_order(order_id)
                    if existing.status == "canceled":
                        return existing
                raise
            rec = self._one(path, data.get("order"), nz.order, rejects=False)
            assert isinstance(rec, Order)
            return rec

        return self._with_retries("DELETE", path, attempt, idempotent=True)


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]
