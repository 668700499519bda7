from __future__ import annotations

import dataclasses
import itertools
from datetime import date

from models.records import BookSnapshot, EventRecord, MarketRecord, SeriesRecord
from models.simulator import SimulatedDay, SimulationConfig
from parlay.sources.base import MarketSource
from parlay.sources.simulated import SimulatedSource

from .conftest import DAY


def test_source_satisfies_the_protocol() -> None:
    src = SimulatedSource(SimulationConfig())
    assert isinstance(src, MarketSource)
    assert src.name == "simulated"
    assert src.days() == []
    assert src.candles(DAY) is None
    assert SimulatedSource().config == SimulationConfig()  # the test suite's profile (tests/conftest.py)


def test_source_returns_the_records_of_simulate_day(default_day: SimulatedDay) -> None:
    src = SimulatedSource(SimulationConfig())
    meta = list(src.metadata(DAY))
    assert meta == [*default_day.series, *default_day.events, *default_day.markets]
    kinds = [type(r) for r in meta]
    assert kinds == sorted(kinds, key=[SeriesRecord, EventRecord, MarketRecord].index)
    assert list(src.market_stream(DAY)) == list(default_day.stream)
    assert list(src.combo_markets(DAY)) == list(default_day.combo_markets)
    assert list(src.combo_trades(DAY)) == list(default_day.combo_trades)
    assert list(src.settlements(DAY)) == list(default_day.settlements)
    stream = list(src.market_stream(DAY))
    assert isinstance(stream[0], BookSnapshot)
    assert all(a.ts <= b.ts for a, b in itertools.pairwise(stream))


def test_source_simulates_each_day_once_and_follows_the_day() -> None:
    config = SimulationConfig(n_games=1, session_minutes=10, n_combo_markets=5, combo_trades_per_day=5)
    src = SimulatedSource(config)
    first = src.simulated_day(date(2026, 3, 7))
    list(src.metadata(date(2026, 3, 7)))
    list(src.combo_trades(date(2026, 3, 7)))
    assert src.simulated_day(date(2026, 3, 7)) is first
    assert src.truth(date(2026, 3, 7)) is first.truth
    other = src.simulated_day(date(2026, 3, 8))
    assert other is not first and other.day == date(2026, 3, 8)
    markets = [r for r in src.metadata(date(2026, 3, 8)) if isinstance(r, MarketRecord)]
    assert markets == list(other.markets)
    assert all("-26MAR08" in m.event_ticker for m in markets)
    # A fresh source with the same config reproduces the day exactly.
    again = SimulatedSource(dataclasses.replace(config)).simulated_day(date(2026, 3, 7))
    assert again.stream == first.stream and again.settlements == first.settlements
