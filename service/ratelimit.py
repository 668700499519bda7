"""Per-key rate limits: a token bucket in Redis, updated atomically by one Lua script.

A key's bucket holds at most ``burst`` tokens and refills at ``rate_per_min / 60`` tokens a second;
a request takes one token or is refused with the time until one is there. The clock is Redis's own
(``TIME``), so every service process shares one bucket per key and their clocks do not matter. An idle
bucket expires once it would be full again.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from dataclasses import dataclass

import redis

# KEYS[1] bucket; ARGV: rate (tokens/s), burst (tokens), cost (tokens)
# returns {allowed (0/1), tokens left (string), retry after (µs)}
_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate / 1000000)
local allowed = 0
local retry_us = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry_us = math.ceil((cost - tokens) * 1000000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {allowed, string.format('%.6f', tokens), retry_us}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: float  # tokens left after this request
    retry_after_s: float  # 0 when allowed

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after_s)))


class TokenBucket:
    """Token buckets under ``<prefix>rl:<name>`` in one Redis. Raises :class:`redis.RedisError` when Redis
    cannot answer: the caller decides what that means."""

    def __init__(self, conn: redis.Redis, prefix: str) -> None:
        self._r = conn
        self._prefix = prefix + "rl:"
        self._script = conn.register_script(_SCRIPT)

    def key(self, name: str) -> str:
        return self._prefix + name

    def take(self, name: str, rate_per_min: float, burst: float, cost: float = 1.0) -> Decision:
        """Take ``cost`` tokens from ``name``'s bucket (refilled at ``rate_per_min``, holding ≤ ``burst``)."""
        if rate_per_min <= 0 or burst <= 0 or cost <= 0:
            raise ValueError("rate_per_min, burst and cost must be positive")
        allowed, tokens, retry_us = self._script(
            keys=[self.key(name)], args=[repr(rate_per_min / 60.0), repr(float(burst)), repr(cost)]
        )
        return Decision(bool(int(allowed)), float(tokens), int(retry_us) / 1e6)

    def reset(self, name: str) -> None:
        self._r.delete(self.key(name))


def burst_for(rate_per_min: int, burst_s: float) -> float:
    """A bucket holding ``burst_s`` seconds of the rate, and at least one request."""
    return max(1.0, rate_per_min * burst_s / 60.0)


class FailureCounter:
    """Failures per name (a key id, a client address) in a fixed window of ``window_s`` seconds, in Redis
    under ``<prefix>authfail:<name>`` so every service process shares them; in process memory when there is
    no Redis or it does not answer. :meth:`blocked` is read before any expensive work is done."""

    def __init__(self, conn: redis.Redis | None, prefix: str, window_s: float, max_local: int = 100_000) -> None:
        self._r = conn
        self._prefix = prefix + "authfail:"
        self.window_s = window_s
        self._max_local = max_local
        self._local: dict[str, tuple[int, float]] = {}  # name → (failures, end of window on the monotonic clock)
        self._lock = threading.Lock()

    def _local_get(self, name: str, now: float) -> tuple[int, float]:
        count, end = self._local.get(name, (0, 0.0))
        return (count, end) if end > now else (0, now + self.window_s)

    def blocked(self, limits: list[tuple[str, int]]) -> float | None:
        """Seconds until the first of ``limits`` (name, most failures) that is reached frees up; None when
        none is reached."""
        waits: list[float] = []
        counts: list[tuple[int, float]] | None = None
        if self._r is not None:
            try:
                pipe = self._r.pipeline(transaction=False)
                for name, _ in limits:
                    pipe.get(self._prefix + name)
                    pipe.pttl(self._prefix + name)
                raw = pipe.execute()
                counts = [(int(raw[2 * i] or 0), max(int(raw[2 * i + 1]), 0) / 1000.0) for i in range(len(limits))]
            except redis.RedisError:
                counts = None
        if counts is None:
            now = time.monotonic()
            with self._lock:
                counts = [(c, end - now) for c, end in (self._local_get(n, now) for n, _ in limits)]
        for (count, left), (_, most) in zip(counts, limits, strict=True):
            if count >= most:
                waits.append(max(left, 1.0))
        return max(waits) if waits else None

    def record(self, names: list[str]) -> None:
        """One more failure for each of ``names``."""
        if self._r is not None:
            try:
                pipe = self._r.pipeline(transaction=False)
                for name in names:
                    pipe.set(self._prefix + name, 0, px=int(self.window_s * 1000), nx=True)
                    pipe.incr(self._prefix + name)
                pipe.execute()
                return
            except redis.RedisError:
                pass
        now = time.monotonic()
        with self._lock:
            if len(self._local) >= self._max_local:
                self._local = {k: v for k, v in self._local.items() if v[1] > now}
                if len(self._local) >= self._max_local:
                    self._local.clear()
            for name in names:
                count, end = self._local_get(name, now)
                self._local[name] = (count + 1, end)

    def reset(self, names: list[str]) -> None:
        if self._r is not None:
            with contextlib.suppress(redis.RedisError):
                self._r.delete(*(self._prefix + n for n in names))
        with self._lock:
            for n in names:
                self._local.pop(n, None)
