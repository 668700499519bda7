"""The drawdown limit from the environment, and the instants the pipeline marks the pool's equity at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from parlay.book_runtime import hourly_instants
from parlay.config import risk_config
from service.settings import ServiceSettings


def test_the_drawdown_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLAY_RISK_MAX_DRAWDOWN", raising=False)
    assert risk_config().max_drawdown == 0.2
    monkeypatch.setenv("PARLAY_RISK_MAX_DRAWDOWN", "0.05")
    assert risk_config().max_drawdown == 0.05
    assert ServiceSettings.from_env().risk.max_drawdown == 0.05  # the API and the simulated bettors
    for bad in ("1.5", "0", "lots"):
        monkeypatch.setenv("PARLAY_RISK_MAX_DRAWDOWN", bad)
        with pytest.raises(ValueError, match="PARLAY_RISK_MAX_DRAWDOWN"):
            risk_config()


def test_hourly_instants_touch_every_clock_hour() -> None:
    start = datetime(2025, 12, 15, 23, 0, tzinfo=UTC)
    end = datetime(2025, 12, 16, 3, 39, 52, tzinfo=UTC)
    got = hourly_instants(start, end)
    assert got[0] == start and got[-1] == end
    assert {t.replace(minute=0, second=0) for t in got} == {start + timedelta(hours=h) for h in range(5)}
    assert all(b - a <= timedelta(hours=1) for a, b in pairwise(got))
    mid = datetime(2025, 12, 16, 1, 59, tzinfo=UTC)
    assert hourly_instants(mid, end, include_start=False) == [
        datetime(2025, 12, 16, 2, tzinfo=UTC),
        datetime(2025, 12, 16, 3, tzinfo=UTC),
        end,
    ]
    assert hourly_instants(end, end) == [end]
