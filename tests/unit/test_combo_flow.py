"""Combo flow simulated over real legs (models/simulator/combo_flow.py), on hand-made paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.simulator.combo_flow import FLOW_COLLECTION, ComboFlowConfig, LegPath, ask_cents, simulate_combo_flow

T0 = datetime(2026, 3, 8, 0, 0, tzinfo=UTC)


def path(ticker: str, prices: list[float], outcome: str | None) -> LegPath:
    return LegPath(ticker, ticker.rsplit("-", 1)[0], tuple(T0 + timedelta(minutes=10 * i) for i in range(len(prices))),
                   tuple(prices), outcome)


A = path("KXNBAGAME-26MAR07AAABBB-AAA", [0.5, 0.6, 0.7, 0.8, 0.9], "yes")
B = path("KXNBAGAME-26MAR07CCCDDD-CCC", [0.4, 0.4, 0.3, 0.2, 0.1], "no")
C = path("KXNBAGAME-26MAR07EEEFFF-EEE", [0.5, 0.5, 0.5, 0.5, 0.5], "yes")


def test_prices_later_prices_and_outcomes() -> None:
    assert A.price_at(T0 - timedelta(seconds=1)) is None
    assert A.price_at(T0 + timedelta(minutes=15)) == 0.6
    assert A.later_price(T0 + timedelta(minutes=25)) == 0.7
    assert A.later_price(T0 + timedelta(hours=3)) == 1.0  # past the last price: the outcome
    assert B.later_price(T0 + timedelta(hours=3)) == 0.0


def test_the_ask_carries_the_fee_markup_and_rounds_up() -> None:
    cfg = ComboFlowConfig(fee_rate=0.07, spread=0.03, spread_jitter=0.02)
    # 0.25 + 0.07·0.25·0.75 + 0.03 + 0.02·0.5 = 0.303125 → 31¢
    assert ask_cents(0.25, cfg, 0.5) == 31
    assert ask_cents(0.25, ComboFlowConfig(fee_rate=0.0, spread=0.0, spread_jitter=0.0), 0.0) == 25


def test_informed_traders_target_the_legs_later_prices() -> None:
    cfg = ComboFlowConfig(seed=3, trades=200, informed_fraction=1.0, horizon_minutes=10, max_legs=2)
    flow = simulate_combo_flow([A, B, C], cfg, "26MAR07")
    assert len(flow.trades) == 200 and all(flow.informed.values())
    legs = {m.ticker: m.legs for m in flow.markets}
    paths = {p.market_ticker: p for p in (A, B, C)}
    for t in flow.trades:
        q = flow.target_at_trade[t.trade_id]
        expected = 1.0
        for leg in legs[t.market_ticker]:
            later = paths[leg.market_ticker].later_price(t.ts + timedelta(minutes=10))
            assert later is not None
            expected *= later
        assert q == pytest.approx(expected)
        low = q + cfg.fee_rate * q * (1 - q) + cfg.spread  # the markup with no jitter
        assert low - 1e-9 <= float(t.yes_price) <= low + cfg.spread_jitter + 0.01 + 1e-9
        assert t.yes_price + t.no_price == 1
    # one leg per game, YES legs, settled on the real outcomes: a combo wins only when every leg did
    for m in flow.markets:
        assert m.collection_ticker == FLOW_COLLECTION and len({leg.event_ticker for leg in m.legs}) == len(m.legs)
        won = all(paths[leg.market_ticker].outcome == "yes" for leg in m.legs)
        assert m.result == ("yes" if won else "no")


def test_same_seed_same_flow_and_one_game_gives_none() -> None:
    cfg = ComboFlowConfig(seed=5, trades=50)
    one = simulate_combo_flow([A, B, C], cfg, "26MAR07")
    two = simulate_combo_flow([C, A, B], cfg, "26MAR07")
    assert one.trades == two.trades and one.markets == two.markets
    assert simulate_combo_flow([A], cfg, "26MAR07").trades == ()
