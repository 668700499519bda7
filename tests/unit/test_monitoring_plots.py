"""The hedge-quality histogram's bins hold for any slippage data, including fills that all slipped the same."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd

from dagster_project.assets.monitoring import slippage_bins


def test_bins_for_identical_and_nearly_identical_slippage_draw() -> None:
    # 3.0000000000000004 and 3.0 (cents from float arithmetic) broke a fixed 20-bin histogram
    for values in ([3.0000000000000004, 3.0], [2.0, 2.0, 2.0], [0.5], [-1.0, 3.0, 2.5]):
        series = pd.Series(values)
        edges = slippage_bins(series)
        assert edges[0] <= series.min() and edges[-1] >= series.max()
        fig, ax = plt.subplots()
        counts, _, _ = ax.hist(series.round(4), bins=edges)
        plt.close(fig)
        assert counts.sum() == len(values)
