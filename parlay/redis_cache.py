"""Redis for the quote service: where it is, a private server when none is configured, and a JSON cache.

``PARLAY_REDIS_URL`` names a Redis the operator runs. Unset, :func:`resolve_redis` starts (or reuses) a
private ``redis-server`` under ``.data/redis``: bound to 127.0.0.1 on a free port, password-protected,
nothing kept on disk (``--save "" --appendonly no``). Its port and password live in
``.data/redis/state.json`` (mode 0600) so later processes reuse the same server; ``parlay``'s
:func:`stop_private_redis` stops it. When neither works, :func:`resolve_redis` says why and the caller
runs without the features Redis carries (rate limiting, cache).

Passwords never leave this module except inside the client: :func:`redact_url` is what logs show.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import redis

from parlay.config import data_dir

CONFIGURED = "configured"  # PARLAY_REDIS_URL
PRIVATE = "private"  # a redis-server this project started under .data/redis
OFF = "off"  # no Redis: features that need it are off

SOCKET_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class RedisTarget:
    """Where Redis is (``url`` None when mode is OFF) and, for OFF, why."""

    mode: str
    url: str | None
    reason: str = ""

    @property
    def display(self) -> str:
        return redact_url(self.url) if self.url else "none"


def configured_redis_url() -> str | None:
    value = os.environ.get("PARLAY_REDIS_URL")
    return value or None


def redact_url(url: str) -> str:
    """``redis://host:port/db`` without user or password."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    path = parts.path if parts.path not in ("", "/") else "/0"
    return f"{parts.scheme}://{host}{port}{path}"


def client(url: str, *, timeout_s: float = SOCKET_TIMEOUT_S) -> redis.Redis:
    """A client that fails fast when Redis is away (no retries: callers decide what degraded means)."""
    return redis.Redis.from_url(
        url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry_on_timeout=False,
        health_check_interval=0,
    )


def ping(url: str, timeout_s: float = SOCKET_TIMEOUT_S) -> str | None:
    """None when Redis answers PING, else the error (without credentials)."""
    c = client(url, timeout_s=timeout_s)
    try:
        c.ping()
        return None
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        c.close()


# ----------------------------------------------------------------------------- private server


def redis_dir() -> Path:
    path = data_dir() / "redis"
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _state_file() -> Path:
    return redis_dir() / "state.json"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _url(port: int, password: str, db: int = 0) -> str:
    return f"redis://:{password}@127.0.0.1:{port}/{db}"


def _read_state() -> dict[str, object] | None:
    try:
        state = json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def start_private_redis(binary: str | None = None, wait_s: float = 5.0) -> str:
    """Start a private redis-server under ``.data/redis`` (or reuse the running one); return its URL.

    Raises RuntimeError when there is no binary or the server does not come up."""
    state = _read_state()
    if state is not None:
        url = _url(int(state["port"]), str(state["password"]))  # type: ignore[call-overload]
        if ping(url) is None:
            return url
    exe = binary or shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("no redis-server binary on PATH")
    folder = redis_dir()
    password = secrets.token_urlsafe(24)
    port = _free_port()
    conf = folder / "redis.conf"
    # the password goes into a 0600 config file, not onto the command line (visible in ps)
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(
            f"port {port}\nbind 127.0.0.1\nprotected-mode yes\nrequirepass {password}\n"
            f'save ""\nappendonly no\ndir "{folder}"\ndaemonize yes\n'
            f'pidfile "{folder / "redis.pid"}"\nlogfile "{folder / "redis.log"}"\n'
        )
    result = subprocess.run([exe, str(conf)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"redis-server did not start: {(result.stderr or result.stdout).strip()[:300]}")
    url = _url(port, password)
    deadline = time.monotonic() + wait_s
    error = ping(url)
    while error is not None and time.monotonic() < deadline:
        time.sleep(0.05)
        error = ping(url)
    if error is not None:
        raise RuntimeError(f"redis-server started but does not answer on 127.0.0.1:{port} ({error}); "
                           f"see {folder / 'redis.log'}")
    fd = os.open(_state_file(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"port": port, "password": password}, f)
    return url


def private_redis_url() -> str | None:
    """The URL of the private server this project started, if its state file exists."""
    state = _read_state()
    if state is None:
        return None
    return _url(int(state["port"]), str(state["password"]))  # type: ignore[call-overload]


def stop_private_redis() -> bool:
    """Stop the private server if it runs; True when one was stopped."""
    state = _read_state()
    if state is None:
        return False
    url = _url(int(state["port"]), str(state["password"]))  # type: ignore[call-overload]
    c = client(url)
    try:
        c.shutdown(nosave=True)
    except redis.ConnectionError:
        pass  # shutdown closes the connection under us, or it was not running
    except redis.RedisError:
        return False
    finally:
        c.close()
    _state_file().unlink(missing_ok=True)
    return True


def resolve_redis(url: str | None = None, *, start_private: bool = True) -> RedisTarget:
    """The Redis to use: ``url``, else PARLAY_REDIS_URL, else a private server, else OFF (with the reason)."""
    chosen = url or configured_redis_url()
    if chosen:
        return RedisTarget(CONFIGURED, chosen)
    if not start_private:
        return RedisTarget(OFF, None, "PARLAY_REDIS_URL is unset and starting a private redis-server is disabled")
    try:
        return RedisTarget(PRIVATE, start_private_redis())
    except (RuntimeError, OSError) as exc:
        return RedisTarget(OFF, None, f"PARLAY_REDIS_URL is unset and no private redis-server could start: {exc}")


# ----------------------------------------------------------------------------- cache


class JsonCache:
    """Bytes under ``<prefix>cache:<name>`` with a TTL. A Redis error is a miss (the cache is optional);
    ``errors`` counts them and ``last_error`` says the latest, for health reporting."""

    def __init__(self, conn: redis.Redis, prefix: str, ttl_s: float,
                 on_error: Callable[[Exception], None] | None = None) -> None:
        self._r = conn
        self._prefix = prefix + "cache:"
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._on_error = on_error
        self.errors = 0
        self.last_error: str | None = None

    def _fail(self, exc: Exception) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self._on_error is not None:
            self._on_error(exc)

    def get(self, name: str) -> bytes | None:
        try:
            value = self._r.get(self._prefix + name)
        except redis.RedisError as exc:
            self._fail(exc)
            return None
        return value if isinstance(value, bytes) else None

    def set(self, name: str, value: bytes) -> None:
        try:
            self._r.set(self._prefix + name, value, px=self._ttl_ms)
        except redis.RedisError as exc:
            self._fail(exc)


def delete_prefix(conn: redis.Redis, prefix: str) -> int:
    """Delete every key starting with ``prefix`` (for tests and clean shutdowns of private state)."""
    deleted = 0
    batch: list[bytes] = []
    for key in conn.scan_iter(match=prefix.replace("*", r"\*") + "*", count=500):
        batch.append(key)
        if len(batch) >= 500:
            deleted += int(conn.delete(*batch))
            batch.clear()
    if batch:
        deleted += int(conn.delete(*batch))
    return deleted
