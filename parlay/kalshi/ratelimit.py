"""Client-side token buckets that keep us under Kalshi's rate limits.

Kalshi meters requests with two token buckets per account, one for reads and one for writes; most
calls cost 10 tokens. Access tiers (docs.kalshi.com, "Rate Limits", checked 2026):

=========  ==============  ===============
tier       reads / second  writes / second
=========  ==============  ===============
Basic      20              10
Advanced   30              30
Premier    100             100
Prime      400             400
=========  ==============  ===============

Only order-entry calls (create, cancel, amend, decrease and their batch forms) count as writes.
Kalshi does not document the bucket depth, so ``burst_seconds`` (how many seconds of budget may be
spent at once) is our own choice and configurable. Kalshi can change costs per endpoint
(``GET /account/endpoint_costs``): pass ``cost=`` to :meth:`RateLimiter.acquire` for those.

Buckets reserve tokens up front (the balance may go negative) and the caller sleeps for the
deficit outside the lock, so concurrent callers queue in arrival order without busy-waiting.
The clock and sleep are injectable, so tests never wait on wall time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["read", "write"]

DEFAULT_CALL_COST = 10


@dataclass(frozen=True)
class RateTier:
    """Requests per second a tier allows, at ``tokens_per_call`` tokens a request."""

    name: str
    reads_per_second: float
    writes_per_second: float
    tokens_per_call: int = DEFAULT_CALL_COST
    burst_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.reads_per_second <= 0 or self.writes_per_second <= 0:
            raise ValueError("rates must be positive")
        if self.tokens_per_call <= 0 or self.burst_seconds <= 0:
            raise ValueError("tokens_per_call and burst_seconds must be positive")

    def token_rate(self, kind: Kind) -> float:
        per_second = self.reads_per_second if kind == "read" else self.writes_per_second
        return per_second * self.tokens_per_call

    def capacity(self, kind: Kind) -> float:
        return self.token_rate(kind) * self.burst_seconds


BASIC = RateTier("basic", 20, 10)
ADVANCED = RateTier("advanced", 30, 30)
PREMIER = RateTier("premier", 100, 100)
PRIME = RateTier("prime", 400, 400)

TIERS: dict[str, RateTier] = {t.name: t for t in (BASIC, ADVANCED, PREMIER, PRIME)}


def tier(name: str) -> RateTier:
    try:
        return TIERS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown Kalshi rate tier {name!r}; expected one of {sorted(TIERS)}") from None


class TokenBucket:
    """A thread-safe token bucket refilled at ``rate`` tokens per second up to ``capacity``."""

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.capacity
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._last
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            self._last = now

    def available(self) -> float:
        """Tokens in the bucket now (negative while earlier reservations are still being paid off)."""
        with self._lock:
            self._refill()
            return self._tokens

    def try_acquire(self, tokens: float) -> bool:
        """Take ``tokens`` if they are there now; never waits."""
        with self._lock:
            self._refill()
            if self._tokens >= tokens:
                self._tokens -= tokens
                return True
            return False

    def reserve(self, tokens: float) -> float:
        """Take ``tokens`` now, going into debt if needed; returns the seconds to wait before using them."""
        if tokens < 0:
            raise ValueError("tokens must be non-negative")
        with self._lock:
            self._refill()
            self._tokens -= tokens
            return max(0.0, -self._tokens / self.rate)

    def acquire(self, tokens: float) -> float:
        """Reserve ``tokens`` and sleep until they are paid for; returns the seconds slept."""
        wait = self.reserve(tokens)
        if wait > 0:
            self._sleep(wait)
        return wait

    def drain(self) -> None:
        """Empty the bucket (used after the server answered 429: our estimate was too generous)."""
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens, 0.0)


class RateLimiter:
    """Separate read and write buckets for one account, sized by a :class:`RateTier`."""

    def __init__(
        self,
        tier: RateTier = BASIC,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.tier = tier
        kinds: tuple[Kind, Kind] = ("read", "write")
        self._buckets: dict[str, TokenBucket] = {
            kind: TokenBucket(tier.token_rate(kind), tier.capacity(kind), clock=clock, sleep=sleep)
            for kind in kinds
        }

    def bucket(self, kind: Kind) -> TokenBucket:
        return self._buckets[kind]

    def acquire(self, kind: Kind, cost: float | None = None) -> float:
        """Wait until one call of ``kind`` fits the budget; returns the seconds waited."""
        return self._buckets[kind].acquire(self.tier.tokens_per_call if cost is None else cost)

    def throttled(self, kind: Kind) -> None:
        """Tell the limiter the server said 429 for ``kind``."""
        self._buckets[kind].drain()

    def __repr__(self) -> str:
        return f"RateLimiter(tier={self.tier.name!r})"


_WRITE_PATH_PREFIXES = ("/portfolio/orders", "/portfolio/events/orders")


def request_kind(method: str, path: str) -> Kind:
    """``write`` for order entry (non-GET under ``/portfolio/orders`` or ``/portfolio/events/orders``),
    ``read`` for everything else. ``path`` is relative to ``/trade-api/v2``."""
    if method.upper() != "GET" and path.startswith(_WRITE_PATH_PREFIXES):
        return "write"
    return "read"
