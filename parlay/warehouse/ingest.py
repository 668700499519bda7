"""Load a source's records into the raw and quarantine tables.

Every input is accounted for: per unit (a capture file, or a source's day) ``read = loaded +
quarantined``. Loads are idempotent: a unit is replaced as a whole inside one transaction (same file,
or same source and day), and natural keys catch the same record arriving through another unit.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

import psycopg

from models.orderbook import SECOND_US, BookBuilder
from models.records import (
    BookDelta,
    BookInvalidated,
    BookSeed,
    BookSnapshot,
    ComboMarket,
    EventRecord,
    MarketRecord,
    Rejected,
    SequenceGap,
    SeriesRecord,
    Settlement,
    Trade,
)
from parlay.sources.base import MarketSource, StreamUnit, stream_units
from parlay.warehouse import tables as T
from parlay.warehouse.bulk import BulkWriter, delete_scope

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

_STREAM_TABLES_FILE = (
    "raw.orderbook_deltas", "raw.orderbook_snapshots", "raw.orderbook_tops", "raw.trades",
    "quarantine.rejected_records",
)


@dataclass
class UnitReport:
    label: str
    key: str
    session: str
    file_id: int | None = None
    messages_read: int = 0
    snapshots: int = 0
    deltas: int = 0
    trades: int = 0
    quarantined: int = 0
    tops: int = 0
    invalidations: int = 0
    already_present: int = 0
    outside_day: int = 0
    truncated_at: int | None = None  # the file ended early at this compressed byte offset
    read_error: str | None = None
    rebuilt_backward: int = 0  # loaded deltas placed backward from a later snapshot (also in ``deltas``)

    @property
    def loaded(self) -> int:
        return self.snapshots + self.deltas + self.trades

    @property
    def balanced(self) -> bool:
        return self.messages_read == self.loaded + self.quarantined


@dataclass
class StreamReport:
    units: list[UnitReport] = field(default_factory=list)
    gaps: Counter[str] = field(default_factory=Counter)
    markets: set[str] = field(default_factory=set)
    quarantine_reasons: Counter[str] = field(default_factory=Counter)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (file name, name whose load holds it)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file name, why nothing could be read)

    def total(self, name: str) -> int:
        return sum(getattr(u, name) for u in self.units)

    @property
    def gap_count(self) -> int:
        """Real gaps (lost, subscription replies, proven inconsistencies); partial-session notes aside."""
        return sum(n for kind, n in self.gaps.items() if kind != "partial_session")

    def summary(self) -> dict:
        return {
            "files": sum(1 for u in self.units if u.file_id is not None),
            "messages_read": self.total("messages_read"),
            "loaded": {
                "orderbook_snapshots": self.total("snapshots"),
                "orderbook_deltas": self.total("deltas"),
                "trades": self.total("trades"),
            },
            "quarantined": self.total("quarantined"),
            "rebuilt_backward": self.total("rebuilt_backward"),
            "gaps": self.gap_count,
            "markets": len(self.markets),
            "per_file": [
                {"file": u.label, "read": u.messages_read, "loaded": u.loaded, "quarantined": u.quarantined}
                | ({"truncated_at_byte": u.truncated_at} if u.truncated_at is not None else {})
                for u in self.units
                if u.file_id is not None
            ],
            "duplicates": [{"file": name, "duplicate_of": of} for name, of in self.duplicates],
            "unreadable": [{"file": name, "error": error} for name, error in self.unreadable],
        }


def _record_name(conn: psycopg.Connection, file_id: int, name: str, path: str, duplicate_of: str | None) -> None:
    conn.execute(
        """INSERT INTO raw.capture_file_names (file_id, file_name, path, duplicate_of) VALUES (%s, %s, %s, %s)
           ON CONFLICT (file_id, path) DO UPDATE SET duplicate_of = EXCLUDED.duplicate_of, seen_at = now()""",
        (file_id, name, path, duplicate_of),
    )


def _register_file(conn: psycopg.Connection, unit: StreamUnit) -> tuple[int, bool]:
    """The file's id, and whether it was loaded before (then its rows are replaced: same content).

    Content is identified by its sha256 and keeps the name it was first loaded under; a later name of
    the same content is recorded in ``raw.capture_file_names`` as a duplicate of that name."""
    row = conn.execute(
        """INSERT INTO raw.capture_files (sha256, file_name, size_bytes, session)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (sha256) DO UPDATE SET session = EXCLUDED.session
           RETURNING file_id, (xmax <> 0) AS existed, file_name""",
        (unit.key, unit.label, unit.size_bytes or 0, unit.session),
    ).fetchone()
    assert row is not None
    file_id, loaded_name = int(row[0]), str(row[2])
    _record_name(conn, file_id, unit.label, unit.path or unit.label,
                 None if loaded_name == unit.label else loaded_name)
    return file_id, bool(row[1])


def _record_duplicates(conn: psycopg.Connection, source: MarketSource, report: StreamReport) -> None:
    """Files skipped because their content was read under another name: recorded, never loaded."""
    duplicates = getattr(source, "duplicate_files", None)
    if not callable(duplicates):
        return
    for dup in duplicates():
        with conn.transaction():
            row = conn.execute("SELECT file_id, file_name FROM raw.capture_files WHERE sha256 = %s",
                               (dup.sha256,)).fetchone()
            of = dup.duplicate_of
            if row is not None:
                of = str(row[1])
                _record_name(conn, int(row[0]), dup.name, dup.path, of)
        report.duplicates.append((dup.name, of))


def load_market_stream(
    conn: psycopg.Connection,
    source: MarketSource,
    day: date | None = None,
    *,
    replace: bool = True,
    resolution_us: int = SECOND_US,
    progress: Progress | None = None,
) -> StreamReport:
    """Load book snapshots, deltas, rebuilt tops and trades, unit by unit.

    ``day`` keeps only rows of that trading day (the whole stream is still read: books need it).
    ``replace`` clears what a previous load of the same unit wrote before writing it again.
    """
    report = StreamReport()
    builders: dict[str, BookBuilder] = {}
    src = source.name
    for unit in stream_units(source, day):
        builder = builders.get(unit.session)
        if builder is None:
            builder = builders[unit.session] = BookBuilder(unit.session, resolution_us)
        if progress:
            progress(f"loading {unit.label}")
        with conn.transaction():
            file_id, existed = _register_file(conn, unit) if unit.is_file else (None, True)
            if replace and existed:
                if file_id is not None:
                    where, params = "file_id = %s", (file_id,)
                    if day is not None:
                        where += " AND trading_day = %s"
                        params = (file_id, day)
                    delete_scope(conn, _STREAM_TABLES_FILE, where, params)
                elif day is not None:
                    delete_scope(conn, _STREAM_TABLES_FILE[:-1], "source = %s AND trading_day = %s", (src, day))
                    delete_scope(conn, _STREAM_TABLES_FILE[-1:], "source = %s AND (unit_key = %s OR locator = %s)",
                                 (src, unit.key, unit.key))
            ur = _load_unit(conn, src, unit, builder, file_id, day, report)
        report.units.append(ur)
        if not ur.balanced:
            log.warning("%s: read %d but loaded %d + quarantined %d", ur.label, ur.messages_read, ur.loaded,
                        ur.quarantined)
    _record_duplicates(conn, source, report)
    unreadable = getattr(source, "unreadable_files", None)
    if callable(unreadable):
        report.unreadable.extend((f.name, f.error) for f in unreadable())
    return report


def _load_unit(
    conn: psycopg.Connection,
    src: str,
    unit: StreamUnit,
    builder: BookBuilder,
    file_id: int | None,
    day: date | None,
    report: StreamReport,
) -> UnitReport:
    ur = UnitReport(unit.label, unit.key, unit.session, file_id, truncated_at=unit.truncated_at,
                    read_error=unit.read_error)
    deltas = BulkWriter(conn, T.DELTAS, day=day)
    snaps = BulkWriter(conn, T.SNAPSHOTS, day=day)
    tops = BulkWriter(conn, T.TOPS, day=day)
    trades = BulkWriter(conn, T.TRADES, day=day)
    rejected = BulkWriter(conn, T.REJECTED)
    gaps = BulkWriter(conn, T.GAPS)
    inconsistencies_before = len(builder.inconsistencies)
    markets = report.markets
    for rec in unit.records:
        kind = type(rec)
        if kind is BookDelta:
            ur.messages_read += 1
            new_tops = builder.feed(rec)
            if new_tops is None:
                ur.quarantined += 1
                report.quarantine_reasons["delta_before_snapshot"] += 1
                rejected.add(T.rejected_row(Rejected(
                    src, unit.key, ur.messages_read, "delta_before_snapshot",
                    "no snapshot of this market precedes the delta", repr(rec), rec.market_ticker,
                ), day, file_id, unit.key))
                continue
            ur.deltas += 1
            deltas.add(T.delta_row(rec, src, file_id))
            for top in new_tops:
                tops.add(T.top_row(top, src, file_id))
        elif kind is Trade:
            ur.messages_read += 1
            ur.trades += 1
            markets.add(rec.market_ticker)
            trades.add(T.trade_row(rec, src, file_id))
        elif kind is BookSnapshot:
            ur.messages_read += 1
            ur.snapshots += 1
            markets.add(rec.market_ticker)
            snaps.add(T.snapshot_row(rec, src, file_id))
            for top in builder.feed(rec) or ():
                tops.add(T.top_row(top, src, file_id))
        elif kind is Rejected:
            ur.messages_read += 1
            ur.quarantined += 1
            report.quarantine_reasons[rec.reason] += 1
            rejected.add(T.rejected_row(rec, day, file_id, unit.key))
        elif kind is BookInvalidated:
            ur.invalidations += 1
            for top in builder.feed(rec) or ():
                tops.add(T.top_row(top, src, file_id))
        elif kind is BookSeed:  # not a message: the deltas placed backward follow it
            ur.rebuilt_backward += rec.deltas
            for top in builder.feed(rec) or ():
                tops.add(T.top_row(top, src, file_id))
        elif kind is SequenceGap:
            report.gaps[rec.kind] += 1
            gaps.add(T.gap_row(rec))
        else:
            raise TypeError(f"{src}: unexpected record in a market stream: {kind.__name__}")
    for top in builder.flush():
        tops.add(T.top_row(top, src, file_id))
    for gap in builder.inconsistencies[inconsistencies_before:]:
        report.gaps[gap.kind] += 1
        gaps.add(T.gap_row(gap))
    for w in (deltas, snaps, tops, trades, rejected, gaps):
        w.flush()
    ur.tops = tops.result.staged
    ur.already_present = sum(w.result.already_present for w in (deltas, snaps, trades))
    ur.outside_day = sum(w.result.outside_day for w in (deltas, snaps, trades))
    if file_id is not None:
        conn.execute(
            """UPDATE raw.capture_files SET messages_read = %s, loaded_snapshots = %s, loaded_deltas = %s,
               loaded_trades = %s, quarantined = %s, truncated_at_byte = %s, read_error = %s, outside_day = %s,
               loaded_at = now() WHERE file_id = %s""",
            (ur.messages_read, ur.snapshots, ur.deltas, ur.trades, ur.quarantined, ur.truncated_at, ur.read_error,
             ur.outside_day, file_id),
        )
    return ur


# ----------------------------------------------------------------------------- other assets


@dataclass
class LoadCounts:
    """Rows accepted per table and rejected records, for one load."""

    loaded: Counter[str] = field(default_factory=Counter)
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    already_present: int = 0

    def as_metadata(self) -> dict[str, int]:
        out = {f"rows_{k}": v for k, v in sorted(self.loaded.items())}
        out["quarantined"] = self.quarantined
        out["already_present"] = self.already_present
        return out


def _quarantine(conn: psycopg.Connection, rejects: list[Rejected], day: date | None, counts: LoadCounts) -> None:
    if not rejects:
        return
    w = BulkWriter(conn, T.REJECTED)
    for r in rejects:
        counts.quarantined += 1
        counts.reasons[r.reason] += 1
        w.add(T.rejected_row(r, day, None))
    w.flush()


def load_metadata(conn: psycopg.Connection, items: Iterable[object], day: date | None = None) -> LoadCounts:
    """Upsert series, events and markets (latest values win)."""
    counts = LoadCounts()
    series, events, markets = BulkWriter(conn, T.SERIES), BulkWriter(conn, T.EVENTS), BulkWriter(conn, T.MARKETS)
    rejects: list[Rejected] = []
    with conn.transaction():
        for item in items:
            if isinstance(item, SeriesRecord):
                series.add(T.series_row(item))
                counts.loaded["series"] += 1
            elif isinstance(item, EventRecord):
                events.add(T.event_row(item))
                counts.loaded["events"] += 1
            elif isinstance(item, MarketRecord):
                markets.add(T.market_row(item))
                counts.loaded["markets"] += 1
            elif isinstance(item, Rejected):
                rejects.append(item)
            else:
                raise TypeError(f"unexpected metadata record {type(item).__name__}")
        for w in (series, events, markets):
            w.flush()
        _quarantine(conn, rejects, day, counts)
    return counts


def load_combo_markets(conn: psycopg.Connection, items: Iterable[object], day: date | None = None) -> LoadCounts:
    """Upsert combo (multivariate) markets and replace their legs; legs on unknown markets are kept
    (the features layer reports them) but a combo with fewer than two legs is rejected upstream."""
    counts = LoadCounts()
    combos, legs = BulkWriter(conn, T.COMBO_MARKETS), BulkWriter(conn, T.COMBO_LEGS)
    rejects: list[Rejected] = []
    with conn.transaction():
        tickers: list[str] = []
        for item in items:
            if isinstance(item, ComboMarket):
                combos.add(T.combo_market_row(item))
                legs.extend(T.combo_leg_rows(item))
                tickers.append(item.ticker)
                counts.loaded["combo_markets"] += 1
                counts.loaded["combo_legs"] += len(item.legs)
            elif isinstance(item, Rejected):
                rejects.append(item)
            else:
                raise TypeError(f"unexpected combo record {type(item).__name__}")
        combos.flush()
        if tickers:
            conn.execute("DELETE FROM raw.combo_legs WHERE combo_ticker = ANY(%s)", (tickers,))
        legs.flush()
        _quarantine(conn, rejects, day, counts)
    return counts


def load_combo_trades(
    conn: psycopg.Connection, source_name: str, items: Iterable[object], day: date | None, *, replace: bool = True
) -> LoadCounts:
    counts = LoadCounts()
    w = BulkWriter(conn, T.COMBO_TRADES, day=day)
    rejects: list[Rejected] = []
    seen: set[str] = set()
    with conn.transaction():
        if replace and day is not None:
            conn.execute("DELETE FROM raw.combo_trades WHERE source = %s AND trading_day = %s", (source_name, day))
        for item in items:
            if isinstance(item, Trade):
                if item.trade_id in seen:
                    rejects.append(Rejected(source_name, "combo_trades", len(seen), "duplicate_trade_id",
                                            f"trade {item.trade_id} was already read", repr(item), item.market_ticker))
                    continue
                seen.add(item.trade_id)
                w.add(T.combo_trade_row(item, source_name))
            elif isinstance(item, Rejected):
                rejects.append(item)
            else:
                raise TypeError(f"unexpected combo trade record {type(item).__name__}")
        w.flush()
        counts.loaded["combo_trades"] = w.result.inserted
        counts.already_present = w.result.already_present
        _quarantine(conn, rejects, day, counts)
    return counts


def load_settlements(conn: psycopg.Connection, source_name: str, items: Iterable[object],
                     day: date | None = None) -> LoadCounts:
    counts = LoadCounts()
    w = BulkWriter(conn, T.SETTLEMENTS)
    rejects: list[Rejected] = []
    with conn.transaction():
        for item in items:
            if isinstance(item, Settlement):
                w.add(T.settlement_row(item, source_name))
                counts.loaded["settlements"] += 1
            elif isinstance(item, Rejected):
                rejects.append(item)
            else:
                raise TypeError(f"unexpected settlement record {type(item).__name__}")
        w.flush()
        _quarantine(conn, rejects, day, counts)
    return counts


def load_candles(conn: psycopg.Connection, source_name: str, items: Iterable[object],
                 day: date | None = None) -> LoadCounts:
    """Exchange candles (live source)."""
    from models.records import Candle

    counts = LoadCounts()
    w = BulkWriter(conn, T.CANDLES)
    rejects: list[Rejected] = []
    with conn.transaction():
        for item in items:
            if isinstance(item, Candle):
                w.add(T.candle_row(item, "exchange", source_name))
                counts.loaded["candles"] += 1
            elif isinstance(item, Rejected):
                rejects.append(item)
            else:
                raise TypeError(f"unexpected candle record {type(item).__name__}")
        w.flush()
        _quarantine(conn, rejects, day, counts)
    return counts


BUILD_CANDLES_SQL = """
WITH book AS (
    SELECT market_ticker, date_trunc('minute', ts) + interval '1 minute' AS end_ts, ts, seq,
           yes_bid, 1 - no_bid AS yes_ask
    FROM raw.orderbook_tops
    WHERE trading_day = %(day)s AND source = %(source)s
), b AS (
    SELECT market_ticker, end_ts,
           (array_agg(yes_bid ORDER BY ts, seq))[1] AS yes_bid_open, max(yes_bid) AS yes_bid_high,
           min(yes_bid) AS yes_bid_low, (array_agg(yes_bid ORDER BY ts DESC, seq DESC))[1] AS yes_bid_close,
           (array_agg(yes_ask ORDER BY ts, seq))[1] AS yes_ask_open, max(yes_ask) AS yes_ask_high,
           min(yes_ask) AS yes_ask_low, (array_agg(yes_ask ORDER BY ts DESC, seq DESC))[1] AS yes_ask_close
    FROM book GROUP BY market_ticker, end_ts
), tr AS (
    SELECT market_ticker, date_trunc('minute', ts) + interval '1 minute' AS end_ts,
           (array_agg(yes_price ORDER BY ts, seq, trade_id))[1] AS price_open, max(yes_price) AS price_high,
           min(yes_price) AS price_low,
           (array_agg(yes_price ORDER BY ts DESC, seq DESC, trade_id DESC))[1] AS price_close,
           sum(count) AS volume
    FROM raw.trades
    WHERE trading_day = %(day)s AND source = %(source)s
    GROUP BY market_ticker, end_ts
)
INSERT INTO raw.candles (market_ticker, period_minutes, end_ts, trading_day,
    yes_bid_open, yes_bid_high, yes_bid_low, yes_bid_close, yes_ask_open, yes_ask_high, yes_ask_low, yes_ask_close,
    price_open, price_high, price_low, price_close, volume, open_interest, origin, source)
