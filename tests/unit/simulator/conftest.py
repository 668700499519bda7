from __future__ import annotations

from datetime import date

import pytest

from models.simulator import SimulatedDay, SimulationConfig, simulate_day

DAY = date(2026, 3, 7)


@pytest.fixture(scope="session")
def default_day() -> SimulatedDay:
    """The default configuration's day (simulated once per test session)."""
    return simulate_day(SimulationConfig(), DAY)
