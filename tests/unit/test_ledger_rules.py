"""Ledger postings always balance, and settling every bet leaves nothing reserved."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import ledger_rules as L

money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000"), places=2)


@settings(max_examples=200, deadline=None)
@given(
    deposit=money,
    bets=st.lists(st.tuples(money, st.decimals(Decimal("1.01"), Decimal("50"), places=2),
                            st.sampled_from(["won", "lost", "void"])), max_size=30),
)
def test_every_event_balances_and_settlement_releases_everything(deposit, bets) -> None:
    balances: dict[str, Decimal] = defaultdict(Decimal)

    def post(postings: list[L.Posting]) -> None:
        assert sum(p.amount for p in postings) == 0
        for p in postings:
            balances[p.account] += p.amount

    post(L.deposit(deposit))
    for i, (stake, odds, outcome) in enumerate(bets):
        payout = (stake * odds).quantize(Decimal("0.01"))
        if payout <= stake:
            continue
        post(L.bet_placed(str(i), stake, payout))
        post(L.bet_settled(str(i), stake, payout, outcome))
    assert balances[L.STAKES] == 0 and balances[L.POOL_RESERVE] == 0
    assert all(v == 0 for k, v in balances.items() if k.startswith("liability:"))
    # cash = deposit + premium − payouts beyond stakes
    assert balances[L.POOL_CASH] == deposit - balances[L.PREMIUM] - balances[L.PAYOUTS]
    assert sum(balances.values()) == 0


def test_hedge_round_trip() -> None:
    buy = L.hedge_filled("M", "yes", "buy", Decimal(10), Decimal("0.40"), Decimal("0.17"))
    sell = L.hedge_filled("M", "yes", "sell", Decimal(4), Decimal("0.50"), Decimal(0), cost_basis=Decimal("1.60"))
    settle = L.hedge_settled("M", "yes", Decimal(6), Decimal("2.40"), won=True)
    total: dict[str, Decimal] = defaultdict(Decimal)
    for p in [*buy, *sell, *settle]:
        total[p.account] += p.amount
    assert total[L.hedge_account("M", "yes")] == 0
    # paid 4.00 + 0.17 fee, got 2.00 + 6.00 → +3.83 of cash; P&L 4.00 gain booked as credit
    assert total[L.POOL_CASH] == Decimal("3.83") and total[L.HEDGE_PNL] == Decimal("-4.00")


def test_invalid_events_are_refused() -> None:
    with pytest.raises(ValueError, match="must exceed stake"):
        L.bet_placed("b", Decimal(10), Decimal(10))
    with pytest.raises(ValueError, match="positive"):
        L.deposit(Decimal(0))
    with pytest.raises(ValueError, match="unknown outcome"):
        L.bet_settled("b", Decimal(1), Decimal(2), "maybe")
    assert L.account_kind("liability:x") == "bet_liability" and L.account_kind("hedge:M:yes") == "hedge_positions"
