"""The quote API (FastAPI): price parlays, take bets, report health.

==========================  ==============================================================================
``POST /quotes``            price a parlay for a stake: a quote id valid for the quote TTL
``POST /bets``              take a bet on a quote (idempotent by ``idempotency_key``)
``GET /bets/{bet_id}``      a bet of the calling key
``GET /markets``            the quotable markets: cluster, side titles, current mid, model probability;
                            ``?search=`` (words in ticker, title or side titles) and ``?event_ticker=``
``GET /health``             ``{"status"}`` only: ok, degraded or down (no key; rate-limited per address)
``GET /health/details``     database, Redis, model version and age, which features are off
==========================  ==============================================================================

Every other route needs an API key (``X-API-Key: pk_….secret`` or ``Authorization: Bearer …``) and
counts against the key's rate limit (a token bucket in Redis; with no Redis, rate limiting is off and
``/health/details`` says so). Browsers get CORS headers only from the origins of ``PARLAY_SERVICE_CORS_ORIGINS``
(none by default). Refusals are JSON ``{"code", "reason", "request_id", "details"?}`` with the HTTP
status of :mod:`service.errors`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import psycopg
import redis
from fastapi import Depends, FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from parlay import redis_cache
from parlay.apikeys import ApiKeyRecord
from parlay.db.connection import resolve_database_url
from parlay.pricing_store import load_pricer
from parlay.redis_cache import JsonCache, RedisTarget
from service.auth import Authenticator, key_from_headers
from service.db import ConnectionPool, DatabaseUnavailable
from service.errors import ERROR_CODES, ApiError
from service.quoting import BetOut, BetRequest, LegIn, QuoteEngine, QuoteOut, QuoteRequest, filter_markets
from service.ratelimit import FailureCounter, TokenBucket, burst_for
from service.server import install_log_redaction
from service.settings import ServiceSettings
from service.state import (
    LoadedPricer,
    MarketSnapshot,
    PricerLoader,
    Refreshing,
    RiskState,
    as_of_snapshot,
    is_live,
    load_pricer_state,
    load_risk_state,
    load_snapshot,
    replay_loader,
)

log = logging.getLogger("parlay.service")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ErrorOut(BaseModel):
    code: str
    reason: str
    request_id: str | None = None
    details: Any = None


# ----------------------------------------------------------------------------- request bodies, strictly

# A stake given as a string: ASCII digits, an optional fraction after one point, an optional minus (so a
# negative stake is refused by the stake rule, with its own message). No underscores, exponents, signs
# other than one leading minus, surrounding whitespace or non-ASCII digits.
STAKE_STRING = re.compile(r"-?[0-9]{1,30}(?:\.[0-9]{1,30})?")
BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def strict_stake(value: object) -> object:
    """The stake as sent, when it is a JSON number or a string of :data:`STAKE_STRING`; else ValueError."""
    if isinstance(value, bool):
        raise ValueError('stake must be a number or a decimal string such as "10.25"')
    if isinstance(value, str):
        if not STAKE_STRING.fullmatch(value):
            raise ValueError(
                'stake must be a decimal such as "10" or "10.25" (ASCII digits, no spaces, underscores or exponents)'
            )
        return value
    if isinstance(value, int | float | Decimal):
        return value
    raise ValueError('stake must be a number or a decimal string such as "10.25"')


class LegBody(LegIn):
    """A leg as the API accepts it: the ticker in ASCII only (Unicode look-alikes such as ſ or ı would
    otherwise upper-case onto real tickers)."""

    @field_validator("ticker", mode="before")
    @classmethod
    def _ascii_ticker(cls, value: object) -> object:
        if isinstance(value, str) and not value.isascii():
            raise ValueError("a ticker has ASCII letters, digits, '.', '_' and '-' only")
        return value


class QuoteBody(QuoteRequest):
    legs: list[LegBody] = Field(max_length=100, description="the parlay's legs (every one must win)")  # type: ignore[assignment]

    _stake = field_validator("stake", mode="before")(strict_stake)


class BetBody(BetRequest):
    _stake = field_validator("stake", mode="before")(strict_stake)

    @field_validator("idempotency_key", mode="before")
    @classmethod
    def _not_blank(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            raise ValueError("idempotency_key must not be blank")
        return value


# ----------------------------------------------------------------------------- runtime


class ServiceRuntime:
    """The service's long-lived parts: connection pool, Redis, caches, the quote engine."""

    def __init__(self, settings: ServiceSettings, pricer_loader: PricerLoader | None = None) -> None:
        self.settings = settings
        url = settings.database_url or resolve_database_url(None)
        self.pool = ConnectionPool(
            url,
            size=settings.db_pool_size,
            timeout_s=settings.db_timeout_s,
            statement_timeout_s=settings.db_statement_timeout_s,
        )
        if not settings.redis_enabled:
            self.redis_target = RedisTarget(redis_cache.OFF, None, "Redis is disabled (PARLAY_SERVICE_REDIS=off)")
        else:
            self.redis_target = redis_cache.resolve_redis(
                settings.redis_url, start_private=settings.start_private_redis
            )
        self.redis: redis.Redis | None = None
        self.limiter: TokenBucket | None = None
        self.cache: JsonCache | None = None
        if self.redis_target.url:
            self.redis = redis_cache.client(self.redis_target.url)
            self.limiter = TokenBucket(self.redis, settings.redis_prefix)
            self.cache = JsonCache(self.redis, settings.redis_prefix, settings.cache_ttl_s)
        loader = pricer_loader or (lambda conn: load_pricer(conn, settings.storage_url, settings.trading_day))
        if settings.as_of is not None:
            loader = replay_loader(loader, settings.as_of)
        self.pricers: Refreshing[LoadedPricer] = Refreshing(
            "pricer", lambda: load_pricer_state(self.pool, loader), settings.pricer_refresh_s, settings.pricer_retry_s
        )
        self.risk_state: Refreshing[RiskState] = Refreshing(
            "risk-state", lambda: load_risk_state(self.pool), settings.risk_state_ttl_s
        )
        if settings.as_of is not None:
            when = settings.as_of
            self.snapshot: Refreshing[MarketSnapshot] = Refreshing(
                "as-of-snapshot", lambda: self._as_of_snapshot(when), 3600.0
            )
        else:
            self.snapshot = Refreshing(
                "market-snapshot", lambda: load_snapshot(self.pool, self.pricers, self.cache), settings.cache_ttl_s
            )
        self.engine = QuoteEngine(settings, self.pool, self.pricers, self.risk_state, self.snapshot)
        self.auth = Authenticator(
            self.pool,
            settings.auth_cache_ttl_s,
            failures=FailureCounter(self.redis, settings.redis_prefix, settings.auth_failure_window_s),
            max_failures_per_key=settings.auth_max_failures_per_key,
            max_failures_per_client=settings.auth_max_failures_per_client,
        )
        log.info(
            "quote service: database %s, redis %s (%s)%s",
            self.pool.display_url,
            self.redis_target.mode,
            self.redis_target.display,
            "; off: " + ", ".join(self.features_off()) if self.features_off() else "",
        )

    def _as_of_snapshot(self, when: datetime) -> MarketSnapshot:
        loaded = self.pricers.get()
        with self.pool.connection() as conn:
            return as_of_snapshot(conn, loaded.pricer, loaded.trading_day, when)

    def features_off(self) -> list[str]:
        if self.redis_target.url is None:
            return ["rate_limiting", "shared_market_cache"]
        return []

    def rate_limit(self, record: ApiKeyRecord) -> None:
        if self.limiter is None:
            return
        try:
            d = self.limiter.take(
                record.key_id, record.rate_per_min, burst_for(record.rate_per_min, self.settings.rate_burst_s)
            )
        except redis.RedisError as exc:
            log.error("rate limiter unavailable (%s): refusing keyed requests", type(exc).__name__)
            retry = str(self.settings.rate_limit_retry_after_s)
            raise ApiError(
                503,
                "rate_limiter_unavailable",
                f"the rate limiter (Redis) cannot be reached; retry in {retry} s",
                headers={"Retry-After": retry},
            ) from None
        if not d.allowed:
            raise ApiError(
                429,
                "rate_limited",
                f"key {record.key_id} is over its limit of {record.rate_per_min} "
                f"requests/min; retry in {d.retry_after_header} s",
                {"rate_per_min": record.rate_per_min},
                headers={"Retry-After": d.retry_after_header},
            )

    def rate_limit_health(self, client: str | None) -> None:
        """The public health check's limit, per client address (off without Redis, like every limit)."""
        if self.limiter is None:
            return
        rate = self.settings.health_rate_per_min
        try:
            d = self.limiter.take(f"health:{client or 'unknown'}", rate, burst_for(rate, self.settings.rate_burst_s))
        except redis.RedisError:
            return  # the health check still answers (and says Redis is down)
        if not d.allowed:
            raise ApiError(
                429,
                "rate_limited",
                f"health is checked at most {rate} times a minute from one address; retry in {d.retry_after_header} s",
                headers={"Retry-After": d.retry_after_header},
            )

    def health(self) -> tuple[int, dict[str, Any]]:
        db: dict[str, Any] = {"ok": True, "url": self.pool.display_url}
        try:
            with self.pool.connection() as conn:
                conn.execute("SELECT 1").fetchone()
        except (DatabaseUnavailable, psycopg.Error) as exc:
            db = {
                "ok": False,
                "url": self.pool.display_url,
                "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            }
        rd: dict[str, Any] = {"mode": self.redis_target.mode, "url": self.redis_target.display}
        if self.redis is None:
            rd.update(ok=False, reason=self.redis_target.reason)
        else:
            try:
                self.redis.ping()
                rd["ok"] = True
            except redis.RedisError as exc:
                rd.update(ok=False, error=type(exc).__name__)
        model: dict[str, Any] = {"loaded": False}
        if db["ok"]:
            try:
                loaded = self.pricers.get()
                age = loaded.age_s()
                model = {
                    "loaded": True,
                    "version": loaded.version,
                    "trading_day": loaded.trading_day.isoformat() if loaded.trading_day else None,
                    "created_at": loaded.created_at.isoformat() if loaded.created_at else None,
                    "age_s": round(age, 1) if age is not None else None,
                    "markets": len(loaded.pricer.markets()),
                    "live": is_live(self.settings.live, loaded.trading_day),
                    "max_age_s": self.settings.max_model_age_s,
                }
            except ApiError as exc:
                model = {"loaded": False, "error": exc.message}
            except Exception as exc:  # the health route reports, it does not fail
                model = {"loaded": False, "error": type(exc).__name__}
        off = self.features_off()
        if not db["ok"]:
            status = "down"
        elif not model.get("loaded") or (self.redis is not None and not rd.get("ok")):
            status = "degraded"
        else:
            status = "ok"
        body = {
            "status": status,
            "time": datetime.now(UTC).isoformat(),
            "database": db,
            "redis": rd,
            "rate_limiting": "off" if self.limiter is None else "on",
            "features_off": off,
            "model": model,
        }
        return (200 if db["ok"] else 503), body

    def close(self) -> None:
        self.pool.close()
        if self.redis is not None:
            self.redis.close()


# ----------------------------------------------------------------------------- ASGI plumbing


class RequestContext:
    """Gives every request an id (``X-Request-ID``), reads the body while counting its bytes and refuses it
    as soon as it passes the size limit (413, whether or not a Content-Length was sent: a chunked body is
    never read past the limit), and refuses a body that starts with a byte-order mark (400).

    Every request answers within its bound (``bet_timeout_s`` for ``POST /bets``, ``quote_timeout_s`` for
    the rest): when the handler has not started its answer by then (its only blocking dependency is the
    database: a statement, a pooled connection), the request gets 503 ``database_unavailable`` and the
    handler's late answer is dropped."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        max_body_bytes: int,
        quote_timeout_s: float = 2.0,
        bet_timeout_s: float = 10.0,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.quote_timeout_s = quote_timeout_s
        self.bet_timeout_s = bet_timeout_s

    async def _refuse(self, send: Send, err: ApiError, rid: str, header: tuple[bytes, bytes]) -> None:
        body = json.dumps(err.body(rid)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": err.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                    *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (err.headers or {}).items()),
                    header,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid
        header = (b"x-request-id", rid.encode())
        too_large = ApiError(413, "payload_too_large", f"the body exceeds {self.max_body_bytes} bytes")
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                await self._refuse(send, too_large, rid, header)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            if message["type"] != "http.request":
                continue
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._refuse(send, too_large, rid, header)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body.startswith(BOMS):
            await self._refuse(
                send,
                ApiError(400, "malformed_json", "the body starts with a byte-order mark: send UTF-8 JSON without one"),
                rid,
                header,
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        started = abandoned = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if abandoned:
                return
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        is_bet = scope.get("method") == "POST" and scope.get("path") == "/bets"
        bound = self.bet_timeout_s if is_bet else self.quote_timeout_s
        task = asyncio.ensure_future(self.app(scope, replay, send_with_id))
        done, _ = await asyncio.wait({task}, timeout=bound)
        if task in done or started:
            await task
            return
        abandoned = True
        task.add_done_callback(_consume_result)
        log.error(
            "%s %s: no answer within %g s (request %s): answered 503",
            scope.get("method"),
            scope.get("path"),
            bound,
            rid,
        )
        err = ApiError(
            503,
            "database_unavailable",
            f"no answer within {bound:g} s: the ledger database is not answering; retry shortly",
            headers={"Retry-After": "5"},
        )
        await self._refuse(send, err, rid, header)


def _consume_result(task: asyncio.Future[None]) -> None:
    """Collects an abandoned handler's outcome (its answer came too late and was dropped)."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("a request answered late failed: %s", type(task.exception()).__name__)


def _rid(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _error_response(request: Request, err: ApiError) -> JSONResponse:
    return JSONResponse(err.body(_rid(request)), status_code=err.status, headers=err.headers or None)


_FIELD_CODES = {
    "side": "invalid_side",
    "stake": "invalid_stake",
    "ticker": "invalid_ticker",
    "idempotency_key": "invalid_idempotency_key",
}


def validation_error(errors: list[dict[str, Any]]) -> ApiError:
    """A pydantic/FastAPI validation failure as an :class:`ApiError` (input values are not echoed)."""
    details = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors
    ]
    if any(e.get("type") == "json_invalid" for e in errors):
        return ApiError(400, "malformed_json", "the body is not valid JSON", details)
    code = "invalid_request"
    for e in errors:
        loc = [p for p in e.get("loc", ()) if isinstance(p, str) and p != "body"]
        if loc and loc[-1] in _FIELD_CODES and e.get("type") != "extra_forbidden":
            code = _FIELD_CODES[loc[-1]]
            break
    first = details[0] if details else {"loc": [], "msg": "invalid body"}
    where = ".".join(p for p in first["loc"] if p != "body") or "body"
    return ApiError(422, code, f"{where}: {first['msg']}", details)


# ----------------------------------------------------------------------------- the app


# Security schemes (the docs' Authorize button): the key in X-API-Key, or as a bearer token.
API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="api_key",
    description="Your key, `pk_….secret` (`parlay api-key create --name NAME`).",
)
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", description="The same key as `Authorization: Bearer …`.")


