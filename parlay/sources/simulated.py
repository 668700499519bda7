"""The simulated exchange as a :class:`~parlay.sources.base.MarketSource` (the embedded default source).

Every method simulates the requested trading day with :func:`models.simulator.simulate_day` (or reuses
the last simulated day), so metadata, stream, combos and settlements of one day always come from the
same simulation. The simulator has no exchange candles: :meth:`SimulatedSource.candles` returns ``None``
and candles are built downstream from the stream.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import date

from models.records import Candle, ComboMarket, Rejected, Settlement, Trade
from models.simulator import DayTruth, SimulatedDay, SimulationConfig, simulate_day
from models.simulator.config import profile_config
from parlay.sources.base import MetadataItem, StreamItem


class SimulatedSource:
    """Seeded synthetic market data: the same config and day always give the same records."""

    name = "simulated"

    def __init__(self, config: SimulationConfig | None = None) -> None:
        # PARLAY_SIM_PROFILE picks the default day's size: paper (default, the paper's scale) or small
        self.config = config if config is not None else profile_config(os.environ.get("PARLAY_SIM_PROFILE"))
        self._lock = threading.Lock()
        self._cached: SimulatedDay | None = None

    def simulated_day(self, day: date) -> SimulatedDay:
        """The full simulation of ``day`` (records and truth); the last day is cached."""
        with self._lock:
            cached = self._cached
            if cached is None or cached.day != day:
                cached = self._cached = simulate_day(self.config, day)
            return cached

    def truth(self, day: date) -> DayTruth:
        """Ground truth of ``day`` (latent laws, true probability paths, the exact oracle)."""
        return self.simulated_day(day).truth

    def days(self) -> list[date]:
        return []

    def metadata(self, day: date) -> Iterator[MetadataItem]:
        return self.simulated_day(day).metadata()

    def market_stream(self, day: date) -> Iterator[StreamItem]:
        return iter(self.simulated_day(day).stream)

    def candles(self, day: date) -> Iterator[Candle | Rejected] | None:
        return None

    def combo_markets(self, day: date) -> Iterator[ComboMarket | Rejected]:
        return iter(self.simulated_day(day).combo_markets)

    def combo_trades(self, day: date) -> Iterator[Trade | Rejected]:
        return iter(self.simulated_day(day).combo_trades)

    def settlements(self, day: date) -> Iterator[Settlement | Rejected]:
        return iter(self.simulated_day(day).settlements)
