"""The ensemble's reliability bins: counts, mean predictions and observed win rates, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from dagster_project.assets.pricing import reliability_table


def test_reliability_bins_match_a_hand_count() -> None:
    p = [0.05] * 10 + [0.95] * 10 + [0.42, 0.48]
    y = np.array([1] + [0] * 9 + [1] * 9 + [0] + [1, 0], dtype=float)
    table = reliability_table({"ensemble": p, "partial": p[:3]}, y)
    assert set(table["member"]) == {"ensemble"}  # a member that priced only some parlays is not comparable
    by_bin = table.set_index("bin")
    assert list(by_bin.index) == ["0.0–0.1", "0.4–0.5", "0.9–1.0"]
    assert by_bin.loc["0.0–0.1", "parlays"] == 10 and by_bin.loc["0.0–0.1", "observed_win_rate"] == pytest.approx(0.1)
    assert by_bin.loc["0.4–0.5", "mean_predicted"] == pytest.approx(0.45)
    assert by_bin.loc["0.4–0.5", "observed_win_rate"] == pytest.approx(0.5)
    assert by_bin.loc["0.9–1.0", "observed_win_rate"] == pytest.approx(0.9)
    assert by_bin["parlays"].sum() == len(y)
