"""Recorded source: Kalshi WebSocket capture files (``.ndjson`` / ``.ndjson.gz``).

A capture file holds one JSON message per line: ``{"type", "sid", "seq", "msg"}`` with types
``orderbook_snapshot``, ``orderbook_delta`` and ``trade``. ``seq`` counts per subscription (``sid``)
and one subscription carries many markets, so a single market's file jumps wherever other markets'
messages went. Gaps are therefore judged over all files of one *capture session* together:

* files belong to one session when their time spans overlap and no ``(sid, seq)`` appears in two of
  them (two connections would reuse the same numbers);
* a run of missing numbers inside a session is a gap. A single missing number followed by the first
  message of a market newly added to the subscription is the ``update_subscription`` reply (Kalshi's
  ``ok`` carries a seq but no market data): kind ``subscription_ack``. Any other run is ``lost``, and
  every book of that subscription live at that point is unreliable until its next snapshot;
* when the files hold under ``min_coverage`` of a subscription's number range, they are a slice of a
  larger subscription: gaps cannot be told from other markets' messages, one ``partial_session`` row
  says so, and books are judged by their own consistency only (a delta driving a level below zero).

A market's deltas that come before its first snapshot (a capture that began mid-stream) are held until
a snapshot of the market arrives, then placed backward from it (:mod:`models.orderbook_backward`): a
:class:`~models.records.BookSeed` with the rebuilt state before the first placed delta, then the
deltas. Deltas no later snapshot reaches, or that the backward rebuild cannot place, are quarantined.

Outcomes come from closing prices: the last trade of a finished market sits at 1¢ (NO) or 99¢ (YES).
"""

from __future__ import annotations

import glob
import hashlib
import re
import zlib
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import orjson

from models.orderbook_backward import rebuild_backward
from models.records import (
    NO,
    YES,
    BookDelta,
    BookInvalidated,
    BookSeed,
    BookSnapshot,
    Candle,
    ComboMarket,
    EventRecord,
    MarketRecord,
    Rejected,
    SequenceGap,
    SeriesRecord,
    Settlement,
    Trade,
)
from models.simulator.combo_flow import ComboFlow, ComboFlowConfig, LegPath, simulate_combo_flow
from parlay.kalshi import normalize as nz
from parlay.kalshi.catalog import series_facts
from parlay.sources.base import DuplicateFile, MetadataItem, StreamItem, StreamUnit, trading_day

SOURCE = "recorded"
SNAPSHOT, DELTA, TRADE = "orderbook_snapshot", "orderbook_delta", "trade"
_KIND_CODE = {SNAPSHOT: 0, DELTA: 1, TRADE: 2}
_HEAD = re.compile(rb'"type"\s*:\s*"([a-z_]+)"\s*,\s*"sid"\s*:\s*(\d+)\s*,\s*"seq"\s*:\s*(\d+)')
_TICKER = re.compile(rb'"market_ticker"\s*:\s*"([^"]+)"')
_TICKER_NAME = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9.]+){1,}$")
_CLOSE_YES = Decimal("0.99")
_CLOSE_NO = Decimal("0.01")
DEFAULT_MIN_COVERAGE = 0.9


