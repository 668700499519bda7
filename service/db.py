"""A small thread-safe pool of psycopg connections for the service's request threads.

Every connection runs with ``statement_timeout`` (and ``idle_in_transaction_session_timeout``) set, and
taking one from the pool waits at most ``timeout_s``. Connections are in autocommit mode by default (a
single statement is one round trip; multi-statement work opens ``conn.transaction()``). A connection goes
back to the pool only when it is healthy and outside a transaction; a broken one is dropped and replaced
on the next checkout. Failing to reach the server raises :class:`DatabaseUnavailable`, which the API
answers with 503.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import pq

from parlay.db.connection import redact


class DatabaseUnavailable(RuntimeError):
    pass


def _ms(seconds: float | None) -> str:
    """A Postgres duration setting: whole milliseconds, ``0`` (off) for None."""
    return "0" if seconds is None else f"{max(1, round(seconds * 1000))}ms"


class ConnectionPool:
    def __init__(
        self,
        url: str,
        size: int = 10,
        timeout_s: float = 10.0,
        connect_timeout_s: int = 5,
        autocommit: bool = True,
        statement_timeout_s: float | None = None,
        idle_in_transaction_timeout_s: float | None = 60.0,
    ) -> None:
        self._url = url
        self._autocommit = autocommit
        self._statement_timeout_s = statement_timeout_s
        self._idle_tx_timeout_s = idle_in_transaction_timeout_s
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def display_url(self) -> str:
        return redact(self._url)

    def _open(self) -> psycopg.Connection:
        try:
            conn = psycopg.connect(self._url, connect_timeout=self._connect_timeout_s, autocommit=self._autocommit)
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DatabaseUnavailable(f"cannot connect to {self.display_url}: {first}") from None
        try:
            # every statement of the service is bounded on the server: a blocked one is canceled
            # (QueryCanceled, answered 503) instead of holding a request and a connection
            conn.execute(
                "SELECT set_config('statement_timeout', %s, false), "
                "set_config('idle_in_transaction_session_timeout', %s, false)",
                (_ms(self._statement_timeout_s), _ms(self._idle_tx_timeout_s)),
            )
            if not self._autocommit:
                conn.commit()
        except psycopg.Error as exc:
            conn.close()
            raise DatabaseUnavailable(
                f"cannot set up a connection to {self.display_url}: {type(exc).__name__}"
            ) from None
        return conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection for one unit of work; a transaction left open is rolled back on return."""
        if self._closed:
            raise DatabaseUnavailable("the connection pool is closed")
        if not self._slots.acquire(timeout=self._timeout_s):
            raise DatabaseUnavailable(f"no database connection free within {self._timeout_s:g} s")
        conn: psycopg.Connection | None = None
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = self._open()
            try:
                yield conn
            except psycopg.OperationalError as exc:
                if conn.broken or conn.closed:
                    raise DatabaseUnavailable(f"lost the database connection: {type(exc).__name__}") from exc
                raise
        finally:
            if conn is not None:
                self._give_back(conn)
            self._slots.release()

    def _give_back(self, conn: psycopg.Connection) -> None:
        if conn.closed or conn.broken or self._closed:
            conn.close()
            return
        try:
            if conn.info.transaction_status != pq.TransactionStatus.IDLE:
                conn.rollback()
        except psycopg.Error:
            conn.close()
            return
        with self._lock:
            self._idle.append(conn)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()
