"""Plots and tables as Dagster metadata.

* :func:`png_markdown` stores a PNG in object storage (``<lake>/plots/…``) and returns a short markdown image
  that points at it through ``parlay ui``'s ``/parlay/plots/`` route: the UI shows it inline on the asset page
  (it hides markdown of 1,000 characters or more, an inline base64 PNG, behind "Show Markdown").
* :func:`frame_table` turns a DataFrame into ``MetadataValue.table`` with a ``TableSchema``.
"""

import hashlib
import io
import math
from collections.abc import Callable

import dagster as dg
import pandas as pd

PLOTS_ROUTE = "/parlay/plots"


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


def store_png(png: bytes, name: str, storage_url: str | None = None) -> str:
    """Write a PNG under ``<storage>/plots/`` (content-addressed, so reruns never overwrite history); return its
    path relative to that folder."""
    import fsspec

    from parlay import config

    base = (storage_url or config.storage_url()).rstrip("/")
    rel = f"{''.join(c if c.isalnum() or c in '-_' else '_' for c in name)}-{hashlib.sha256(png).hexdigest()[:16]}.png"
    with fsspec.open(f"{base}/plots/{rel}", "wb", auto_mkdir=True) as f:
        f.write(png)
    return rel


def png_markdown(png: bytes, alt: str, storage_url: str | None = None) -> dg.MetadataValue:
    """A PNG the Dagster UI shows inline in the materialization's metadata (served by ``parlay ui``)."""
    return dg.MetadataValue.md(f"![{alt}]({PLOTS_ROUTE}/{store_png(png, alt, storage_url)})")


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return _cell(value.item())
    return str(value)


def _column_type(dtype: object) -> str:
    kind = getattr(dtype, "kind", "O")
    return {"b": "bool", "i": "int", "u": "int", "f": "float", "M": "timestamp"}.get(kind, "string")


def frame_table(frame: pd.DataFrame, max_rows: int = 25) -> dg.MetadataValue:
    """The first ``max_rows`` rows of a DataFrame as a table with a schema (column names and types)."""
    schema = dg.TableSchema(columns=[dg.TableColumn(str(c), _column_type(t)) for c, t in frame.dtypes.items()])
    records = [dg.TableRecord({str(k): _cell(v) for k, v in row.items()})
               for row in frame.head(max_rows).to_dict("records")]
    return dg.MetadataValue.table(records, schema=schema)


def row_count(n: int) -> dict[str, int]:
    """``dagster/row_count``: how many rows the asset's table holds for this partition."""
    return {"dagster/row_count": int(n)}
