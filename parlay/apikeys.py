"""API keys of the quote service, stored in ``ledger.api_keys``.

A key as the client holds it is ``<key_id>.<secret>``: ``key_id`` (``pk_`` + 12 hex digits) is public and
names the key in logs, rate limits and the ledger; ``secret`` (43 URL-safe characters, 256 bits) is shown
once when the key is created and never stored. The table keeps ``key_hash``: scrypt of the secret with a
per-key random salt, written as ``scrypt$<log2 n>$<r>$<p>$<salt, base64>$<hash, base64>`` so the cost can
be raised later without breaking existing keys. Verification recomputes the hash and compares in constant
time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

KEY_ID_PREFIX = "pk_"
KEY_PATTERN = re.compile(r"^(pk_[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$")
DEFAULT_RATE_PER_MIN = 120
MAX_RATE_PER_MIN = 1_000_000


@dataclass(frozen=True)
class ScryptParams:
    """scrypt cost: n = 2**log2_n, block size r, parallelism p (memory ≈ 128·r·n bytes: 16 MiB by default)."""

    log2_n: int = 14
    r: int = 8
    p: int = 1
    salt_bytes: int = 16
    dklen: int = 32

    def __post_init__(self) -> None:
        if not 1 <= self.log2_n <= 20 or self.r < 1 or self.p < 1:
            raise ValueError("scrypt needs 1 ≤ log2_n ≤ 20, r ≥ 1, p ≥ 1")


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    name: str
    rate_per_min: int
    revoked: bool


@dataclass(frozen=True)
class CreatedKey:
    """A new key. ``api_key`` is the only copy of the secret: show it to the owner once."""

    key_id: str
    name: str
    rate_per_min: int
    api_key: str = field(repr=False)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(secret: str, salt: bytes, log2_n: int, r: int, p: int, dklen: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=256 * r * n + (1 << 20))


def hash_secret(secret: str, params: ScryptParams | None = None, salt: bytes | None = None) -> str:
    """The stored form of a secret (a fresh random salt unless one is given)."""
    prm = params or ScryptParams()
    salt = salt if salt is not None else secrets.token_bytes(prm.salt_bytes)
    digest = _scrypt(secret, salt, prm.log2_n, prm.r, prm.p, prm.dklen)
    return f"scrypt${prm.log2_n}${prm.r}${prm.p}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    """True when ``secret`` hashes to ``stored``; False for any malformed stored value."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
        ScryptParams(log2_n=log2_n, r=r, p=p)
    except ValueError:
        return False
    if not expected:
        return False
    actual = _scrypt(secret, salt, log2_n, r, p, len(expected))
    return hmac.compare_digest(actual, expected)


def split_key(api_key: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed key, else None."""
    m = KEY_PATTERN.match(api_key)
    return (m.group(1), m.group(2)) if m else None


def generate_key() -> tuple[str, str]:
    """A new ``(key_id, api_key)``."""
    key_id = KEY_ID_PREFIX + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)  # 32 bytes → 43 characters
    return key_id, f"{key_id}.{secret}"


def create_api_key(
    conn: psycopg.Connection,
    name: str,
    rate_per_min: int = DEFAULT_RATE_PER_MIN,
    params: ScryptParams | None = None,
) -> CreatedKey:
    """Store a new key (hash only) and return it with its secret, which exists nowhere else."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ValueError("a key needs a name of 1 to 200 characters")
    if not 1 <= rate_per_min <= MAX_RATE_PER_MIN:
        raise ValueError(f"rate_per_min must be between 1 and {MAX_RATE_PER_MIN}")
    key_id, api_key = generate_key()
    parts = split_key(api_key)
    assert parts is not None
    with conn.transaction():
        conn.execute(
            "INSERT INTO ledger.api_keys (key_id, name, key_hash, rate_per_min) VALUES (%s, %s, %s, %s)",
            (key_id, name, hash_secret(parts[1], params), rate_per_min),
        )
    return CreatedKey(key_id, name, rate_per_min, api_key)


def lookup(conn: psycopg.Connection, key_id: str) -> tuple[ApiKeyRecord, str] | None:
    """The record and stored hash of ``key_id``."""
    row = conn.execute(
        "SELECT key_id, name, rate_per_min, revoked_at, key_hash FROM ledger.api_keys WHERE key_id = %s",
        (key_id,),
    ).fetchone()
    if row is None:
        return None
    return ApiKeyRecord(row[0], row[1], int(row[2]), row[3] is not None), row[4]


_DUMMY_HASH: list[str] = []


def dummy_hash() -> str:
    """A stored-form hash of a random secret, at the default cost: what an unknown key id is checked
    against, so that rejecting it takes as long as rejecting a wrong secret of a real key."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_secret(secrets.token_urlsafe(32)))
    return _DUMMY_HASH[0]


def authenticate(conn: psycopg.Connection, api_key: str) -> ApiKeyRecord | None:
    """The key's record when ``api_key`` is well formed, known, not revoked and its secret matches.

    A well-formed key always costs one scrypt hash, whether its id is known, unknown or revoked, so the
    time to refuse says nothing about which."""
    parts = split_key(api_key)
    if parts is None:
        return None
    found = lookup(conn, parts[0])
    matches = verify_secret(parts[1], found[1] if found is not None else dummy_hash())
    if found is None or found[0].revoked or not matches:
        return None
    return found[0]


@dataclass(frozen=True)
class ApiKeyInfo:
    """A stored key as ``parlay api-key list`` shows it: never the secret, never its hash."""

    key_id: str
    name: str
    rate_per_min: int
    created_at: datetime
    revoked_at: datetime | None


def list_keys(conn: psycopg.Connection, active_only: bool = False) -> list[ApiKeyInfo]:
    """Every stored key, oldest first (only the unrevoked ones with ``active_only``)."""
    rows = conn.execute(
        "SELECT key_id, name, rate_per_min, created_at, revoked_at FROM ledger.api_keys"
        + (" WHERE revoked_at IS NULL" if active_only else "")
        + " ORDER BY created_at, key_id"
    ).fetchall()
    return [ApiKeyInfo(r[0], r[1], int(r[2]), r[3], r[4]) for r in rows]


def current_record(conn: psycopg.Connection, key_id: str) -> ApiKeyRecord | None:
    """The key's record as stored now (name, rate, revocation), without its hash: one primary-key read."""
    row = conn.execute(
        "SELECT key_id, name, rate_per_min, revoked_at FROM ledger.api_keys WHERE key_id = %s", (key_id,)
    ).fetchone()
    if row is None:
        return None
    return ApiKeyRecord(row[0], row[1], int(row[2]), row[3] is not None)


def revoke(conn: psycopg.Connection, key_id: str, at: datetime | None = None) -> bool:
    """Revoke a key; False when it does not exist or was already revoked."""
    with conn.transaction():
        cur = conn.execute(
            "UPDATE ledger.api_keys SET revoked_at = coalesce(%s, now()) WHERE key_id = %s AND revoked_at IS NULL",
            (at, key_id),
        )
    return cur.rowcount == 1
