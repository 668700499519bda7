"""The structural layer's warehouse edge: read the dbt marts of one trading day, call
:mod:`models.structural`, write ``marts.market_families``, ``marts.binary_variables``,
``marts.combo_structure`` and ``marts.combo_targets``.

These tables are written per trading day (rows of the day are replaced); migration 0006 creates them;
the dbt model ``marts.combo_features`` reads ``combo_structure`` through the dbt source ``marts``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from models import structural as S

JSON_COLUMNS = frozenset({"literals", "legs", "canonical_legs", "terms"})
INTEGER_COLUMNS = frozenset(
    {
        "n_markets",
        "member_index",
        "price_minutes",
        "n_cells",
        "cell_lo",
        "cell_hi",
        "n_literals",
        "orientation",
        "variable_index",
        "n_legs",
        "n_clusters",
        "n_axes",
        "n_complemented",
        "n_no_legs",
        "markup_coefficient",
        "n_terms",
        "n_implied_terms",
    }
)


def _frame(conn: psycopg.Connection, query: str, params: dict[str, object]) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute(query, params)
        cols = [d.name for d in cur.description or ()]
        return pd.DataFrame(cur.fetchall(), columns=cols)


def _clean(value: object, column: str) -> object:
    if column in JSON_COLUMNS:
        return Jsonb(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    if column in INTEGER_COLUMNS and value is not None:
        return int(value)  # type: ignore[call-overload]
    return value


def replace_day(
    conn: psycopg.Connection, table: str, day: date, frame: pd.DataFrame, columns: Sequence[str]
) -> int:
    """Replace the rows of ``day`` in ``marts.<table>`` by ``frame`` (plus the trading_day column)."""
    target = sql.Identifier("marts", table)
    conn.execute(sql.SQL("DELETE FROM {} WHERE trading_day = %s").format(target), (day,))
    names = sql.SQL(", ").join(sql.Identifier(c) for c in ("trading_day", *columns))
    with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(target, names)) as copy:
        for row in frame[list(columns)].itertuples(index=False, name=None):
            copy.write_row((day, *(_clean(v, c) for v, c in zip(row, columns, strict=True))))
    return len(frame)


# --- reads ------------------------------------------------------------------------------------------

DAY_MARKETS_SQL = """
WITH day_markets AS (
    SELECT DISTINCT market_ticker FROM marts.price_panel_1m WHERE trading_day = %(day)s
    UNION
    SELECT l.market_ticker
    FROM intermediate.int_combos_observed o
    JOIN staging.stg_kalshi__combo_legs l USING (combo_ticker)
    WHERE o.trading_day = %(day)s
    UNION
    SELECT market_ticker FROM marts.markets
    WHERE (close_time AT TIME ZONE 'America/New_York')::date = %(day)s
)
SELECT m.market_ticker, m.cluster_id, m.event_ticker, m.series_ticker, m.market_family, m.market_subfamily,
       m.strike_type, m.floor_strike::float8 AS floor_strike, m.cap_strike::float8 AS cap_strike,
       m.mutually_exclusive, m.fee_type, m.fee_multiplier::float8 AS fee_multiplier