def api_key(
    request: Request,
    x_api_key: Annotated[str | None, Security(API_KEY_HEADER)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
) -> ApiKeyRecord:
    """The calling key, verified and counted against its rate limit."""
    runtime: ServiceRuntime = request.app.state.runtime
    presented = key_from_headers(request.headers.getlist("x-api-key"), request.headers.getlist("authorization"))
    record = runtime.auth.verify(presented, request.client.host if request.client else None)
    runtime.rate_limit(record)
    return record


Key = Annotated[ApiKeyRecord, Depends(api_key)]


def health_key(
    request: Request,
    x_api_key: Annotated[str | None, Security(API_KEY_HEADER)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
) -> ApiKeyRecord:
    """The calling key for ``/health/details``: verified and rate-limited, but answered while the rate
    limiter itself is down (the details then say so)."""
    runtime: ServiceRuntime = request.app.state.runtime
    presented = key_from_headers(request.headers.getlist("x-api-key"), request.headers.getlist("authorization"))
    record = runtime.auth.verify(presented, request.client.host if request.client else None)
    try:
        runtime.rate_limit(record)
    except ApiError as exc:
        if exc.code != "rate_limiter_unavailable":
            raise
    return record


HealthKey = Annotated[ApiKeyRecord, Depends(health_key)]


def create_app(settings: ServiceSettings | None = None, pricer_loader: PricerLoader | None = None) -> FastAPI:
    """The quote API. ``settings`` default to :meth:`ServiceSettings.from_env`; ``pricer_loader(conn)``
    defaults to the newest stored ensemble (:func:`parlay.pricing_store.load_pricer`)."""
    settings = settings or ServiceSettings.from_env()
    runtime = ServiceRuntime(settings, pricer_loader)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        install_log_redaction()  # after the server configured its loggers
        yield
        runtime.close()

    codes = "\n".join(f"* `{code}` ({status}): {text}" for code, (status, text) in sorted(ERROR_CODES.items()))
    # Swagger UI and ReDoc served from the service itself (no CDN: /docs works offline)
    app = FastAPIOffline(
        swagger_ui_parameters={"persistAuthorization": True},
        title="Parlay quote API",
        version="1",
        description="Quotes and bets on Kalshi parlays. Errors: `{code, reason, request_id, details?}`.\n\n" + codes,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.add_middleware(
        RequestContext,
        max_body_bytes=settings.max_body_bytes,
        quote_timeout_s=settings.quote_timeout_s,
        bet_timeout_s=settings.bet_timeout_s,
    )
    if settings.cors_origins:  # outermost: refusals carry the CORS headers too
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type"],
            max_age=600,
        )

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        if exc.status >= 500:
            log.warning(
                "%s %s → %s %s (request %s)", request.method, request.url.path, exc.status, exc.code, _rid(request)
            )
        return _error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error_response(request, validation_error(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        err = ApiError(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))
        return _error_response(request, err)

    @app.exception_handler(DatabaseUnavailable)
    async def on_db(request: Request, exc: DatabaseUnavailable) -> JSONResponse:
        log.error("database unavailable (request %s): %s", _rid(request), exc)
        return _error_response(
            request,
            ApiError(
                503,
                "database_unavailable",
                "the ledger database cannot be reached; retry shortly",
                headers={"Retry-After": "5"},
            ),
        )

    @app.exception_handler(psycopg.OperationalError)
    async def on_pg(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
        log.error("database error (request %s): %s", _rid(request), type(exc).__name__)
        return _error_response(
            request,
            ApiError(
                503, "database_unavailable", "the ledger database failed; retry shortly", headers={"Retry-After": "5"}
            ),
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected failure in %s %s (request %s)", request.method, request.url.path, _rid(request))
        return _error_response(
            request, ApiError(500, "internal_error", "unexpected failure; it was logged with the request id")
        )

    errors: dict[int | str, dict[str, Any]] = {s: {"model": ErrorOut} for s in (400, 401, 404, 409, 410, 422, 429, 503)}

    @app.post(
        "/quotes", status_code=201, response_model=QuoteOut, responses=errors, tags=["quotes"], summary="Price a parlay"
    )
    def post_quote(body: QuoteBody, key: Key) -> QuoteOut:
        """Price a parlay for a stake. The quote can be bet on until `expires_at`."""
        return runtime.engine.quote(body, key.key_id)

    @app.post(
        "/bets",
        status_code=201,
        response_model=BetOut,
        responses={200: {"model": BetOut}, **errors},
        tags=["bets"],
        summary="Bet on a quote",
    )
    def post_bet(body: BetBody, key: Key, response: Response) -> BetOut:
        """Take a bet on a quote of this key. 201: placed now; 200: an earlier request with the same
        idempotency key placed it."""
        bet = runtime.engine.place(body, key.key_id)
        if not bet.created:
            response.status_code = 200
        return bet

    @app.get("/bets/{bet_id}", response_model=BetOut, responses=errors, tags=["bets"], summary="Look up a bet")
    def get_bet(bet_id: str, key: Key) -> BetOut:
        """One bet placed with the calling key: stake, price, payout and state (open, won, lost, void)."""
        return runtime.engine.bet(bet_id, key.key_id)

    @app.get("/markets", responses=errors, tags=["markets"], summary="List quotable markets")
    def get_markets(
        key: Key,
        search: Annotated[
            str | None,
            Query(
                max_length=200,
                description="words that must all appear (any case) in the ticker, event ticker, title or side titles",
            ),
        ] = None,
        event_ticker: Annotated[str | None, Query(max_length=150, description="only this event's markets")] = None,
    ) -> dict[str, Any]:
        """The quotable markets with their cluster, side titles, current mid and model probability."""
        loaded = runtime.pricers.get()
        markets = filter_markets(runtime.engine.markets(), search, event_ticker)
        return {"model_version": loaded.version, "count": len(markets), "markets": markets}

    @app.get("/health", tags=["health"], summary="Service status (no key)")
    def health(request: Request) -> JSONResponse:
        """`{"status": "ok" | "degraded" | "down"}` and nothing else (503 when the database is down). No key
        needed; rate-limited per client address. The details are at `/health/details`."""
        runtime.rate_limit_health(request.client.host if request.client else None)
        status, body = runtime.health()
        return JSONResponse({"status": body["status"]}, status_code=status)

    @app.get("/health/details", responses=errors, tags=["health"], summary="Service health in detail")
    def health_details(key: HealthKey) -> JSONResponse:
        """Database, Redis, model version and age; which features are off. Needs a key."""
        status, body = runtime.health()
        return JSONResponse(body, status_code=status)

    return app
