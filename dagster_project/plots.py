"""Plots as Dagster metadata: a matplotlib figure to PNG bytes, and PNG bytes to an inline markdown image."""

import base64
import io
from collections.abc import Callable

import dagster as dg


def figure_png(draw: Callable, size: tuple[float, float] = (7, 3.2)) -> bytes:  # type: ignore[type-arg]
    """Render ``draw(ax)`` on a fresh Agg figure and return the PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, dpi=90)
    try:
        draw(ax)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)


def png_markdown(png: bytes, alt: str) -> dg.MetadataValue:
    """An inline PNG the Dagster UI shows in the materialization's metadata."""
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})")