FROM marts.markets m
WHERE m.cluster_id IN (SELECT mk.cluster_id FROM marts.markets mk JOIN day_markets USING (market_ticker))
ORDER BY m.market_ticker
"""

PANEL_SQL = """
SELECT market_ticker, minute, mid, spread
FROM marts.price_panel_1m
WHERE trading_day = %(day)s AND NOT is_stale
"""

CORRELATIONS_SQL = """
SELECT market_a, market_b, n, rho
FROM marts.pair_correlations
WHERE trading_day = %(day)s AND same_cluster
"""

DAY_COMBO_LEGS_SQL = """
SELECT l.combo_ticker, l.leg_index, l.market_ticker, l.side
FROM staging.stg_kalshi__combo_legs l
WHERE l.combo_ticker IN (
    SELECT combo_ticker FROM intermediate.int_combos_observed WHERE trading_day = %(day)s
)
ORDER BY l.combo_ticker, l.leg_index
"""


@dataclass(frozen=True)
class StructureCounts:
    markets: int
    clusters: int
    variables: int
    families: int
    family_rows: int
    combos: int
    impossible_combos: int
    unmapped_combos: int

    def as_metadata(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.__dict__.items()}


def build_structure(
    conn: psycopg.Connection, day: date, config: S.StructureConfig | None = None
) -> StructureCounts:
    """Families, binary variables and combo verdicts of one trading day, written to the marts schema."""
    cfg = config or S.StructureConfig()
    conn.execute("SET LOCAL jit = off")
    params: dict[str, object] = {"day": day}
    markets = _frame(conn, DAY_MARKETS_SQL, params)
    panel = _frame(conn, PANEL_SQL, params)
    correlations = _frame(conn, CORRELATIONS_SQL, params)
    combo_legs = _frame(conn, DAY_COMBO_LEGS_SQL, params)
    if markets.empty:
        markets = pd.DataFrame(
            columns=[
                "market_ticker",
                "cluster_id",
                "event_ticker",
                "series_ticker",
                "market_family",
                "market_subfamily",
                "strike_type",
                "floor_strike",
                "cap_strike",
                "mutually_exclusive",
            ]
        )
    stats = S.exclusive_event_stats(markets, panel, cfg)
    mapping = S.place_markets(markets, S.exhaustive_events(markets, stats))
    variables = S.binary_variables(mapping, markets)
    families = S.detect_families(markets, mapping, panel, correlations, cfg)
    if combo_legs.empty:
        combos = pd.DataFrame(columns=S.COMBO_STRUCTURE_COLUMNS)
    else:
        combos = S.assess_combos(combo_legs, variables, families)
    replace_day(conn, "binary_variables", day, variables, S.BINARY_VARIABLE_COLUMNS)
    replace_day(conn, "market_families", day, families, S.MARKET_FAMILY_COLUMNS)
    replace_day(conn, "combo_structure", day, combos, S.COMBO_STRUCTURE_COLUMNS)
    return StructureCounts(
        markets=len(variables),
        clusters=int(markets["cluster_id"].nunique()),
        variables=len(mapping.variable_index),
        families=int(families["family_id"].nunique()) if not families.empty else 0,
        family_rows=len(families),
        combos=len(combos),
        impossible_combos=int(combos["impossible"].sum()) if not combos.empty else 0,
        unmapped_combos=int((~combos["mapped"].astype(bool)).sum()) if not combos.empty else 0,
    )


DAY_TRADES_SQL = """
SELECT trade_id, combo_ticker, ts, yes_price::float8 AS yes_price, contracts::float8 AS contracts
FROM staging.stg_kalshi__combo_trades
WHERE trading_day = %(day)s
"""

TRADE_LEGS_SQL = """
SELECT l.combo_ticker, l.leg_index, l.market_ticker, l.side
FROM staging.stg_kalshi__combo_legs l
WHERE l.combo_ticker IN (
    SELECT combo_ticker FROM staging.stg_kalshi__combo_trades WHERE trading_day = %(day)s
)
"""

QUOTES_SQL = """
SELECT market_ticker, ts, yes_ask::float8 AS yes_ask, yes_bid::float8 AS yes_bid
FROM marts.book_snapshots
WHERE is_valid AND trading_day = %(day)s AND market_ticker = ANY(%(markets)s)
UNION ALL
SELECT * FROM (
    SELECT DISTINCT ON (market_ticker) market_ticker, ts, yes_ask::float8, yes_bid::float8
    FROM marts.book_snapshots
    WHERE is_valid AND trading_day = %(day)s - 1 AND market_ticker = ANY(%(markets)s)
    ORDER BY market_ticker, ts DESC
) carried
"""

FEES_SQL = """
SELECT market_ticker, fee_type, fee_multiplier::float8 AS fee_multiplier
FROM marts.markets WHERE market_ticker = ANY(%(markets)s)
"""

COMBO_FEES_SQL = """
SELECT c.combo_ticker, s.fee_type, s.fee_multiplier::float8 AS fee_multiplier
FROM staging.stg_kalshi__combo_markets c
JOIN staging.stg_kalshi__series s ON s.series_ticker = c.collection_ticker
WHERE c.combo_ticker = ANY(%(combos)s)
"""


@dataclass(frozen=True)
class TargetCounts:
    trades: int
    impossible: int
    usable: int
    exact: int
    with_no_legs: int

    def as_metadata(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.__dict__.items()}


def _strings(values: Iterable[object]) -> list[str]:
    return sorted({str(v) for v in values if isinstance(v, str)})


def build_combo_targets(conn: psycopg.Connection, day: date) -> TargetCounts:
    """The fee-bias-corrected all-YES target of every combo trade of the day (needs the day's structure)."""
    conn.execute("SET LOCAL jit = off")
    params: dict[str, object] = {"day": day}
    trades = _frame(conn, DAY_TRADES_SQL, params)
    legs = _frame(conn, TRADE_LEGS_SQL, params)
    structure = _frame(conn, "SELECT * FROM marts.combo_structure WHERE trading_day = %(day)s", params)
    variables = _frame(conn, "SELECT * FROM marts.binary_variables WHERE trading_day = %(day)s", params)
    if trades.empty:
        replace_day(
            conn, "combo_targets", day, pd.DataFrame(columns=S.COMBO_TARGET_COLUMNS), S.COMBO_TARGET_COLUMNS
        )
        return TargetCounts(0, 0, 0, 0, 0)
    if structure.empty:
        structure = pd.DataFrame(columns=["combo_ticker", "impossible", "impossible_reason"])
    if variables.empty:
        variables = pd.DataFrame(columns=S.BINARY_VARIABLE_COLUMNS)
    markets = _strings([*legs["market_ticker"], *variables["complement_ticker"]])
    quotes = _frame(conn, QUOTES_SQL, {**params, "markets": markets})
    fees = {
        str(r.market_ticker): (r.fee_type, r.fee_multiplier)
        for r in _frame(conn, FEES_SQL, {"markets": markets}).itertuples(index=False)
    }
    combo_fees = {
        str(r.combo_ticker): (r.fee_type, r.fee_multiplier)
        for r in _frame(conn, COMBO_FEES_SQL, {"combos": _strings(trades["combo_ticker"])}).itertuples(
            index=False
        )
    }
    targets = S.combo_targets(trades, legs, structure, variables, quotes, fees, combo_fees)
    conn.execute("DELETE FROM marts.combo_targets WHERE trade_id = ANY(%s)", (_strings(targets["trade_id"]),))
    replace_day(conn, "combo_targets", day, targets, S.COMBO_TARGET_COLUMNS)
    return TargetCounts(
        trades=len(targets),
        impossible=int(targets["impossible"].sum()),
        usable=int(targets["use_for_learning"].sum()),
        exact=int(targets["exact"].sum()),
        with_no_legs=int((targets["n_no_legs"] > 0).sum()),
    )
