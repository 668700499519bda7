"""The replay evaluation's figures (models/evaluation_replay.py) on four trades that can be checked by hand.

Trades (all 10 contracts), in time order:

====  =====  =========  ======
id    hour   execution  parlay
====  =====  =========  ======
t1    00:10  0.30       lost
t2    00:40  0.50       won
t3    01:20  0.20       lost
t4    03:05  0.60       lost
====  =====  =========  ======

Strategy Q quotes t1 0.25, t2 0.50 (equal to the execution price: taken), t3 0.21 (above it: not taken), t4
refused. It takes t1 and t2: premium 2.50 + 5.00 = 7.50, payout 10 (t2 won), net −2.50. Cumulative
premium − payout: +2.50, −2.50 → drawdown from the peak 2.50 is 5.00 = capital; ROI −0.5. Both fills fall in
hour 00:00 → one hourly return: no Sharpe. Win rate ½. Brier ((0.25 − 0)² + (0.50 − 1)²) / 2 = 0.15625.

Kalshi's execution takes all four: premium 3 + 5 + 2 + 6 = 16, payout 10, net 6. Cumulative +3, −2, 0, +6:
peak 3, low −2 → capital 5; ROI 1.2. Hourly P&L over 00:00 … 03:00: −2, +2, 0, +6 → mean 1.5, sd
√((12.25 + 0.25 + 2.25 + 20.25) / 3) = √(35/3) → Sharpe 1.5 / 3.41565 = 0.43916.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from models.evaluation_replay import (
    ReplayTrade,
    accepts,
    book_losses,
    evaluate_strategy,
    fills_of,
    mean_and_2se,
)

D = Decimal


def at(h: int, m: int) -> datetime:
    return datetime(2026, 3, 8, h, m, tzinfo=UTC)


TRADES = [
    ReplayTrade("t1", at(0, 10), (("A", "yes"), ("B", "yes")), D("0.30"), D(10), False),
    ReplayTrade("t2", at(0, 40), (("A", "yes"), ("C", "yes")), D("0.50"), D(10), True),
    ReplayTrade("t3", at(1, 20), (("B", "yes"), ("C", "no")), D("0.20"), D(10), False),
    ReplayTrade("t4", at(3, 5), (("A", "no"), ("C", "yes")), D("0.60"), D(10), False),
]
Q = {"t1": D("0.25"), "t2": D("0.50"), "t3": D("0.21"), "t4": None}


def test_acceptance_is_at_or_below_the_execution_price() -> None:
    assert accepts(D("0.50"), D("0.50"))  # equal: taken (the rule is ≤, not <)
    assert not accepts(D("0.5001"), D("0.50"))
    assert not accepts(None, D("0.50"))
    assert [f.trade.trade_id for f in fills_of(TRADES, Q)] == ["t1", "t2"]


def test_a_strategy_row_by_hand() -> None:
    r = evaluate_strategy("q", TRADES, Q)
    assert (r.trades, r.accepted) == (4, 2)
    assert (r.premium, r.payout, r.net_pnl, r.capital) == (D("7.50"), D("10.00"), D("-2.50"), D("5.00"))
    assert r.roi == pytest.approx(-0.5)
    assert r.win_rate == pytest.approx(0.5)
    assert r.brier == pytest.approx(0.15625)
    assert r.sharpe is None  # one hour of returns


def test_the_execution_price_takes_every_trade() -> None:
    r = evaluate_strategy("kalshi_execution", TRADES, {t.trade_id: t.price for t in TRADES})
    assert r.accepted == r.trades == 4
    assert (r.premium, r.payout, r.net_pnl, r.capital) == (D("16.00"), D("10.00"), D("6.00"), D("5.00"))
    assert r.roi == pytest.approx(1.2)
    assert r.win_rate == pytest.approx(0.75)
    assert r.sharpe == pytest.approx(1.5 / math.sqrt(35 / 3), rel=1e-9)
    assert r.net_pnl == r.premium - r.payout


def test_capital_given_and_per_book_losses() -> None:
    fills = fills_of(TRADES, {t.trade_id: t.price for t in TRADES})
    # books: t1, t2 on combo X (premium 8, payout 10: loss 2); t3, t4 on Y (premium 8, payout 0: no loss)
    assert book_losses(fills, {"t1": "X", "t2": "X", "t3": "Y", "t4": "Y"}) == D(2)
    r = evaluate_strategy("full_amm", TRADES, {t.trade_id: t.price for t in TRADES}, capital=D(2))
    assert r.capital == D("2.00") and r.roi == pytest.approx(3.0)


def test_nothing_accepted_and_mean_with_two_standard_errors() -> None:
    r = evaluate_strategy("none", TRADES, {})
    assert r.accepted == 0 and r.net_pnl == 0 and r.roi is None and r.win_rate is None and r.brier is None
    mean, se2, n = mean_and_2se([1.0, 2.0, 3.0, None])
    assert (mean, n) == (2.0, 3) and se2 == pytest.approx(2 * 1.0 / math.sqrt(3))
    assert mean_and_2se([None]) == (None, None, 0)