SELECT market_ticker, 1, end_ts, %(day)s,
       b.yes_bid_open, b.yes_bid_high, b.yes_bid_low, b.yes_bid_close,
       b.yes_ask_open, b.yes_ask_high, b.yes_ask_low, b.yes_ask_close,
       tr.price_open, tr.price_high, tr.price_low, tr.price_close, coalesce(tr.volume, 0), NULL, 'built', %(source)s
FROM b FULL JOIN tr USING (market_ticker, end_ts)
ON CONFLICT (market_ticker, period_minutes, end_ts) DO UPDATE SET
    trading_day = EXCLUDED.trading_day,
    yes_bid_open = EXCLUDED.yes_bid_open, yes_bid_high = EXCLUDED.yes_bid_high,
    yes_bid_low = EXCLUDED.yes_bid_low, yes_bid_close = EXCLUDED.yes_bid_close,
    yes_ask_open = EXCLUDED.yes_ask_open, yes_ask_high = EXCLUDED.yes_ask_high,
    yes_ask_low = EXCLUDED.yes_ask_low, yes_ask_close = EXCLUDED.yes_ask_close,
    price_open = EXCLUDED.price_open, price_high = EXCLUDED.price_high, price_low = EXCLUDED.price_low,
    price_close = EXCLUDED.price_close, volume = EXCLUDED.volume, origin = EXCLUDED.origin,
    source = EXCLUDED.source
"""


def build_candles(conn: psycopg.Connection, source_name: str, day: date) -> int:
    """1-minute candles of one day from the rebuilt books and the trades (recorded, simulated)."""
    with conn.transaction():
        conn.execute("DELETE FROM raw.candles WHERE trading_day = %s AND source = %s AND origin = 'built'",
                     (day, source_name))
        return conn.execute(BUILD_CANDLES_SQL, {"day": day, "source": source_name}).rowcount
