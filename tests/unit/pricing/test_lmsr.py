"""LMSR identities: price is the cost gradient, move costs, and the worst-case loss bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.pricing import LMSRBook, lmsr_cost, lmsr_price, move_cost

prices = st.floats(1e-6, 1 - 1e-6)
liquidity = st.floats(0.5, 500.0)


@settings(max_examples=80, deadline=None)
@given(qy=st.floats(-1e3, 1e3), qn=st.floats(-1e3, 1e3), b=liquidity)
def test_price_is_the_gradient_of_the_cost(qy: float, qn: float, b: float) -> None:
    eps = 1e-4 * b
    numeric = (lmsr_cost(qy + eps, qn, b) - lmsr_cost(qy - eps, qn, b)) / (2 * eps)
    assert lmsr_price(qy, qn, b) == pytest.approx(numeric, abs=1e-6)
    assert lmsr_price(qy, qn, b) + lmsr_price(qn, qy, b) == pytest.approx(1.0, abs=1e-15)
    assert lmsr_cost(qy + 7.0, qn + 7.0, b) == pytest.approx(lmsr_cost(qy, qn, b) + 7.0, rel=1e-12, abs=1e-9)


def test_cost_is_stable_for_huge_positions() -> None:
    assert lmsr_cost(1e6, 0.0, 1.0) == pytest.approx(1e6)
    assert lmsr_price(1e6, 0.0, 1.0) == 1.0
    assert lmsr_price(0.0, 1e6, 1.0) == 0.0
    assert np.isfinite(lmsr_cost(-1e6, -1e6, 1.0))


@settings(max_examples=80, deadline=None)
@given(p0=prices, p1=prices, b=liquidity)
def test_moving_the_price_costs_the_cost_difference(p0: float, p1: float, b: float) -> None:
    book = LMSRBook(b, p0)
    c_before = book.cost()
    predicted = book.cost_to_move(p1)
    trade = book.move_to(p1)
    assert book.price() == pytest.approx(p1, rel=1e-9, abs=1e-12)
    assert trade.cost == pytest.approx(book.cost() - c_before, rel=1e-12, abs=1e-9)
    assert trade.cost == pytest.approx(predicted, rel=1e-12, abs=1e-9)
    assert trade.cost == pytest.approx(move_cost(p0, p1, b), rel=1e-7, abs=1e-7)
    if p1 - p0 > 1e-12:
        assert trade.side == "yes"
        assert trade.cost == pytest.approx(b * np.log((1 - p0) / (1 - p1)), rel=1e-7, abs=1e-7)
    elif p0 - p1 > 1e-12:
        assert trade.side == "no"
        assert trade.cost == pytest.approx(b * np.log(p0 / p1), rel=1e-7, abs=1e-7)


@settings(max_examples=80, deadline=None)
@given(
    b=liquidity,
    moves=st.lists(st.tuples(prices, st.sampled_from(["real", "shadow"])), min_size=1, max_size=30),
)
def test_worst_case_loss_is_b_ln2_from_an_even_book(b: float, moves: list[tuple[float, str]]) -> None:
    book = LMSRBook(b)
    assert book.worst_case_loss == pytest.approx(b * np.log(2))
    for target, kind in moves:
        book.move_to(target, kind)  # type: ignore[arg-type]
    for outcome in (True, False):
        assert book.loss(outcome) <= b * np.log(2) + 1e-9 * b
        assert book.loss(outcome) == pytest.approx(
            book.payout(outcome) - book.collected["real"] - book.collected["shadow"]
        )


def test_worst_case_loss_is_approached_when_the_book_is_driven_to_the_outcome() -> None:
    book = LMSRBook(10.0)
    book.move_to(1 - 1e-9)
    assert book.loss(True) == pytest.approx(10.0 * np.log(2), rel=1e-6)
    assert book.loss(False) < 0


def test_buy_and_validation() -> None:
    book = LMSRBook(50.0, 0.3)
    quoted = book.quote_buy("yes", 20.0)
    trade = book.buy("yes", 20.0)
    assert trade.cost == pytest.approx(quoted)
    assert trade.price_after > trade.price_before
    assert book.payout(True, "real") == 20.0 and book.payout(False, "real") == 0.0
    with pytest.raises(ValueError):
        LMSRBook(0.0)
    with pytest.raises(ValueError):
        LMSRBook(1.0, 1.0)
    with pytest.raises(ValueError):
        book.move_to(0.0)
    with pytest.raises(ValueError):
        book.buy("maybe", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        book.quote_buy("yes", -1.0)


@settings(max_examples=60, deadline=None)
@given(path=st.lists(prices, min_size=1, max_size=12), real=st.lists(st.tuples(st.integers(0, 11), prices),
                                                                     max_size=4), b=liquidity, open_p=prices)
def test_moving_a_book_along_a_path_or_straight_differs_only_by_yes_no_pairs(
    path: list[float], real: list[tuple[int, float]], b: float, open_p: float
) -> None:
    """Shadow moves p0 → p1 → … → pT versus p0 → pT (lazy), with the same real trades interleaved: the books
    differ by equal numbers of YES and NO shares (each pair costs exactly 1 and pays exactly 1), so every
    real trade, the P&L in both outcomes and the worst case are identical."""
    eager, lazy = LMSRBook(b, open_p), LMSRBook(b, open_p)
    trades = dict(real)
    for t, p in enumerate(path):
        eager.move_to(p, "shadow")
        if t in trades:
            lazy.move_to(p, "shadow")  # a lazy book is synced before it trades for real
            a, c = eager.move_to(trades[t], "real"), lazy.move_to(trades[t], "real")
            signed = [t.shares if t.side == "yes" else -t.shares for t in (a, c)]
            assert signed[0] == pytest.approx(signed[1], rel=1e-9, abs=1e-9)
            assert a.cost == pytest.approx(c.cost, rel=1e-9, abs=1e-9)
            eager.move_to(p, "shadow")
            lazy.move_to(p, "shadow")
    lazy.move_to(path[-1], "shadow")
    pairs_yes = eager.shares["shadow"][0] - lazy.shares["shadow"][0]
    pairs_no = eager.shares["shadow"][1] - lazy.shares["shadow"][1]
    assert pairs_yes == pytest.approx(pairs_no, rel=1e-9, abs=1e-7 * b)
    assert eager.collected["shadow"] - lazy.collected["shadow"] == pytest.approx(pairs_yes, rel=1e-9, abs=1e-7 * b)
    for outcome in (True, False):
        assert eager.loss(outcome) == pytest.approx(lazy.loss(outcome), rel=1e-9, abs=1e-7 * b)
    assert eager.price() == pytest.approx(lazy.price(), abs=1e-12)
    assert eager.worst_case_loss == lazy.worst_case_loss
