"""API-key authentication with a short in-process cache of verified secrets.

Verifying a key means a scrypt hash (tens of milliseconds by design), so a secret verified once is
remembered for ``ttl_s`` seconds: the cache maps a SHA-256 digest of the presented key (never the key
itself) to its key id. The cache only spares the hash: every request still reads the key's row (one
primary-key lookup), so a revoked key stops working on its next request and a changed rate applies at
once. Failed attempts are not cached.
"""

from __future__ import annotations

import hashlib
import threading
import time

from parlay.apikeys import ApiKeyRecord, authenticate, current_record, split_key
from service.db import ConnectionPool
from service.errors import ApiError


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
    def __init__(self, pool: ConnectionPool, ttl_s: float, max_entries: int = 10_000) -> None:
        self._pool = pool
        self._ttl_s = ttl_s
        self._max = max_entries
        self._cache: dict[bytes, tuple[float, ApiKeyRecord]] = {}
        self._lock = threading.Lock()

    def verify(self, api_key: str | None) -> ApiKeyRecord:
        """The key's record, or :class:`ApiError` 401."""
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
        return ApiError(
            401,
            "invalid_api_key",
            "the API key is unknown, revoked or malformed",
            headers={"WWW-Authenticate": "Bearer"},
        )