def capture_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files, folders and globs into capture files (sorted, de-duplicated)."""
    found: set[Path] = set()
    for raw in paths:
        p = Path(raw).expanduser()
        if not p.exists() and any(c in str(p) for c in "*?["):  # a glob the shell did not expand
            matches = sorted(Path(m) for m in glob.glob(str(p), recursive=True))
            if not matches:
                raise FileNotFoundError(f"no capture path matches {p}")
            found.update(capture_files(matches))
            continue
        if p.is_dir():
            for pattern in ("*.ndjson", "*.ndjson.gz", "*.jsonl", "*.jsonl.gz"):
                found.update(x.resolve() for x in p.rglob(pattern) if x.is_file())
        elif p.is_file():
            found.add(p.resolve())
        else:
            raise FileNotFoundError(f"capture path not found: {p}")
    return sorted(found)


_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 16
INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1


@dataclass(frozen=True)
class Decoded:
    """A capture file's bytes after gunzip. A stream that ends early or turns corrupt keeps what was
    readable before that point; ``stopped_at`` is then the compressed byte offset where reading stopped."""

    data: bytes
    stopped_at: int | None = None
    error: str | None = None


def _locate_error(d: zlib._Decompress, chunk: bytes, start: int) -> int:
    """The byte offset at which ``chunk`` (fed from ``start``) stops decompressing."""
    for i in range(len(chunk)):
        try:
            d.decompress(chunk[i : i + 1])
        except zlib.error:
            return start + i
    return start + len(chunk)


def decode_capture(raw: bytes) -> Decoded:
    """Plain bytes as they are; gzip (one or more members) decompressed, up to the first fault."""
    if raw[:2] != _GZIP_MAGIC:
        return Decoded(raw)
    out: list[bytes] = []
    pos, size = 0, len(raw)
    while pos < size:
        d = zlib.decompressobj(wbits=31)
        i = pos
        while i < size and not d.eof:
            chunk = raw[i : i + _CHUNK]
            before = d.copy()
            try:
                out.append(d.decompress(chunk))
            except zlib.error as exc:
                at = _locate_error(before, chunk, i)
                return Decoded(b"".join(out), at, f"corrupt gzip data at byte {at} ({exc})")
            if d.eof:
                i += len(chunk) - len(d.unused_data)
            else:
                i += len(chunk)
        if not d.eof:
            return Decoded(b"".join(out), size, f"the gzip stream ends at byte {size} before its end (truncated)")
        pos = i
        rest = raw[pos:]
        if not rest.strip(b"\x00"):
            break  # zero padding after the last member
        if rest[:2] != _GZIP_MAGIC:
            return Decoded(b"".join(out), pos, f"unexpected bytes after the gzip stream at byte {pos}")
    return Decoded(b"".join(out))


def read_lines(path: Path) -> list[bytes]:
    """All readable lines of a capture file (gzip or plain), without line endings."""
    return decode_capture(path.read_bytes()).data.split(b"\n")


@dataclass(frozen=True)
class UnreadableFile:
    """A capture file of which nothing could be read."""

    path: str
    name: str
    error: str


def _int_in_range(value: object, upper: int) -> bool:
    return type(value) is int and 0 <= value <= upper


def _chain(*parts: Iterable[StreamItem]) -> Iterator[StreamItem]:
    for part in parts:
        yield from part


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".ndjson", ".jsonl"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


# --------------------------------------------------------------------------- pass 1: scan


@dataclass
class FileScan:
    """What pass 1 learns about a file without parsing every message fully."""

    path: Path
    sha256: str
    size: int
    messages: int  # non-blank lines
    stem_ticker: str | None
    seqs: dict[int, np.ndarray]  # sid -> seq numbers in file order
    kinds: dict[int, np.ndarray]  # sid -> message kind code per seq
    ticker_ids: dict[int, np.ndarray]  # sid -> index into tickers
    tickers: list[str]
    first_ts: datetime | None
    last_ts: datetime | None
    truncated_at: int | None = None  # compressed byte offset where reading stopped early
    read_error: str | None = None
    ends_inside_line: bool = False  # the readable prefix stops in the middle of a line

    @property
    def name(self) -> str:
        return self.path.name

    def premature(self, sid: int) -> set[int]:
        """Numbers of ``sid`` read before a lower number that comes later in this file: a book rebuilt
        in file order applies them too early, so its state is unreliable from the first of them."""
        seqs = self.seqs.get(sid)
        if seqs is None or seqs.size < 2 or bool(np.all(np.diff(seqs) >= 0)):
            return set()
        later_min = np.minimum.accumulate(seqs[::-1])[::-1][1:]  # lowest number after each position
        return {int(v) for v in seqs[:-1][later_min < seqs[:-1]]}

    def duplicated(self, sid: int) -> set[int]:
        """Sequence numbers that occur more than once in this file for ``sid``."""
        seqs = self.seqs.get(sid)
        if seqs is None or seqs.size == 0:
            return set()
        values, counts = np.unique(seqs, return_counts=True)
        return {int(v) for v in values[counts > 1]}


def _line_ts(line: bytes) -> datetime | None:
    try:
        obj = orjson.loads(line)
        ts = obj["msg"]["ts"]
        return nz.timestamp(ts)
    except Exception:
        return None


def scan_file(path: Path, raw: bytes | None = None, decoded: Decoded | None = None) -> FileScan:
    if raw is None:
        raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    if decoded is None:
        decoded = decode_capture(raw)
    data = decoded.data
    lines = data.split(b"\n")
    per_sid: dict[int, tuple[list[int], list[int], list[int]]] = defaultdict(lambda: ([], [], []))
    ticker_index: dict[str, int] = {}
    messages = 0
    for line in lines:
        if not line.strip():
            continue
        messages += 1
        head = _HEAD.search(line, 0, 200)
        if head is not None:
            kind, sid, seq = head.group(1).decode(), int(head.group(2)), int(head.group(3))
        else:
            try:
                obj = orjson.loads(line)
                kind, sid, seq = obj["type"], obj["sid"], obj["seq"]
            except Exception:
                continue
        if not (_int_in_range(sid, INT4_MAX) and _int_in_range(seq, INT8_MAX)):
            continue  # quarantined when parsed
        code = _KIND_CODE.get(kind)
        if code is None:
            continue
        if code == 1:  # deltas: the market matters only for snapshots (book subscription) and trades
            tid = -1
        else:
            m = _TICKER.search(line, 0, 400)
            ticker = m.group(1).decode() if m else ""
            tid = ticker_index.setdefault(ticker, len(ticker_index))
        s, k, t = per_sid[sid]
        s.append(seq)
        k.append(code)
        t.append(tid)
    nonblank = [ln for ln in lines[:200] if ln.strip()]
    tail = [ln for ln in lines[-200:] if ln.strip()]
    first = next((ts for ts in map(_line_ts, nonblank) if ts is not None), None)
    last = next((ts for ts in map(_line_ts, reversed(tail)) if ts is not None), None)
    stem = _stem(path)
    return FileScan(
        path=path,
        sha256=sha,
        size=len(raw),
        messages=messages,
        stem_ticker=stem if _TICKER_NAME.match(stem) else None,
        seqs={sid: np.asarray(v[0], dtype=np.int64) for sid, v in per_sid.items()},
        kinds={sid: np.asarray(v[1], dtype=np.int8) for sid, v in per_sid.items()},
        ticker_ids={sid: np.asarray(v[2], dtype=np.int32) for sid, v in per_sid.items()},
        tickers=list(ticker_index),
        first_ts=first,
        last_ts=last,
        truncated_at=decoded.stopped_at,
        read_error=decoded.error,
        ends_inside_line=decoded.stopped_at is not None and bool(data) and not data.endswith(b"\n"),
    )


# --------------------------------------------------------------------------- sessions and gaps


@dataclass
class Session:
    """Files of one WebSocket connection, and what their merged sequence numbers show."""

    id: str
    files: list[FileScan]
    gaps: list[SequenceGap] = field(default_factory=list)
    # sid -> sorted first-missing numbers of gaps whose messages may have carried book data
    lost_book_gaps: dict[int, list[int]] = field(default_factory=dict)
    # sid -> {first_missing: gap} for every reportable gap (emitted once, when first passed)
    gap_at: dict[int, dict[int, SequenceGap]] = field(default_factory=dict)

    @property
    def first_ts(self) -> datetime | None:
        return min((f.first_ts for f in self.files if f.first_ts), default=None)

    @property
    def last_ts(self) -> datetime | None:
        return max((f.last_ts for f in self.files if f.last_ts), default=None)

    def days(self) -> set[date]:
        a, b = self.first_ts, self.last_ts
        return {d for d in (a and trading_day(a), b and trading_day(b)) if d is not None}


def _overlaps(a: FileScan, members: list[FileScan]) -> bool:
    if a.first_ts is None or a.last_ts is None:
        return False
    lo = min((m.first_ts for m in members if m.first_ts), default=None)
    hi = max((m.last_ts for m in members if m.last_ts), default=None)
    if lo is None or hi is None:
        return False
    return a.first_ts <= hi and lo <= a.last_ts


def _collides(a: FileScan, members: list[FileScan]) -> bool:
    for m in members:
        for sid, seqs in a.seqs.items():
            other = m.seqs.get(sid)
            if other is not None and np.intersect1d(seqs, other, assume_unique=False).size:
                return True
    return False


def group_sessions(scans: Sequence[FileScan], min_coverage: float = DEFAULT_MIN_COVERAGE) -> list[Session]:
    """Group files into capture sessions and analyse each session's sequence numbers."""
    groups: list[list[FileScan]] = []
    for scan in sorted(scans, key=lambda s: (s.first_ts is None, s.first_ts or datetime.max, s.name)):
        for g in groups:
            if _overlaps(scan, g) and not _collides(scan, g):
                g.append(scan)
                break
        else:
            groups.append([scan])
    sessions = []
    for g in groups:
        start = min((f.first_ts for f in g if f.first_ts), default=None)
        sid = "ws:" + (start.strftime("%Y%m%dT%H%M%SZ") if start else g[0].sha256[:12])
        session = Session(sid, g)
        _analyse(session, min_coverage)
        sessions.append(session)
    return sessions


