"""PNG figures of the synthetic experiments (matplotlib's Agg canvas, no pyplot state; returns bytes).

Loss figures show the mean per-market loss with ±2 standard errors over runs; the product variant of the
independent maker is drawn dashed.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ORDER = ("ising_amm", "independent_lmsr", "independent_product", "pairwise_oracle", "gaussian_oracle",
          "true_oracle")
_STYLE: dict[str, dict[str, Any]] = {
    "ising_amm": {"color": "tab:blue", "marker": "o"},
    "independent_lmsr": {"color": "tab:red", "marker": "s"},
    "independent_product": {"color": "tab:red", "marker": "s", "linestyle": "--", "mfc": "none"},
    "pairwise_oracle": {"color": "tab:green", "marker": "^"},
    "gaussian_oracle": {"color": "tab:purple", "marker": "v"},
    "true_oracle": {"color": "black", "marker": "x"},
}


def _new_figure(ncols: int = 1, width: float = 6.0) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, 4.4), dpi=100)
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


def _errorbars(ax: Any, x: np.ndarray, y: np.ndarray, se: np.ndarray, key: str, label: str, log: bool) -> None:
    keep = (y > 0) if log else np.isfinite(y)
    if not keep.any():
        return
    err = np.nan_to_num(2.0 * se[keep])
    lower = np.minimum(err, 0.999 * y[keep]) if log else err  # a log axis cannot show a bar through zero
    ax.errorbar(x[keep], y[keep], yerr=[lower, err], label=label, capsize=3, **_STYLE[key])


def _loss_panel(ax: Any, table: pd.DataFrame, x: str, y: str, log: bool) -> None:
    for m, label in _makers(table):
        g = table[table["market_maker"] == m].sort_values(x)
        _errorbars(ax, g[x].to_numpy(dtype=float), g[y].to_numpy(dtype=float),
                   g[f"{y}_se"].to_numpy(dtype=float), m, label, log)
    if log:
        ax.set_yscale("log")


def loss_scaling_figure(table: pd.DataFrame) -> bytes:
    """Left: per-market loss L_n against n (log scale). Right: total per-round loss (2ⁿ − 1)·L_n."""
    fig, (left, right) = _new_figure(2)
    _loss_panel(left, table, "n", "per_market_loss", log=True)
    _loss_panel(right, table, "n", "total_loss", log=True)
    ns = sorted(int(v) for v in table["n"].unique())
    for ax in (left, right):
        ax.set_xticks(ns)
        ax.set_xlabel("assets n (2^n − 1 contracts)")
    left.set_ylabel("per-market loss L_n (units of b)")
    left.set_title("Loss per contract per round, with parlays")
    right.set_ylabel("(2^n − 1)·L_n")
    right.set_title("Total per-round loss")
    left.legend(fontsize=7, loc="best", framealpha=0.8)
    return _png(fig)


def convergence_figure(table: pd.DataFrame) -> bytes:
    """Price MAE per round bucket (log scale; the true oracle's MAE is zero and is omitted)."""
    fig, (ax,) = _new_figure(1, 7.0)
    table = table.assign(mid=0.5 * (table["round_start"] + table["round_end"]))
    for m, label in _makers(table):
        g = table[table["market_maker"] == m].sort_values("mid")
        _errorbars(ax, g["mid"].to_numpy(dtype=float), g["mae"].to_numpy(dtype=float),
                   g["mae_se"].to_numpy(dtype=float), m, label, log=True)
    ax.set_yscale("log")
    ax.set_xlabel("round (bucket midpoint)")
    ax.set_ylabel("MAE vs exact probabilities")
    n = int(table["n"].iloc[0])
    ax.set_title(f"Price convergence, complete-parlay regime, n = {n}")
    ax.legend(fontsize=7, loc="best", framealpha=0.8)
    return _png(fig)


def reversal_figure(table: pd.DataFrame) -> bytes:
    """Per-market loss against n with parlay flow (left) and base-only flow (right)."""
    fig, axes = _new_figure(2)
    for ax, regime, title in zip(axes, ("complete", "base-only"), ("With parlay flow", "Base-only flow"),
                                 strict=True):
        _loss_panel(ax, table[table["regime"] == regime], "n", "per_market_loss", log=True)
        ax.set_xticks(sorted(int(v) for v in table["n"].unique()))
        ax.set_xlabel("assets n")
        ax.set_title(title)
    axes[0].set_ylabel("per-market loss (units of b)")
    axes[0].legend(fontsize=7, loc="best", framealpha=0.8)
    return _png(fig)


def noise_figure(table: pd.DataFrame) -> bytes:
    """Left: per-market loss against the noise fraction φ. Right: its part against informed traders."""
    fig, (left, right) = _new_figure(2)
    _loss_panel(left, table, "noise", "per_market_loss", log=False)
    for m, label in _makers(table):
        g = table[table["market_maker"] == m].sort_values("noise")
        right.plot(g["noise"], g["informed_per_market_loss"], label=label, **_STYLE[m])
    for ax, title in ((left, "Per-market loss"), (right, "Part lost to informed traders")):
        ax.axhline(0.0, color="grey", lw=0.5)
        ax.set_xlabel("noise fraction φ")
        ax.set_title(title)
    left.set_ylabel("units of b per contract per round")
    left.legend(fontsize=7, loc="best", framealpha=0.8)
    return _png(fig)
