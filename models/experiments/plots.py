"""PNG figures of the synthetic experiments (matplotlib's Agg canvas, no pyplot state; returns bytes)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ORDER = ("ising", "independent", "pairwise_oracle", "gaussian_oracle", "true_oracle")
_STYLE = {
    "ising": {"color": "tab:blue", "marker": "o"},
    "independent": {"color": "tab:red", "marker": "s"},
    "pairwise_oracle": {"color": "tab:green", "marker": "^"},
    "gaussian_oracle": {"color": "tab:purple", "marker": "v"},
    "true_oracle": {"color": "black", "marker": "x"},
}


def _new_figure(ncols: int = 1, width: float = 6.0) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _makers(table: pd.DataFrame) -> list[tuple[str, str]]:
    present = dict(zip(table["market_maker"], table["label"], strict=False))
    return [(m, present[m]) for m in _ORDER if m in present]


def loss_scaling_figure(table: pd.DataFrame) -> bytes:
    """Left: expected per-market loss L_n against n (log scale; non-positive values omitted).
    Right: n·L_n against n."""
    fig, (left, right) = _new_figure(2)
    for m, label in _makers(table):
        g = table[table["market_maker"] == m].sort_values("n")
        y = g["expected_per_market_loss"].to_numpy()
        keep = y > 0
        if keep.any():
            left.plot(g["n"].to_numpy()[keep], y[keep], label=label, **_STYLE[m])
        right.plot(g["n"], g["n_expected_per_market_loss"], label=label, **_STYLE[m])
    ns = sorted(int(v) for v in table["n"].unique())
    for ax in (left, right):
        ax.set_xticks(ns)
    left.set_yscale("log")
    left.set_xlabel("assets n")
    left.set_ylabel("per-market loss L_n (expected, units of b)")
    left.set_title("Loss per market, complete-parlay regime")
    right.axhline(0.0, color="grey", lw=0.5)
    right.set_xlabel("assets n")
    right.set_ylabel("n · L_n")
    right.set_title("n · L_n")
    left.legend(fontsize=8)
    return _png(fig)


def convergence_figure(table: pd.DataFrame) -> bytes:
    """Price MAE against rounds (true oracle omitted on the log scale: its MAE is zero)."""
    fig, (ax,) = _new_figure(1, 7.0)
    for m, label in _makers(table):
        g = table[table["market_maker"] == m].sort_values("round")
        y = g["mae"].to_numpy()
        keep = y > 0
        if keep.any():
            ax.plot(g["round"].to_numpy()[keep], y[keep], label=label, **_STYLE[m])
    ax.set_yscale("log")
    ax.set_xlabel("round")
    ax.set_ylabel("MAE vs exact probabilities")
    ax.set_title("Price convergence, complete-parlay regime")
    ax.legend(fontsize=8)
    return _png(fig)


def reversal_figure(table: pd.DataFrame) -> bytes:
    """Expected per-market loss by market maker, base-only vs complete-parlay flow."""
    fig, (ax,) = _new_figure(1, 7.0)
    makers = _makers(table)
    regimes = ["base-only", "complete"]
    width = 0.8 / len(makers)
    x = np.arange(len(regimes))
    for i, (m, label) in enumerate(makers):
        vals = []
        for reg in regimes:
            g = table[(table["market_maker"] == m) & (table["regime"] == reg)]
            vals.append(float(g["expected_per_market_loss"].iloc[0]) if len(g) else np.nan)
        ax.bar(x + (i - (len(makers) - 1) / 2) * width, vals, width, label=label, color=_STYLE[m]["color"])
    ax.set_xticks(x, ["base-only flow", "with parlay flow"])
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.set_ylabel("per-market loss (expected, units of b)")
    ax.set_title("Ranking reversal")
    ax.legend(fontsize=8)
    return _png(fig)


def noise_figure(table: pd.DataFrame) -> bytes:
    """Left: expected loss against the noise fraction φ. Right: regret (price-quality loss) against φ."""
    fig, (left, right) = _new_figure(2)
    for m, label in _makers(table):
        g = table[table["market_maker"] == m].sort_values("noise")
        left.plot(g["noise"], g["expected_loss"], label=label, **_STYLE[m])
        right.plot(g["noise"], g["regret"], label=label, **_STYLE[m])
    for ax, title in ((left, "Expected loss"), (right, "Regret Σ b·KL(truth‖price)")):
        ax.axhline(0.0, color="grey", lw=0.5)
        ax.set_xlabel("noise fraction φ")
        ax.set_title(title)
    left.set_ylabel("units of b")
    left.legend(fontsize=8)
    return _png(fig)
