"""The quote service's configuration: one frozen object, defaults in code, environment read at run time.

=================================  ===================================================================
``PARLAY_DATABASE_URL``            Postgres (ledger, marts); unset: the embedded server.
``PARLAY_REDIS_URL``               Redis for rate limits and the cache; unset: a private redis-server
                                   under ``.data/redis``; when that cannot start either, rate limiting
                                   and the cache are off (said at startup and by ``/health/details``).
``PARLAY_REDIS_PREFIX``            Prefix of every Redis key (default ``parlay:``).
``PARLAY_STORAGE_URL``             Object storage the pricer loads fitted models from.
``PARLAY_SERVICE_DATE``            Trading day to quote (default: the newest day of
                                   ``marts.binary_variables``, else today in New York).
``PARLAY_SERVICE_QUOTE_TTL_S``     Quote lifetime in seconds (default 30).
``PARLAY_SERVICE_MAX_LEGS``        Most legs in one parlay (default 10).
``PARLAY_SERVICE_MAX_MODEL_AGE_S`` Oldest pricer snapshot still quoted from (default 600).
``PARLAY_SERVICE_MAX_DATA_AGE_S``  Oldest book of a leg still quoted on, live days only (default 300).
``PARLAY_SERVICE_LAST_LOOK_TOLERANCE``  Largest move of the fair probability between quote and bet that
                                   still takes the bet (default 0.02); beyond it: ``price_moved``.
``PARLAY_SERVICE_DB_POOL``         Database connections held by the service (default 10).
``PARLAY_SERVICE_HEALTH_RATE_PER_MIN`` Public ``/health`` checks per client address a minute (default 60).
``PARLAY_SERVICE_QUOTE_TIMEOUT_S`` Every request but ``POST /bets`` answers within this (default 2 s): 503
                                   ``database_unavailable`` when the database holds it longer.
``PARLAY_SERVICE_BET_TIMEOUT_S``   The same bound for ``POST /bets`` (default 10 s).
``PARLAY_SERVICE_STATEMENT_TIMEOUT_S`` ``statement_timeout`` of the service's connections (default 5 s).
``PARLAY_SERVICE_AS_OF``           Replay: quote as of this ISO instant (markets open or closed as they
                                   were then); with ``PARLAY_SERVICE_DATE`` it quotes a past day.
``PARLAY_SERVICE_LIVE``            ``true``/``false``: wall-clock staleness checks on or off (default: on
                                   when the model's trading day is today or later in New York).
``PARLAY_SERVICE_REDIS``           ``off`` runs without Redis even when one is configured.
``PARLAY_RISK_MAX_DRAWDOWN``       Drawdown of LP equity from its peak beyond which quotes and bets
                                   are refused with ``lp_drawdown`` (default 0.2).
``PARLAY_SERVICE_CORS_ORIGINS``    Comma-separated origins allowed to call the API from a browser (e.g.
                                   ``chrome-extension://<id>``); none by default (no CORS headers).
=================================  ===================================================================
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

from models.risk import RiskConfig
from parlay.config import risk_config

CORS_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _float(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise ValueError(f"{name} must be ≥ 0")
    return value


def _int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None


@dataclass(frozen=True)
class ServiceSettings:
    """Everything the service needs; ``None`` fields are resolved at startup (see the module docstring)."""

    database_url: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    start_private_redis: bool = True
    redis_enabled: bool = True  # False: no Redis at all (rate limiting and the shared cache off)
    redis_prefix: str = "parlay:"
    storage_url: str | None = None
    trading_day: date | None = None
    live: bool | None = None  # wall-clock staleness checks; None: on when trading_day is today or later
    as_of: datetime | None = None  # replay: market states (open/closed) as they were at this instant
    quote_ttl_s: float = 30.0
    min_legs: int = 2
    max_legs: int = 10
    max_request_stake: Decimal = Decimal("1000000")  # sanity bound of the request; RiskConfig.max_stake is policy
    max_model_age_s: float = 600.0
    max_market_data_age_s: float = 300.0
    last_look_tolerance: float = 0.02  # probability points the fair price may move between quote and bet
    pricer_refresh_s: float = 5.0  # look for a newer ensemble at most this often (in the background)
    pricer_retry_s: float = 10.0  # after a failed load, wait this long before trying again
    cache_ttl_s: float = 5.0  # market snapshot (mids, statuses) in Redis and in process
    risk_state_ttl_s: float = 1.0  # the open book / pool state quotes are sized against (bets re-check live)
    rate_burst_s: float = 10.0  # a key's bucket holds this many seconds of its rate (at least one request)
    db_pool_size: int = 10
    db_timeout_s: float = 10.0  # longest wait for a free pooled connection
    db_statement_timeout_s: float = 5.0  # statement_timeout of every service connection
    quote_timeout_s: float = 2.0  # every request but POST /bets answers within this (503 database_unavailable)
    bet_timeout_s: float = 10.0  # POST /bets answers within this (placements queue on the ledger's lock)
    auth_cache_ttl_s: float = 30.0  # a verified secret is not hashed again for this long (revocation is read live)
    auth_max_failures_per_key: int = 10  # failed authentications of one key id per window, then 429
    auth_max_failures_per_client: int = 30  # failed authentications from one client address per window, then 429
    auth_failure_window_s: float = 60.0
    max_body_bytes: int = 65_536
    max_header_bytes: int = 16_384  # request line and headers; more is refused with 431 while it streams
    health_rate_per_min: int = 60  # public /health checks per client address
    rate_limit_retry_after_s: int = 5  # Retry-After sent with 503 when the rate limiter is unreachable
    cors_origins: tuple[str, ...] = ()  # browser origins that get CORS headers; empty: none
    risk: RiskConfig = field(default_factory=RiskConfig)

    def __post_init__(self) -> None:
        if not 1 <= self.min_legs <= self.max_legs <= 20:
            raise ValueError("need 1 ≤ min_legs ≤ max_legs ≤ 20")
        if self.quote_ttl_s <= 0:
            raise ValueError("quote_ttl_s must be positive")
        if self.max_request_stake <= 0:
            raise ValueError("max_request_stake must be positive")
        if not 0 <= self.last_look_tolerance < 1:
            raise ValueError("last_look_tolerance must be in [0, 1)")
        if self.db_pool_size < 1:
            raise ValueError("db_pool_size must be ≥ 1")
        if self.auth_max_failures_per_key < 1 or self.auth_max_failures_per_client < 1:
            raise ValueError("auth_max_failures_per_key and auth_max_failures_per_client must be ≥ 1")
        if self.quote_timeout_s <= 0 or self.bet_timeout_s <= 0 or self.db_timeout_s <= 0:
            raise ValueError("quote_timeout_s, bet_timeout_s and db_timeout_s must be positive")
        if self.db_statement_timeout_s <= 0:
            raise ValueError("db_statement_timeout_s must be positive")
        if self.auth_failure_window_s <= 0:
            raise ValueError("auth_failure_window_s must be positive")
        if not self.redis_prefix or len(self.redis_prefix) > 100:
            raise ValueError("redis_prefix must have 1 to 100 characters")
        for origin in self.cors_origins:
            if not CORS_ORIGIN.match(origin):
                raise ValueError(
                    f"CORS origin {origin!r}: expected scheme://host[:port] with no path or wildcard, "
                    "e.g. chrome-extension://abcdefghijklmnopabcdefghijklmnop"
                )

    @classmethod
    def from_env(cls, **overrides: object) -> ServiceSettings:
        """Settings from the environment; keyword arguments win over it."""
        day = _env("PARLAY_SERVICE_DATE")
        values: dict[str, object] = {
            "risk": risk_config(),
            "database_url": _env("PARLAY_DATABASE_URL"),
            "redis_url": _env("PARLAY_REDIS_URL"),
            "redis_prefix": _env("PARLAY_REDIS_PREFIX") or "parlay:",
            "storage_url": _env("PARLAY_STORAGE_URL"),
            "trading_day": date.fromisoformat(day) if day else None,
            "quote_ttl_s": _float("PARLAY_SERVICE_QUOTE_TTL_S", 30.0),
            "max_legs": _int("PARLAY_SERVICE_MAX_LEGS", 10),
            "max_model_age_s": _float("PARLAY_SERVICE_MAX_MODEL_AGE_S", 600.0),
            "max_market_data_age_s": _float("PARLAY_SERVICE_MAX_DATA_AGE_S", 300.0),
            "db_pool_size": _int("PARLAY_SERVICE_DB_POOL", 10),
            "last_look_tolerance": _float("PARLAY_SERVICE_LAST_LOOK_TOLERANCE", 0.02),
            "health_rate_per_min": _int("PARLAY_SERVICE_HEALTH_RATE_PER_MIN", 60),
            "quote_timeout_s": _float("PARLAY_SERVICE_QUOTE_TIMEOUT_S", 2.0),
            "bet_timeout_s": _float("PARLAY_SERVICE_BET_TIMEOUT_S", 10.0),
            "db_statement_timeout_s": _float("PARLAY_SERVICE_STATEMENT_TIMEOUT_S", 5.0),
        }
        live = (_env("PARLAY_SERVICE_LIVE") or "auto").lower()
        if live not in ("auto", "true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"PARLAY_SERVICE_LIVE={live!r}: expected true, false or auto")
        if live != "auto":
            values["live"] = live in ("true", "1", "yes")
        as_of = _env("PARLAY_SERVICE_AS_OF")
        if as_of:
            try:
                values["as_of"] = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"PARLAY_SERVICE_AS_OF={as_of!r} is not an ISO timestamp") from None
        origins = tuple(o.strip().rstrip("/") for o in (_env("PARLAY_SERVICE_CORS_ORIGINS") or "").split(","))
        values["cors_origins"] = tuple(o for o in origins if o)
        if (_env("PARLAY_SERVICE_REDIS") or "").lower() == "off":
            values["redis_enabled"] = False
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> ServiceSettings:
        return replace(self, **changes)  # type: ignore[arg-type]