def _analyse(session: Session, min_coverage: float) -> None:
    sids = sorted({sid for f in session.files for sid in f.seqs})
    for sid in sids:
        parts = [(f, f.seqs[sid]) for f in session.files if sid in f.seqs]
        seqs = np.unique(np.concatenate([p[1] for p in parts]))
        if seqs.size == 0:
            continue
        is_book = any(
            bool(np.any(f.kinds[sid] != _KIND_CODE[TRADE])) for f, _ in parts
        )
        span = int(seqs[-1] - seqs[0] + 1)
        coverage = seqs.size / span
        session.gap_at[sid] = {}
        if coverage < min_coverage:
            session.gaps.append(
                SequenceGap(
                    session.id, sid, int(seqs[0]), int(seqs[-1]), "partial_session", None, None,
                    f"the files hold {seqs.size:,} of the {span:,} numbers {seqs[0]}..{seqs[-1]} "
                    f"({coverage:.1%}) of subscription {sid}: they are a slice of a larger "
                    "subscription, so missing numbers cannot be told from other markets' messages; "
                    "books are checked by their own consistency only",
                )
            )
            continue
        # first message of each market in this subscription: (seq) set
        firsts: set[int] = set()
        for f, arr in parts:
            ids = f.ticker_ids[sid]
            keep = ids >= 0  # deltas carry no ticker id; a market's first book message is its snapshot
            _, first_idx = np.unique(ids[keep], return_index=True)
            firsts.update(int(x) for x in arr[keep][first_idx])
        breaks = np.nonzero(np.diff(seqs) > 1)[0]
        lost: list[int] = []
        for i in breaks:
            first_missing, next_seq = int(seqs[i]) + 1, int(seqs[i + 1])
            last_missing = next_seq - 1
            if first_missing == last_missing and next_seq in firsts:
                kind = "subscription_ack"
                detail = (
                    f"one number missing right before the first message of a market added to "
                    f"subscription {sid}: the update_subscription reply, which carries no market data"
                )
            else:
                kind = "lost"
                n = last_missing - first_missing + 1
                detail = (
                    f"{n} message(s) missing from subscription {sid}"
                    + ("; books of this subscription are unreliable until their next snapshot" if is_book else "")
                )
                if is_book:
                    lost.append(first_missing)
            gap = SequenceGap(session.id, sid, first_missing, last_missing, kind, None, None, detail)
            session.gap_at[sid][first_missing] = gap
        if lost:
            session.lost_book_gaps[sid] = sorted(lost)


