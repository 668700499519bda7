"""Write synthetic Kalshi WebSocket capture files (both unit shapes) for tests.

A capture is built from plain events; ``shape`` decides how prices and sizes are spelled:
``"cents"`` (legacy integers only), ``"fixed"`` (``_dollars`` / ``_fp`` strings only) or ``"both"``
(what the real captures hold).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

T0 = datetime(2026, 3, 8, 0, 30, tzinfo=UTC)


def _px(cents: int, shape: str, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if shape in ("cents", "both"):
        out[name] = cents
    if shape in ("fixed", "both"):
        out[f"{name}_dollars"] = f"{cents / 100:.4f}"
    return out


def _count(n: int, shape: str, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if shape in ("cents", "both"):
        out[name] = n
    if shape in ("fixed", "both"):
        out[f"{name}_fp"] = f"{n:.2f}"
    return out


def _ladder(levels: list[tuple[int, int]], shape: str, side: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if shape in ("cents", "both"):
        out[side] = [[p, n] for p, n in levels]
    if shape in ("fixed", "both"):
        out[f"{side}_dollars_fp"] = [[f"{p / 100:.4f}", f"{n:.2f}"] for p, n in levels]
    return out


@dataclass
class CaptureWriter:
    """Accumulates messages of one capture session; seq numbers are assigned per sid in order."""

    shape: str = "both"
    book_sid: int = 1
    trade_sid: int = 2
    t: datetime = T0
    seqs: dict[int, int] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)  # with "_file" routing key

    def _next(self, sid: int, skip: int = 0) -> int:
        self.seqs[sid] = self.seqs.get(sid, 0) + 1 + skip
        return self.seqs[sid]

    def tick(self, seconds: float = 1.0) -> datetime:
        self.t += timedelta(seconds=seconds)
        return self.t

    def snapshot(self, file: str, ticker: str, yes: list[tuple[int, int]], no: list[tuple[int, int]],
                 skip: int = 0) -> None:
        msg = {"market_ticker": ticker, "market_id": f"id-{ticker}"}
        if yes or no:
            msg.update(_ladder(yes, self.shape, "yes"))
            msg.update(_ladder(no, self.shape, "no"))
        self.messages.append({"_file": file, "type": "orderbook_snapshot", "sid": self.book_sid,
                              "seq": self._next(self.book_sid, skip), "msg": msg})

    def delta(self, file: str, ticker: str, side: str, cents: int, change: int, skip: int = 0) -> None:
        msg = {"market_ticker": ticker, "market_id": f"id-{ticker}", **_px(cents, self.shape, "price"),
               **_count(change, self.shape, "delta"), "side": side,
               "ts": self.tick(0.3).isoformat().replace("+00:00", "Z")}
        self.messages.append({"_file": file, "type": "orderbook_delta", "sid": self.book_sid,
                              "seq": self._next(self.book_sid, skip), "msg": msg})

    def trade(self, file: str, ticker: str, yes_cents: int, count: int, taker: str = "yes",
              trade_id: str | None = None, skip: int = 0) -> str:
        seq = self._next(self.trade_sid, skip)
        tid = trade_id or f"t-{ticker}-{seq}"
        msg = {"trade_id": tid, "market_ticker": ticker, **_px(yes_cents, self.shape, "yes_price"),
               **_px(100 - yes_cents, self.shape, "no_price"), **_count(count, self.shape, "count"),
               "taker_side": taker, "ts": int(self.tick(0.5).timestamp())}
        self.messages.append({"_file": file, "type": "trade", "sid": self.trade_sid, "seq": seq, "msg": msg})
        return tid

    def raw(self, file: str, line: str) -> None:
        """A verbatim line (malformed input)."""
        self.messages.append({"_file": file, "_raw": line})

    def message(self, file: str, obj: dict[str, Any]) -> None:
        self.messages.append({"_file": file, **obj})

    def write(self, folder: Path, gz: bool = True) -> dict[str, Path]:
        """Write one file per ``_file`` key (blank line after each message, like the real captures)."""
        folder.mkdir(parents=True, exist_ok=True)
        by_file: dict[str, list[str]] = {}
        for m in self.messages:
            line = m["_raw"] if "_raw" in m else json.dumps({k: v for k, v in m.items() if k != "_file"})
            by_file.setdefault(m["_file"], []).append(line)
        paths = {}
        for name, lines in by_file.items():
            text = "".join(line + "\n\n" for line in lines)
            path = folder / (name + (".ndjson.gz" if gz else ".ndjson"))
            if gz:
                path.write_bytes(gzip.compress(text.encode()))
            else:
                path.write_text(text)
            paths[name] = path
        return paths


def count_messages(path: Path) -> int:
    """Non-blank lines of a capture file, counted independently of the loader."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return sum(1 for line in data.split(b"\n") if line.strip())


def count_type(path: Path, kind: str) -> int:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    n = 0
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            if json.loads(line).get("type") == kind:
                n += 1
        except (json.JSONDecodeError, AttributeError):
            continue
    return n
