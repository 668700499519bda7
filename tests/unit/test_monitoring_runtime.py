"""Hourly P&L of a hand-built day: bets and hedges marked to the mids, realized at their markets' close."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from parlay.monitoring_runtime import Bet, DayBook, Position, pnl_frame


def _t(h: int, m: int = 0) -> datetime:
    return datetime(2026, 3, 7, h, m, tzinfo=UTC) if h < 24 else datetime(2026, 3, 8, h - 24, m, tzinfo=UTC)


def _book() -> DayBook:
    mids = pd.DataFrame(
        [("A", _t(21), 0.5), ("B", _t(21), 0.5), ("A", _t(22), 0.6)], columns=["market_ticker", "ts", "mid"]
    )
    mids["ts"] = pd.to_datetime(mids["ts"], utc=True)
    bets = [
        Bet("b1", Decimal(10), Decimal(40), "lost", 0.25, (("A", "yes"), ("B", "yes")), "G1"),
        Bet("b2", Decimal(10), Decimal(20), "won", 0.5, (("A", "yes"),), "G1"),
    ]
    hedge = Position("A", "yes", Decimal(5), Decimal("2.5"), Decimal("0.1"), "G1")
    return DayBook(
        date(2026, 3, 7),
        _t(21, 59),
        _t(20),
        _t(23, 30),
        bets,
        [hedge],
        {"A": _t(22, 30), "B": _t(23, 30)},
        {"A": "yes", "B": "no"},
        {"A": "G1", "B": "G1"},
        mids,
    )


def test_hourly_pnl_marks_then_realizes() -> None:
    frame = pnl_frame(_book())
    total = frame[frame["cluster_id"] == "total"].set_index(["hour", "component"])
    assert sorted({h.hour for h in frame["hour"]}) == [0, 20, 21, 22, 23]  # 20:00 … ceil(23:30)
    assert total.loc[(_t(21), "bets"), "total"] == 0  # before the hedge instant nothing is placed
    # 22:00: A moved 0.5 → 0.6, both bets re-marked ×1.2: 10 − 40·0.30 and 10 − 20·0.60; hedge 5·0.6 − 2.6
    assert total.loc[(_t(22), "bets"), "unrealized"] == pytest.approx(-4.0)
    assert total.loc[(_t(22), "hedges"), "unrealized"] == pytest.approx(0.4)
    # 23:00: A closed YES — b2 won (−10 realized), b1 needs only B (0.5): 10 − 40·0.5; the hedge paid 5 − 2.6
    assert total.loc[(_t(23), "bets"), "realized"] == pytest.approx(-10.0)
    assert total.loc[(_t(23), "bets"), "unrealized"] == pytest.approx(-10.0)
    assert total.loc[(_t(23), "hedges"), "realized"] == pytest.approx(2.4)
    # midnight: B closed NO, b1 lost (+10): every bet and hedge realized
    end = total.loc[(_t(24), "book")]
    assert (end["realized"], end["unrealized"]) == (pytest.approx(2.4), 0)
    assert set(frame["cluster_id"]) == {"G1", "total"}