# --------------------------------------------------------------------------- pass 2: parse


class RecordedSource:
    """Capture files as a :class:`~parlay.sources.base.MarketSource`."""

    name = SOURCE

    def __init__(
        self,
        paths: Iterable[str | Path],
        *,
        min_coverage: float = DEFAULT_MIN_COVERAGE,
        known_tickers: Iterable[str] = (),
        combo_flow: ComboFlowConfig | None = None,
    ) -> None:
        """``combo_flow``: simulate combo trades over the captured legs' real prices
        (:mod:`models.simulator.combo_flow`; captures hold no combos); None: no combos."""
        self.files = capture_files(paths)
        self.combo_flow = combo_flow
        self._flows: dict[date, ComboFlow] = {}
        if not self.files:
            raise FileNotFoundError("no capture files (*.ndjson, *.ndjson.gz) under the given paths")
        self.min_coverage = min_coverage
        self.extra_known = set(known_tickers)
        self._sessions: list[Session] | None = None
        self._duplicates: list[DuplicateFile] = []
        self._unreadable: list[UnreadableFile] = []
        self._closing: dict[str, tuple[Decimal, datetime]] | None = None

    # ---------------------------------------------------------------- structure
    def sessions(self) -> list[Session]:
        if self._sessions is None:
            by_sha: dict[str, list[Path]] = defaultdict(list)
            for path in self.files:
                try:
                    by_sha[hashlib.sha256(path.read_bytes()).hexdigest()].append(path)
                except OSError as exc:
                    self._unreadable.append(UnreadableFile(str(path), path.name, exc.strerror or str(exc)))
            scans: list[FileScan] = []
            for sha, copies in by_sha.items():
                # same content under several names: read once, under the name that looks most like a
                # capture's own (a market ticker, then the shortest name); the others are duplicates
                copies.sort(key=lambda c: (not _TICKER_NAME.match(_stem(c)), len(c.name), str(c)))
                first = copies[0]
                try:
                    raw = first.read_bytes()
                except OSError as exc:
                    self._unreadable.append(UnreadableFile(str(first), first.name, exc.strerror or str(exc)))
                    continue
                decoded = decode_capture(raw)
                if decoded.error is not None and not decoded.data:
                    self._unreadable.extend(UnreadableFile(str(p), p.name, decoded.error) for p in copies)
                    continue
                self._duplicates.extend(DuplicateFile(str(p), p.name, sha, first.name) for p in copies[1:])
                scans.append(scan_file(first, raw, decoded))
                del raw, decoded
            self._sessions = group_sessions(scans, self.min_coverage)
        return self._sessions

    def unreadable_files(self) -> list[UnreadableFile]:
        """Files of which nothing could be read (named, with the reason); the others still load."""
        self.sessions()
        return list(self._unreadable)

    def duplicate_files(self) -> list[DuplicateFile]:
        """Files whose content was already read under another name (the one named like a market wins)."""
        self.sessions()
        return list(self._duplicates)

    def days(self) -> list[date]:
        return sorted({d for s in self.sessions() for d in s.days()})

    def _sessions_for(self, day: date | None) -> list[Session]:
        return [s for s in self.sessions() if day is None or day in s.days()]

    def known_tickers(self, session: Session) -> set[str]:
        known = set(self.extra_known)
        for f in session.files:
            if f.stem_ticker:
                known.add(f.stem_ticker)
            else:  # file not named after a market: trust markets that have a snapshot in it
                for sid, kinds in f.kinds.items():
                    ids = f.ticker_ids[sid][kinds == _KIND_CODE[SNAPSHOT]]
                    known.update(f.tickers[i] for i in np.unique(ids))
        known.discard("")
        return known

    def tickers(self, day: date | None = None) -> list[str]:
        return sorted({t for s in self._sessions_for(day) for t in self.known_tickers(s)})

    # ---------------------------------------------------------------- MarketSource
    def metadata(self, day: date | None = None) -> Iterator[MetadataItem]:
        """Series/events/markets inferred from tickers (captures carry no metadata)."""
        closing = self.closing_prices()
        spans: dict[str, tuple[datetime | None, datetime | None]] = {}
        for s in self._sessions_for(day):
            for t in self.known_tickers(s):
                spans[t] = (s.first_ts, s.last_ts)
        seen_series: set[str] = set()
        seen_events: set[str] = set()
        for ticker in sorted(spans):
            series = nz.series_from_ticker(ticker)
            event = nz.event_from_ticker(ticker)
            facts = series_facts(series)
            if series not in seen_series:
                seen_series.add(series)
                yield SeriesRecord(
                    series, facts.title if facts else None, facts.category if facts else None,
                    facts.frequency if facts else None, facts.fee_type if facts else None,
                    facts.fee_multiplier if facts else None, SOURCE + ":inferred",
                )
            if event not in seen_events:
                seen_events.add(event)
                yield EventRecord(
                    event, series, event, None, facts.category if facts else None,
                    facts.events_mutually_exclusive if facts else None, None, SOURCE + ":inferred",
                )
            outcome = self._outcome(closing.get(ticker))
            first, last = spans[ticker]
            suffix = ticker.rsplit("-", 1)[-1]
            yield MarketRecord(
                ticker=ticker, event_ticker=event, series_ticker=series, market_type="binary",
                title=f"{event}: {suffix}", yes_sub_title=suffix, no_sub_title=f"Not {suffix}",
                status="settled" if outcome else "closed", open_time=first, close_time=last,
                result=outcome, tick_size=Decimal("0.0100"),
                last_price=closing[ticker][0] if ticker in closing else None,
                source=SOURCE + ":inferred",
            )

    def market_stream(self, day: date | None = None) -> Iterator[StreamItem]:
        """Every message of the sessions touching ``day`` (all sessions for None), normalized.

        Book rebuild needs the whole session, so messages outside ``day`` are yielded too; callers
        keep what belongs to their day.
        """
        for unit in self.market_units(day):
            yield from unit.records

    def market_units(self, day: date | None = None) -> Iterator[StreamUnit]:
        """One unit per capture file, session by session; the session's gap summaries ride on the
        last file's unit. Consume each unit fully before the next."""
        seen_trade_ids: set[str] = set()
        for session in self._sessions_for(day):
            known = self.known_tickers(session)
            snapshotted: set[str] = set()
            emitted: set[tuple[int, int]] = set()
            last = len(session.files) - 1
            for i, scan in enumerate(session.files):
                records = self._file_stream(session, scan, known, snapshotted, seen_trade_ids, emitted)
                if i == last:
                    records = _chain(records, self._session_tail(session, emitted))
                yield StreamUnit(scan.sha256, scan.name, session.id, records, scan.size, True, str(scan.path),
                                 scan.truncated_at, scan.read_error)

    @staticmethod
    def _session_tail(session: Session, emitted: set[tuple[int, int]]) -> Iterator[StreamItem]:
        for sid, gaps in session.gap_at.items():  # gaps no file passed over
            for first, gap in gaps.items():
                if (sid, first) not in emitted:
                    yield gap
        yield from session.gaps  # partial_session summaries

    def candles(self, day: date) -> Iterator[Candle | Rejected] | None:
        return None  # built from the rebuilt books and trades downstream

    def combo_markets(self, day: date) -> Iterator[ComboMarket | Rejected]:
        # WebSocket captures of base markets carry no combos: only a simulated flow over their legs, if asked for
        return iter(self.simulated_flow(day).markets) if self.combo_flow is not None else iter(())

    def combo_trades(self, day: date) -> Iterator[Trade | Rejected]:
        return iter(self.simulated_flow(day).trades) if self.combo_flow is not None else iter(())

    def leg_paths(self, day: date) -> list[LegPath]:
        """Each captured market's real YES price over ``day``: its trades' prices in time order, with the
        market's outcome from its closing price."""
        closing = self.closing_prices()
        points: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
        for unit in self.market_units(day):
            for record in unit.records:
                if isinstance(record, Trade) and trading_day(record.ts) == day:
                    points[record.market_ticker].append((record.ts, float(record.yes_price)))
        out = []
        for ticker, pts in sorted(points.items()):
            pts.sort()
            out.append(LegPath(ticker, nz.event_from_ticker(ticker), tuple(t for t, _ in pts),
                               tuple(p for _, p in pts), self._outcome(closing.get(ticker))))
        return out

    def simulated_flow(self, day: date) -> ComboFlow:
        """The day's combo flow over the real legs (computed once per day)."""
        if self.combo_flow is None:
            raise ValueError("this recorded source simulates no combo flow (combo_flow=None)")
        if day not in self._flows:
            code = day.strftime("%y%b%d").upper()
            self._flows[day] = simulate_combo_flow(self.leg_paths(day), self.combo_flow, code)
        return self._flows[day]

    def settlements(self, day: date | None = None) -> Iterator[Settlement | Rejected]:
        closing = self.closing_prices()
        wanted = set(self.tickers(day))
        for ticker, (price, ts) in sorted(closing.items()):
            outcome = self._outcome((price, ts))
            if ticker in wanted and outcome:
                value = Decimal(1) if outcome == YES else Decimal(0)
                yield Settlement(ticker, outcome, ts, value, "closing_price")

    # ---------------------------------------------------------------- outcomes
    @staticmethod
    def _outcome(closing: tuple[Decimal, datetime] | None) -> str | None:
        if closing is None:
            return None
        price = closing[0]
        if price >= _CLOSE_YES:
            return YES
        if price <= _CLOSE_NO:
            return NO
        return None

    def closing_prices(self) -> dict[str, tuple[Decimal, datetime]]:
        """Last trade price (YES, dollars) and time per market, read from each file's tail."""
        if self._closing is None:
            closing: dict[str, tuple[Decimal, datetime]] = {}
            for path in [f.path for session in self.sessions() for f in session.files]:
                for line in reversed(read_lines(path)):
                    if b'"trade"' not in line:
                        continue
                    try:
                        obj = orjson.loads(line)
                        if obj.get("type") != TRADE:
                            continue
                        t = nz.trade(obj["msg"])
                    except Exception:
                        continue
                    prev = closing.get(t.market_ticker)
                    if prev is None or t.ts > prev[1]:
                        closing[t.market_ticker] = (t.yes_price, t.ts)
                    break  # one market per file in practice; the newest trade is enough
            self._closing = closing
        return self._closing

    # ---------------------------------------------------------------- parsing
    def _file_stream(
        self,
        session: Session,
        scan: FileScan,
        known: set[str],
        snapshotted: set[str],
        seen_trade_ids: set[str],
        emitted: set[tuple[int, int]],
    ) -> Iterator[StreamItem]:
        locator = scan.name
        lines = read_lines(scan.path)
        last_ts: datetime | None = None
        prev_seq: dict[int, int] = {}
        dup_candidates = {sid: scan.duplicated(sid) for sid in scan.seqs}
        seen_dups: set[tuple[int, int]] = set()
        live: dict[int, set[str]] = defaultdict(set)  # sid -> markets with a book in this file
        gap_starts = {sid: sorted(g) for sid, g in session.gap_at.items()}
        lost = session.lost_book_gaps

        def reject(pos: int, reason: str, detail: str, line: bytes, ticker: str | None = None) -> Rejected:
            return Rejected(SOURCE, locator, pos, reason, detail, line.decode("utf-8", "replace"), ticker)

        tracked = set(gap_starts) | set(lost)  # subscriptions with gaps to watch for
        held: dict[str, list[tuple[int, bytes, BookDelta]]] = {}  # deltas of markets with no snapshot yet
        held_cut: dict[str, int] = {}  # held deltas before the last lost message of their subscription
        kind_codes = _KIND_CODE
        loads = orjson.loads
        top_seq: dict[int, int] = {}  # sid -> highest number seen so far in this file
        premature = {sid: scan.premature(sid) for sid in scan.seqs}
        cut_line = len(lines) if scan.ends_inside_line else -1  # the line the readable prefix ends inside
        for pos, line in enumerate(lines, start=1):
            if not line:
                continue
            if pos == cut_line:
                detail = f"the file ends inside this line: {scan.read_error}"
                yield reject(pos, "truncated_line", detail, line)
                continue
            if b"\x00" in line or b"\\u0000" in line:
                detail = "the line holds a NUL character, which no text column can store"
                yield reject(pos, "nul_character", detail, line)
                continue
            try:
                obj = loads(line)
            except orjson.JSONDecodeError as exc:
                if line.isspace():
                    continue
                yield reject(pos, "malformed_json", f"line is not JSON ({exc})", line)
                continue
            msg = obj.get("msg") if type(obj) is dict else None
            if type(msg) is not dict:
                yield reject(pos, "malformed_message", "expected an object with a 'msg' object", line)
                continue
            kind = obj.get("type")
            if kind not in kind_codes:
                yield reject(pos, "unknown_message_type", f"message type {kind!r} is not a book or trade message", line)
                continue
            sid, seq = obj.get("sid"), obj.get("seq")
            ticker = msg.get("market_ticker")
            if ticker is not None and type(ticker) is not str:
                yield reject(pos, "malformed_message", "market_ticker must be a string", line)
                continue
            if type(sid) is not int or type(seq) is not int:
                # orjson reads integers beyond 64 bits as floats
                if type(sid) in (int, float) and type(seq) in (int, float):
                    detail = f"sid {sid!r} / seq {seq!r}: sid must fit 0..{INT4_MAX} and seq 0..{INT8_MAX}"
                    yield reject(pos, "integer_out_of_range", detail, line, ticker)
                else:
                    yield reject(pos, "malformed_message", "sid and seq must be integers", line, ticker)
                continue
            if not (0 <= sid <= INT4_MAX and 0 <= seq <= INT8_MAX):
                detail = f"sid {sid} / seq {seq}: sid must fit 0..{INT4_MAX} and seq 0..{INT8_MAX}"
                yield reject(pos, "integer_out_of_range", detail, line, ticker)
                continue
            dups = dup_candidates.get(sid)
            if dups and seq in dups:
                if (sid, seq) in seen_dups:
                    detail = f"sid {sid} seq {seq} already seen in this file"
                    yield reject(pos, "duplicate_message", detail, line, ticker)
                    continue
                seen_dups.add((sid, seq))
            top = top_seq.get(sid, -1)
            if seq < top and kind != TRADE:
                # a book message after a higher number: the book cannot be rebuilt in order from here
                detail = (f"seq {seq} of subscription {sid} arrives after seq {top}: book messages out of order; "
                          "the market's book is unreliable until its next snapshot")
                yield reject(pos, "out_of_order", detail, line, ticker)
                if ticker in live[sid]:
                    yield BookInvalidated(ticker, last_ts or scan.first_ts or datetime.min, sid, seq, "out_of_order")
                continue
            if seq > top:
                top_seq[sid] = seq
            early = premature.get(sid)
            if early and seq in early and kind != TRADE and ticker in live[sid]:
                yield BookInvalidated(ticker, last_ts or scan.first_ts or datetime.min, sid, seq, "out_of_order")
            if sid in tracked:
                # gaps between this file's previous message in the subscription and this one
                p = prev_seq.get(sid)
                prev_seq[sid] = seq
                if p is not None and p < seq:
                    starts = gap_starts.get(sid)
                    if starts:
                        lo, hi = bisect_right(starts, p), bisect_left(starts, seq)
                        for first in starts[lo:hi]:
                            if (sid, first) not in emitted:
                                emitted.add((sid, first))
                                yield session.gap_at[sid][first]._replace(ts=last_ts)
                    lost_starts = lost.get(sid)
                    if lost_starts and bisect_left(lost_starts, seq) > bisect_right(lost_starts, p):
                        for t in sorted(live[sid]):
                            yield BookInvalidated(t, last_ts or scan.first_ts or datetime.min, sid, seq, "sequence_gap")
                        for t, h in held.items():  # held deltas before a lost message cannot be placed
                            if h and h[-1][2].sid == sid:
                                held_cut[t] = len(h)
            if ticker not in known:
                detail = f"market {ticker!r} is not one of this capture's markets"
                yield reject(pos, "unknown_ticker", detail, line, None)
                continue
            try:
                if kind == DELTA:
                    d = nz.ws_delta(msg, sid, seq)
                    last_ts = d.ts
                    if ticker not in snapshotted:  # placed backward once a later snapshot arrives
                        held.setdefault(ticker, []).append((pos, line, d))
                        continue
                    yield d
                elif kind == TRADE:
                    t = nz.trade(msg, sid, seq)
                    last_ts = t.ts
                    if t.trade_id in seen_trade_ids:
                        yield reject(pos, "duplicate_trade_id", f"trade {t.trade_id} was already read", line, ticker)
                        continue
                    seen_trade_ids.add(t.trade_id)
                    yield t
                else:
                    ts = last_ts or self._lookahead_ts(lines, pos) or scan.first_ts
                    if ts is None:
                        detail = "no timestamped message in the file to date this snapshot"
                        yield reject(pos, "no_timestamp", detail, line, ticker)
                        continue
                    snap = nz.ws_snapshot(msg, ts, sid, seq)
                    if ticker in held:
                        yield from place_backward(held.pop(ticker), snap, reject, held_cut.pop(ticker, 0))
                    snapshotted.add(ticker)
                    live[sid].add(ticker)
                    yield snap
            except nz.PayloadError as exc:
                yield reject(pos, exc.reason, exc.detail, line, ticker)
                if kind != TRADE and ticker in live[sid]:
                    when = last_ts or scan.first_ts or datetime.min
                    yield BookInvalidated(ticker, when, sid, seq, "rejected_" + exc.reason)
            except Exception as exc:  # any other fault of one message stays with that message
                yield reject(pos, "unprocessable_message", f"{type(exc).__name__}: {exc}", line, ticker)
                if kind != TRADE and ticker in live[sid]:
                    when = last_ts or scan.first_ts or datetime.min
                    yield BookInvalidated(ticker, when, sid, seq, "rejected_unprocessable_message")
        for ticker, h in held.items():
            for pos, line, _ in h:
                detail = "no snapshot of this market precedes the delta, and none follows it in this file"
                yield reject(pos, "delta_before_snapshot", detail, line, ticker)

    @staticmethod
    def _lookahead_ts(lines: list[bytes], pos: int, limit: int = 1000) -> datetime | None:
        for line in lines[pos : pos + limit]:
            if b'"ts"' in line:
                ts = _line_ts(line)
                if ts is not None:
                    return ts
        return None


