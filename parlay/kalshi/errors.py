"""Exceptions raised by the Kalshi REST client.

Every error names the endpoint (``METHOD /path``, never the query string, headers or body) and, for
HTTP errors, the status and the server's own code and message. No error ever carries a key id, a
private key, a signature or a request header.

Hierarchy::

    KalshiError
    ├── KalshiConfigError          bad or missing configuration (key file, environment, prod opt-in)
    ├── KalshiAuthError            a signed endpoint called without credentials
    │   └── KalshiUnauthorized     HTTP 401 / 403 (also a KalshiHTTPError)
    ├── KalshiTransportError       timeout, refused or dropped connection (no HTTP status)
    ├── KalshiHTTPError            any non-2xx answer
    │   ├── KalshiRateLimited      429
    │   ├── KalshiServerError      5xx and 408
    │   ├── KalshiNotFound         404
    │   └── KalshiConflict         409 (e.g. a duplicate client_order_id)
    ├── KalshiBadResponse          a 2xx answer that is not the JSON we expect
    │   └── KalshiPaginationError  a cursor that repeats
    └── KalshiRetriesExhausted     the retry budget ran out; ``last_error`` holds the final failure
"""

from __future__ import annotations

_MAX_SERVER_TEXT = 300


def _clip(text: str | None, limit: int = _MAX_SERVER_TEXT) -> str | None:
    if text is None:
        return None
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class KalshiError(Exception):
    """Base class of every Kalshi client error."""


class KalshiConfigError(KalshiError):
    """The client is misconfigured (unreadable key, unknown environment, production without opt-in)."""


class KalshiAuthError(KalshiError):
    """A signed endpoint was called without credentials, or the server refused them."""


class KalshiTransportError(KalshiError):
    """No HTTP answer: ``kind`` is ``timeout``, ``connect`` (the request never left) or ``network``."""

    def __init__(self, endpoint: str, kind: str, detail: str) -> None:
        self.endpoint = endpoint
        self.kind = kind
        self.detail = _clip(detail) or ""
        super().__init__(f"{endpoint}: {kind} ({self.detail})")

    @property
    def request_was_sent(self) -> bool:
        """False only when the connection was never made, so the server cannot have acted."""
        return self.kind != "connect"


class KalshiHTTPError(KalshiError):
    """A non-2xx answer. ``code`` / ``server_message`` come from Kalshi's error body when present."""

    def __init__(
        self,
        endpoint: str,
        status: int,
        code: str | None = None,
        server_message: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.server_message = _clip(server_message)
        parts = [f"{endpoint}: HTTP {status}"]
        if code:
            parts.append(f"[{code}]")
        if self.server_message:
            parts.append(self.server_message)
        super().__init__(" ".join(parts))


class KalshiRateLimited(KalshiHTTPError):
    """HTTP 429. Kalshi sends no Retry-After header; the client backs off by itself."""


class KalshiServerError(KalshiHTTPError):
    """HTTP 5xx or 408: the outcome of a write is unknown."""


class KalshiNotFound(KalshiHTTPError):
    """HTTP 404."""


class KalshiConflict(KalshiHTTPError):
    """HTTP 409, e.g. an order whose ``client_order_id`` is already in use."""


class KalshiUnauthorized(KalshiHTTPError, KalshiAuthError):
    """HTTP 401 / 403: credentials missing, wrong, or the signature did not verify."""


class KalshiBadResponse(KalshiError):
    """A 2xx answer we cannot use. ``reason`` is a short rule name (``malformed_json``,
    ``unexpected_shape``, a :class:`~parlay.kalshi.normalize.PayloadError` reason, …);
    ``payload`` is the offending text, clipped (it never contains request headers)."""

    def __init__(self, endpoint: str, reason: str, detail: str, payload: str = "") -> None:
        self.endpoint = endpoint
        self.reason = reason
        self.detail = detail
        self.payload = payload[:2000]
        super().__init__(f"{endpoint}: {reason}: {_clip(detail)}")


class KalshiPaginationError(KalshiBadResponse):
    """The server handed back a cursor it had already given: following it would loop forever."""


class KalshiRetriesExhausted(KalshiError):
    """Every attempt failed with a retryable error."""

    def __init__(self, endpoint: str, attempts: int, last_error: KalshiError) -> None:
        self.endpoint = endpoint
        self.attempts = attempts
        self.last_error = last_error
        super().__init__(f"{endpoint}: gave up after {attempts} attempts; last error: {last_error}")
