"""API-key authentication with a short in-process cache.

Verifying a key means a scrypt hash (tens of milliseconds by design), so a key verified once is
remembered for ``ttl_s`` seconds: the cache maps a SHA-256 digest of the presented key (never the key
itself) to its record. A revoked key therefore stops working within ``ttl_s``. Failed attempts are not
cached.
"""

from __future__ import annotations

import hashlib
import threading
import time

from parlay.apikeys import ApiKeyRecord, authenticate, split_key
from service.db import ConnectionPool
from service.errors import ApiError


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
    def __init__(self, pool: ConnectionPool, ttl_s: float, max_entries: int = 10_000) -> None:
        self._pool = pool
        self._ttl_s = ttl_s
        self._max = max_entries
        self._cache: dict[bytes, tuple[float, ApiKeyRecord]] = {}
        self._lock = threading.Lock()

    def verify(self, api_key: str | None) -> ApiKeyRecord:
        """The key's record, or :class:`ApiError` 401."""
        if not api_key:
            raise ApiError(401, "missing_api_key", "send your API key in the X-API-Key header "
                                                   "(or Authorization: Bearer <key>)",
                           headers={"WWW-Authenticate": "Bearer"})
        digest = hashlib.sha256(api_key.encode("utf-8", "replace")).digest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        if split_key(api_key) is None:
            raise self._invalid()
        with self._pool.connection() as conn:
            record = authenticate(conn, api_key)
        if record is None:
            with self._lock:
                self._cache.pop(digest, None)
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
        return ApiError(401, "invalid_api_key", "the API key is unknown, revoked or malformed",
                        headers={"WWW-Authenticate": "Bearer"})
