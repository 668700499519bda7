"""RSA-PSS request signing for Kalshi's Trade API v2.

A signed request carries three headers:

* ``KALSHI-ACCESS-KEY``: the API key id;
* ``KALSHI-ACCESS-TIMESTAMP``: milliseconds since the Unix epoch, as a decimal string;
* ``KALSHI-ACCESS-SIGNATURE``: base64 of RSA-PSS(SHA-256, MGF1-SHA-256, salt length = 32 bytes,
  the digest length) over ``timestamp + METHOD + path``, where ``path`` starts at ``/trade-api/v2/``
  and excludes the query string.

The private key is held only inside :class:`KalshiSigner`; its ``repr``/``str`` show a masked key id
and never the key. Environment variables are read by :func:`signer_from_env` when it is called, never
at import.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from parlay.kalshi.errors import KalshiConfigError

API_PREFIX = "/trade-api/v2"

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"

ENV_KEY_ID = "KALSHI_API_KEY_ID"
ENV_KEY_PATH = "KALSHI_PRIVATE_KEY_PATH"
ENV_KEY_PEM = "KALSHI_PRIVATE_KEY_PEM"


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def pss_padding() -> padding.PSS:
    """The padding Kalshi verifies: MGF1(SHA-256) with a salt as long as the SHA-256 digest."""
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def signing_path(url_or_path: str) -> str:
    """The path part that is signed: no scheme/host, no query string, no fragment.

    ``https://host/trade-api/v2/portfolio/orders?limit=5`` → ``/trade-api/v2/portfolio/orders``.
    A path given relative to the API root (``/portfolio/orders``) gets the ``/trade-api/v2`` prefix.
    """
    path = urlsplit(url_or_path).path or "/"
    if not path.startswith(API_PREFIX + "/") and path != API_PREFIX:
        path = API_PREFIX + (path if path.startswith("/") else "/" + path)
    return path


def signing_message(timestamp_ms: int | str, method: str, path: str) -> bytes:
    """``timestamp + METHOD + path`` as bytes (path as returned by :func:`signing_path`)."""
    return f"{timestamp_ms}{method.upper()}{signing_path(path)}".encode()


def _mask(key_id: str) -> str:
    return (key_id[:4] + "…") if len(key_id) > 4 else "…"


def load_private_key(pem: str | bytes, password: bytes | None = None) -> rsa.RSAPrivateKey:
    """Parse an RSA private key from PEM text. Errors never quote the key material."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KalshiConfigError(f"could not load the Kalshi private key ({type(exc).__name__})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KalshiConfigError(f"the Kalshi private key must be RSA, got {type(key).__name__}")
    return key


class KalshiSigner:
    """Signs requests with one API key. Thread-safe (it holds no mutable state).

    ``clock_ms`` returns milliseconds since the epoch; inject it in tests.
    """

    __slots__ = ("_clock_ms", "_key", "key_id")

    def __init__(
        self,
        key_id: str,
        private_key: rsa.RSAPrivateKey,
        *,
        clock_ms: Callable[[], int] = _wall_clock_ms,
    ) -> None:
        if not key_id:
            raise KalshiConfigError("the Kalshi API key id is empty")
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise KalshiConfigError("the Kalshi private key must be an RSA private key")
        self.key_id = key_id
        self._key = private_key
        self._clock_ms = clock_ms

    @classmethod
    def from_pem(
        cls,
        key_id: str,
        pem: str | bytes,
        *,
        password: bytes | None = None,
        clock_ms: Callable[[], int] = _wall_clock_ms,
    ) -> KalshiSigner:
        return cls(key_id, load_private_key(pem, password), clock_ms=clock_ms)

    @classmethod
    def from_pem_file(
        cls,
        key_id: str,
        path: str | os.PathLike[str],
        *,
        password: bytes | None = None,
        clock_ms: Callable[[], int] = _wall_clock_ms,
    ) -> KalshiSigner:
        p = Path(path).expanduser()
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise KalshiConfigError(f"cannot read the Kalshi private key file {p} ({exc.strerror})") from None
        return cls(key_id, load_private_key(data, password), clock_ms=clock_ms)

    def public_key(self) -> rsa.RSAPublicKey:
        return self._key.public_key()

    def sign(self, message: bytes) -> str:
        """Base64 RSA-PSS/SHA-256 signature of ``message``."""
        raw = self._key.sign(message, pss_padding(), hashes.SHA256())
        return base64.b64encode(raw).decode("ascii")

    def headers(self, method: str, path: str, timestamp_ms: int | None = None) -> dict[str, str]:
        """The three auth headers for ``METHOD path`` (a URL or path; the query string is ignored)."""
        ts = str(self._clock_ms() if timestamp_ms is None else timestamp_ms)
        return {
            HEADER_KEY: self.key_id,
            HEADER_TIMESTAMP: ts,
            HEADER_SIGNATURE: self.sign(signing_message(ts, method, path)),
        }

    def __repr__(self) -> str:
        return f"KalshiSigner(key_id={_mask(self.key_id)!r})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("KalshiSigner holds a private key and cannot be pickled")


def signer_from_env(
    environ: Mapping[str, str] | None = None,
    *,
    clock_ms: Callable[[], int] = _wall_clock_ms,
) -> KalshiSigner | None:
    """A signer from ``KALSHI_API_KEY_ID`` plus ``KALSHI_PRIVATE_KEY_PEM`` (PEM text, wins) or
    ``KALSHI_PRIVATE_KEY_PATH`` (PEM file). ``None`` when no key id is configured; a key id without a
    key is a :class:`KalshiConfigError`."""
    env = os.environ if environ is None else environ
    key_id = (env.get(ENV_KEY_ID) or "").strip()
    if not key_id:
        return None
    pem = env.get(ENV_KEY_PEM) or ""
    if pem.strip():
        return KalshiSigner.from_pem(key_id, pem.replace("\\n", "\n"), clock_ms=clock_ms)
    path = (env.get(ENV_KEY_PATH) or "").strip()
    if path:
        return KalshiSigner.from_pem_file(key_id, path, clock_ms=clock_ms)
    raise KalshiConfigError(f"{ENV_KEY_ID} is set but neither {ENV_KEY_PEM} nor {ENV_KEY_PATH} is")
