"""API-key authentication with a short in-process cache of verified secrets.

Verifying a key means a scrypt hash (tens of milliseconds by design), so a secret verified once is
remembered for ``ttl_s`` seconds: the cache maps a SHA-256 digest of the presented key (never the key
itself) to its key id. The cache only spares the hash: every request still reads the key's row (one
primary-key lookup), so a revoked key stops working on its next request and a changed rate applies at
once. Failed attempts are not cached.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time

from parlay.apikeys import ApiKeyRecord, authenticate, current_record, dummy_hash, split_key
from service.db import ConnectionPool
from service.errors import ApiError
from service.ratelimit import FailureCounter


def key_from_headers(x_api_keys: list[str], authorizations: list[str]) -> str | None:
    """The one key a request presents, from all its ``X-API-Key`` and ``Authorization`` headers. More than
    one ``X-API-Key`` or ``Authorization`` header, or the two naming different keys, is refused (401):
    which key would count is then a guess, and a proxy or cache may guess differently."""
    if len(x_api_keys) > 1 or len(authorizations) > 1:
        raise ApiError(
            401,
            "invalid_api_key",
            "send exactly one key: one X-API-Key header or one Authorization header",
            headers={"WWW-Authenticate": "Bearer"},
        )
    x_key = presented_key(x_api_keys[0] if x_api_keys else None, None)
    bearer = presented_key(None, authorizations[0] if authorizations else None)
    if x_key and bearer and x_key != bearer:
        raise ApiError(
            401,
            "invalid_api_key",
            "X-API-Key and Authorization name different keys: send one",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return x_key or bearer


def presented_key(x_api_key: str | None, authorization: str | None) -> str | None:
    """The key from ``X-API-Key`` or ``Authorization: Bearer <key>``."""
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


class Authenticator:
    """Verifies keys. Failed attempts are counted per key id and per client address (``failures``); once
    either reaches its limit within the window, requests are refused with 429 before anything is hashed."""

    def __init__(
        self,
        pool: ConnectionPool,
        ttl_s: float,
        max_entries: int = 10_000,
        *,
        failures: FailureCounter | None = None,
        max_failures_per_key: int = 10,
        max_failures_per_client: int = 30,
    ) -> None:
        self._pool = pool
        self._ttl_s = ttl_s
        self._max = max_entries
        self._cache: dict[bytes, tuple[float, ApiKeyRecord]] = {}
        self._lock = threading.Lock()
        self._failures = failures if failures is not None else FailureCounter(None, "", 60.0)
        self._per_key = max_failures_per_key
        self._per_client = max_failures_per_client
        dummy_hash()  # computed now, not on the first unknown key

    def verify(self, api_key: str | None, client: str | None = None) -> ApiKeyRecord:
        """The key's record, or :class:`ApiError` 401 (429 while its id or ``client`` is throttled)."""
        if not api_key:
            raise ApiError(
                401,
                "missing_api_key",
                "send your API key in the X-API-Key header (or Authorization: Bearer <key>)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        digest = hashlib.sha256(api_key.encode("utf-8", "replace")).digest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            with self._pool.connection() as conn:
                current = current_record(conn, hit[1].key_id)
            if current is not None and not current.revoked:
                return current
            with self._lock:
                self._cache.pop(digest, None)
            raise self._invalid()
        parts = split_key(api_key)
        names = [f"client:{client or 'unknown'}"]
        limits = [(names[0], self._per_client)]
        if parts is not None:
            names.append(f"key:{parts[0]}")
            limits.append((names[1], self._per_key))
        wait = self._failures.blocked(limits)
        if wait is not None:
            retry = str(max(1, math.ceil(wait)))
            raise ApiError(
                429,
                "rate_limited",
                f"too many failed authentications for this key or from this address; retry in {retry} s",
                headers={"Retry-After": retry},
            )
        if parts is None:
            self._failures.record(names)
            raise self._invalid()
        with self._pool.connection() as conn:
            record = authenticate(conn, api_key)
        if record is None:
            self._failures.record(names)
            raise self._invalid()
        with self._lock:
            if len(self._cache) >= self._max:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                if len(self._cache) >= self._max:
                    self._cache.clear()
            self._cache[digest] = (now + self._ttl_s, record)
        return record

    @staticmethod
    def _invalid() -> ApiError:
        return ApiError(
            401,
            "invalid_api_key",
            "the API key is unknown, revoked or malformed",
            headers={"WWW-Authenticate": "Bearer"},
        )
