"""The LP pool series reads the day's equity marks (by marked_at) when there are some, else the ledger's cash."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import psycopg
import pytest

from parlay import ledger
from parlay.monitoring_runtime import DayBook, pool_frame

START = datetime(2026, 3, 7, 20, tzinfo=UTC)


def _empty_day() -> DayBook:
    return DayBook(
        date(2026, 3, 7),
        START + timedelta(hours=1),
        START,
        START + timedelta(hours=3),
        [],
        [],
        {},
        {},
        {},
        pd.DataFrame(columns=["market_ticker", "ts", "mid"]),
    )


def test_pool_from_ledger_cash_without_marks(conn: psycopg.Connection) -> None:
    ledger.deposit(conn, Decimal(1000), "seed")
    frame = pool_frame(conn, _empty_day())
    assert list(frame["source"].unique()) == ["ledger"]
    assert len(frame) == 4  # hourly, 20:00 … 23:00
    assert frame["cash"].tolist() == [1000.0] * 4 and frame["drawdown"].tolist() == [0.0] * 4


def test_pool_follows_the_days_equity_marks(conn: psycopg.Connection) -> None:
    ledger.deposit(conn, Decimal(1000), "seed")
    for at, equity in (
        (START - timedelta(days=2), 5000),
        (START + timedelta(minutes=30), 1000),
        (START + timedelta(hours=1), 900),
        (START + timedelta(hours=2), 950),
    ):
        conn.execute(
            "INSERT INTO ledger.equity_marks (marked_at, cash, expected_payout, hedge_value, equity, reason) "
            "VALUES (%s, 1000, 0, 0, %s, 'test')",
            (at, equity),
        )
    frame = pool_frame(conn, _empty_day())
    assert list(frame["source"].unique()) == ["equity_marks"]
    assert frame["equity"].tolist() == [1000.0, 900.0, 950.0]  # the mark two days before is not this day's
    assert frame["peak"].tolist() == [1000.0] * 3
    assert frame["drawdown"].tolist() == pytest.approx([0.0, 0.1, 0.05])
    assert frame["utilization"].tolist() == [0.0] * 3


def test_two_marks_at_one_instant_give_one_row_the_last_written(conn: psycopg.Connection) -> None:
    """A rebalance and the hourly mark can describe the same minute: one pool row, from the last mark."""
    ledger.deposit(conn, Decimal(1000), "seed")
    at = START + timedelta(hours=1)
    for equity in (980, 990):
        conn.execute(
            "INSERT INTO ledger.equity_marks (marked_at, cash, expected_payout, hedge_value, equity, reason) "
            "VALUES (%s, 1000, 0, 0, %s, 'test')",
            (at, equity),
        )
    frame = pool_frame(conn, _empty_day())
    assert frame["equity"].tolist() == [990.0]