def place_backward(
    held: list[tuple[int, bytes, BookDelta]],
    later: BookSnapshot,
    reject: Callable[[int, str, str, bytes, str | None], Rejected],
    cut: int = 0,
) -> Iterator[StreamItem]:
    """Place a market's deltas held before its first snapshot ``later``: quarantine those that cannot be
    placed (before ``cut``, a lost message lies between them and the snapshot; then those the backward
    rebuild rejects), then yield the rebuilt state before the first placed delta and the placed deltas."""
    ticker = later.market_ticker
    for pos, line, _ in held[:cut]:
        detail = ("a lost message of this subscription lies between the delta and the market's first "
                  "snapshot, so neither a forward nor a backward rebuild can place it")
        yield reject(pos, "delta_before_snapshot", detail, line, ticker)
    rest = held[cut:]
    deltas = [d for _, _, d in rest]
    result = rebuild_backward(deltas, later)
    for pos, line, _ in rest[: result.placed_from]:
        yield reject(pos, "backward_rebuild_negative_size", result.failure or "", line, ticker)
    placed = deltas[result.placed_from :]
    if placed:
        first = placed[0]
        yield BookSeed(ticker, first.ts, result.opening_yes, result.opening_no, first.sid, first.seq,
                       result.rebuilt_from, len(placed))
        yield from placed
