"""Run the quote API with uvicorn: in the foreground (``parlay serve``) or in a background thread."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

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
        app, host=host, port=port, log_level="info" if access_log else "warning", access_log=access_log, lifespan="on"
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
