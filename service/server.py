"""Run the quote API with uvicorn: in the foreground (``parlay serve``) or in a background thread."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

# A full key (``pk_<12 hex>.<secret>``, the dot possibly percent-encoded), and the value of any query
# parameter whose name says it carries a credential.
_FULL_KEY = re.compile(r"(pk_[0-9a-f]{12})(?:\.|%2e)[A-Za-z0-9_%-]+", re.IGNORECASE)
_SECRET_PARAM = re.compile(
    r"([?&;](?:x[-_]?)?(?:api[-_]?key|apikey|key|token|access[-_]?token|secret|password|passwd|auth|"
    r"authorization|bearer|signature|sig)=)[^&;\s\"]*",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def redact_secrets(text: str) -> str:
    """``text`` with every API-key secret and every credential-named query parameter replaced by
    ``[redacted]`` (the public key id of a full key is kept for tracing)."""
    text = _FULL_KEY.sub(lambda m: f"{m.group(1)}.{REDACTED}", text)
    return _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and arguments through :func:`redact_secrets` before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_secrets(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact_secrets(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


REDACTED_LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn", "parlay.service")


def install_log_redaction() -> None:
    """Put :class:`RedactSecrets` on uvicorn's access and error loggers and the service's own (idempotent)."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


DEFAULT_MAX_HEADER_BYTES = 16_384


def header_limited_protocol(max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES) -> type[asyncio.Protocol] | None:
    """uvicorn's httptools protocol, counting the bytes of each request's head (request line and headers) as
    they arrive and answering 431 once they pass ``max_header_bytes``, before the rest is read; None when
    httptools is not installed (then h11 bounds the head, answering 400)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return None
    limit = max_header_bytes

    class HeaderLimitedProtocol(HttpToolsProtocol):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._in_head = True
            self._head_bytes = 0
            self._head_tail = b""

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                window = self._head_tail + data
                end = window.find(b"\r\n\r\n")
                if end == -1:
                    self._head_bytes += len(data)
                    self._head_tail = window[-3:]
                    if self._head_bytes > limit:
                        self._refuse_head()
                        return
                elif self._head_bytes - len(self._head_tail) + end + 4 > limit:
                    self._refuse_head()
                    return
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._in_head, self._head_bytes, self._head_tail = True, 0, b""

        def _refuse_head(self) -> None:
            body = json.dumps(
                {
                    "code": "headers_too_large",
                    "reason": f"the request line and headers exceed {limit} bytes",
                    "request_id": None,
                }
            ).encode()
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
                + b"content-length: "
                + str(len(body)).encode()
                + b"\r\nconnection: close\r\n\r\n"
                + body
            )
            self.transport.close()
            self._in_head = False

    return HeaderLimitedProtocol


def uvicorn_limits(app: FastAPI) -> dict[str, Any]:
    """The uvicorn options that bound a request's head by the app's ``max_header_bytes``."""
    runtime = getattr(app.state, "runtime", None)
    limit = getattr(getattr(runtime, "settings", None), "max_header_bytes", DEFAULT_MAX_HEADER_BYTES)
    protocol = header_limited_protocol(limit)
    options: dict[str, Any] = {"h11_max_incomplete_event_size": limit}
    if protocol is not None:
        options["http"] = protocol
    return options


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_in_thread(
    app: FastAPI, host: str = "127.0.0.1", port: int | None = None, timeout_s: float = 20.0, access_log: bool = False
) -> Iterator[str]:
    """Serve ``app`` on a real socket from a background thread; yield its base URL; stop it after.
    ``access_log`` turns uvicorn's access log on (at level info)."""
    port = port or free_port(host)
    config = uvicorn.Config(
        app,
        **uvicorn_limits(app),
        host=host,
        port=port,
        log_level="info" if access_log else "warning",
        access_log=access_log,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    install_log_redaction()
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"uvicorn did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
