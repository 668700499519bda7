"""The structural layer: market families, the binary variables the Ising model prices, impossible combos,
and the fee-bias correction of combo trades.

Scope condition (MISSION §2): the pairwise Ising model treats every leg as a coherent binary variable.
Raw markets are not: the two moneylines of a game are one event and its complement, the brackets of a
total are mutually exclusive, an "over k" ladder is nested. This module maps markets to variables where
the model's assumptions hold.

**Axes and cells.** Every market is placed on an *axis* of its game cluster (axis id
``<cluster>:<quantity>``), a quantity cut into ordered cells, and its YES event is a contiguous run of
cells ``[cell_lo, cell_hi)``:

* numeric axes, cut at the strikes (cell ``k`` is the interval ``(cut_{k-1}, cut_k]``):
  ``margin:<T2>-<T1>`` (points of the second team of the cluster code minus the first: the second
  team's moneyline is ``(0, ∞)``, the first's ``(−∞, 0]``; "T2 wins by over x" is ``(x, ∞)``, "T1 wins
  by over x" is ``(−∞, −x]``; team codes come from the cluster code ``26MAR07GSWOKC`` and the ticker
  suffixes ``GSW``/``OKC7``; moneylines join only when their event is exactly the two teams),
  ``total`` (the game total: "over" ladders and brackets together), ``team_total:<T>``,
  ``prop:<series>:<player>``, and ``event:<event_ticker>`` for strike markets of other families;
* categorical axes ``outcomes:<event_ticker>``: the markets of a mutually exclusive event without a
  numeric placement, in ticker order, after a leading "none of them" cell unless the event is exhaustive
  (its YES mids sum to 1 within the spread; without prices, a two-market moneyline event);
* single axes ``market:<ticker>``: any other market is its own axis with two cells (NO, YES).

Strike semantics: ``greater``/``greater_or_equal`` → ``(floor, ∞)``, ``less``/``less_or_equal`` →
``(−∞, cap]``, ``between`` → ``(floor, cap]``. The quantity is assumed never to land exactly on a strike
(half-point strikes of integer scores), so the boundary convention does not matter and the moneylines
of one game are exact complements.

**Variables.** An axis with ``n`` cells carries ``n − 1`` cumulative binary variables
``y_j = [cell ≥ j]`` (``j = 1 … n − 1``); they are nested, ``y_{j+1} ⇒ y_j``. A market on cells
``[lo, hi)`` is the conjunction ``y_lo ∧ ¬y_hi``, where ``y_lo`` is dropped when ``lo = 0`` and ``¬y_hi``
when ``hi = n``. So a 2-market exhaustive family is one variable (orientation +1 for the market that
*is* the variable, −1 for its complement); an "over k" market is one variable; bracket ``i`` of a total is
``y_i ∧ ¬y_{i+1}`` (orientation 0, two literals). Variables of different axes carry no logical constraint.

**Impossible combos.** A combo is impossible when, on some axis, no cell satisfies all of its legs on
that axis (a YES leg allows its cells, a NO leg the others). Reasons, in the order they are checked:
``same_market_both_sides``; then for the first conflicting axis (axes in sorted order), the first
conflicting pair of legs: two YES legs of one exclusive family → ``exclusive_family``; two NO legs of one
exhaustive exclusive family → ``exhaustive_family_all_no``; anything else (nested thresholds such as
"home wins" with "away wins by over 3.5", or YES over 230 with NO over 220) → ``contradictory_thresholds``.

**Fee-bias correction.** A combo trade with YES legs ``Y`` and NO legs ``N`` pays on ``Y ∧ ¬N``. First
every NO leg whose market has a listed exact complement becomes a YES leg on that complement. Then, by
inclusion–exclusion, ``P(Y ∧ ¬N) = Σ_{T ⊆ N} (−1)^{|T|} P(Y ∪ T)``, so the canonical all-YES target is
``P(Y ∪ N) = (−1)^{|N|} [price(Y ∧ ¬N) − Σ_{T ⊊ N} (−1)^{|T|} price(Y ∪ T)]``, with observed (or implied)
prices of the lower-order all-YES contracts ``Y ∪ T`` (one market: its YES ask; ``T = ∅`` with ``Y``
empty: the certain contract, 1). When every price carries the same additive markup ``m`` the target
carries ``(1 + (−1)^{|N|})·m``: the markup cancels exactly for an odd number of NO legs, doubles for an
even number ≥ 2, and stays ``m`` when ``N`` is empty; with no YES leg at all it is ``(1 + 2(−1)^{|N|})·m``
(see :func:`markup_coefficient`). Real markups differ between base markets and combos, so the target
keeps their difference; ``marts.combo_targets`` shows the observed ask, a Kalshi fee estimate and the
targets side by side.

**Learning target net of the estimated markup** (``target_net_of_markup``, what the fits learn from). Every
priced term of the expansion is replaced by its fair estimate before the alternating sum: a single market
by its mid at the trade (the base markup, half the spread, is observed and removed exactly; without a bid,
the ask net of its fee), a combo (the trade itself, or an earlier trade of a lower-order all-YES contract)
by its price minus the estimated combo markup ``m̂ = fee(p) + ŝ``: Kalshi's taker-fee formula plus the
combo spread ``ŝ``. ``ŝ`` is estimated from the day's trades (:func:`estimate_combo_spread`: the same
canonical contract traded with an even and an odd number of NO legs carries ``+ŝ`` and ``−ŝ``), else
:data:`DEFAULT_COMBO_SPREAD`. A target whose lower-order terms had to be filled with products of the legs'
prices (an independence assumption, ``independent_asks``) is not used for learning:
``learning_excluded_reason`` says why a row is left out (``impossible``, ``no_legs``, ``missing_price``,
``out_of_range``, ``independence_filled``).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

YES = "yes"
NO = "no"
INF = math.inf

NUMERIC = "numeric"
CATEGORICAL = "categorical"
SINGLE = "single"

EXCLUSIVE = "exclusive"
NESTED = "nested"
COMPLEMENT = "complement"

SAME_MARKET_BOTH_SIDES = "same_market_both_sides"
EXCLUSIVE_FAMILY = "exclusive_family"
EXHAUSTIVE_FAMILY_ALL_NO = "exhaustive_family_all_no"
CONTRADICTORY_THRESHOLDS = "contradictory_thresholds"

# Kalshi taker fee rate per fee type (KALSHI.md: 0.07 × C × P × (1 − P), times the series multiplier).
TAKER_FEE_RATES: dict[str, float] = {"quadratic": 0.07, "quadratic_with_maker_fees": 0.07}
DEFAULT_TAKER_FEE_RATE = 0.07
# The combo spread assumed above the fee when the day's trades cannot estimate it (see estimate_combo_spread):
# combo quotes sit about 3¢ above the fee-inclusive fair price.
DEFAULT_COMBO_SPREAD = 0.03
# Trades of one canonical contract needed on each NO-parity side before the day's spread estimate is used, and
# the largest standard error of that estimate that is trusted (else DEFAULT_COMBO_SPREAD).
MIN_SPREAD_PAIRS = 10
MAX_SPREAD_SE = 0.005
# A learning target net of the markup may stray this far outside [0, 1] (rounding, markup noise) and is then
# clipped; further out, the row is not learned from.
NET_TARGET_SLACK = 0.05
NO_FEE_TYPES = frozenset({"none", "free", "no_fee", "zero"})

_CLUSTER_TEAMS = re.compile(r"^\d{2}[A-Z]{3}\d{2}([A-Z]{3})([A-Z]{3})$")
_TRAILING_DIGITS = re.compile(r"\d+$")
_STRIKE_DECIMALS = 6


@dataclass(frozen=True)
class StructureConfig:
    """Thresholds of the price evidence (defaults suit 1-minute panels of a game session)."""

    min_price_minutes: int = 10  # minutes with every family member quoted before prices give a verdict
    complement_max_rho: float = -0.8  # log-odds changes of complements move opposite
    complement_min_observations: int = 30  # overlapping observations behind that correlation


# ---------------------------------------------------------------------------------------------------
# Placement: market → axis and cells
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """Where a market's YES event lies on a numeric axis before cells are numbered: ``(lower, upper]``."""

    axis_id: str
    lower: float
    upper: float
    quantity: str


@dataclass(frozen=True)
class CellRange:
    """A market's YES event: cells ``[lo, hi)`` of an axis with ``n_cells`` cells."""

    axis_id: str
    lo: int
    hi: int
    n_cells: int

    def mask(self) -> int:
        return ((1 << self.hi) - 1) ^ ((1 << self.lo) - 1)

    def full(self) -> int:
        return (1 << self.n_cells) - 1

    def literals(self) -> tuple[tuple[int, bool], ...]:
        """``(j, negated)`` for the variables ``y_j`` of the axis whose conjunction is the YES event."""
        out: list[tuple[int, bool]] = []
        if self.lo > 0:
            out.append((self.lo, False))
        if self.hi < self.n_cells:
            out.append((self.hi, True))
        return tuple(out)

    def complement(self) -> CellRange | None:
        """The YES event's complement when it is itself one run of cells."""
        if self.lo == 0 and self.hi < self.n_cells:
            return CellRange(self.axis_id, self.hi, self.n_cells, self.n_cells)
        if self.hi == self.n_cells and self.lo > 0:
            return CellRange(self.axis_id, 0, self.lo, self.n_cells)
        return None


def cluster_teams(cluster_id: str) -> tuple[str, str] | None:
    """The two team codes of a game cluster such as ``26MAR07GSWOKC`` (first, second), else None."""
    m = _CLUSTER_TEAMS.match(cluster_id or "")
    return (m.group(1), m.group(2)) if m else None


def ticker_suffix(market_ticker: str, event_ticker: str | None) -> str:
    """The part of a market ticker after its event ticker (``…GSWOKC-OKC7`` → ``OKC7``)."""
    if event_ticker and market_ticker.startswith(event_ticker + "-"):
        return market_ticker[len(event_ticker) + 1 :]
    return market_ticker.rsplit("-", 1)[-1]


def _num(value: object) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else round(x, _STRIKE_DECIMALS)


def strike_interval(
    strike_type: object, floor_strike: object, cap_strike: object
) -> tuple[float, float] | None:
    """The YES interval ``(lower, upper]`` of a strike market, or None when the strikes do not define one."""
    st = str(strike_type).lower() if isinstance(strike_type, str) else ""
    lo, hi = _num(floor_strike), _num(cap_strike)
    if st in ("greater", "greater_or_equal") and lo is not None:
        return lo, INF
    if st in ("less", "less_or_equal") and hi is not None:
        return -INF, hi
    if st == "between" and lo is not None and hi is not None and lo < hi:
        return lo, hi
    return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _flagged(column: pd.Series) -> pd.Series:
    """True where a nullable boolean column is true."""
    return column.map(lambda v: isinstance(v, (bool, np.bool_)) and bool(v)).astype(bool)


def _shape(row: Mapping[str, object], event_size: int) -> Shape | None:
    """The numeric placement of one market, or None (categorical or single, decided later).

    ``event_size``: how many markets its event lists (moneylines go on the margin axis only when the
    event is exactly the two teams: a third outcome such as a draw would break "never on a strike")."""
    ticker = _text(row["market_ticker"])
    cluster = _text(row["cluster_id"])
    family = _text(row.get("market_family"))
    subfamily = _text(row.get("market_subfamily"))
    series = _text(row.get("series_ticker"))
    suffix = ticker_suffix(ticker, _text(row.get("event_ticker")) or None)
    stem = _TRAILING_DIGITS.sub("", suffix)
    teams = cluster_teams(cluster)
    interval = strike_interval(row.get("strike_type"), row.get("floor_strike"), row.get("cap_strike"))
    if family in ("moneyline", "spread") and teams is not None:
        first, second = teams
        margin = f"margin:{second}-{first}"
        axis = f"{cluster}:{margin}"
        if family == "moneyline" and interval is None and suffix in teams and event_size == 2:
            if suffix == second:
                return Shape(axis, 0.0, INF, margin)
            return Shape(axis, -INF, 0.0, margin)
        if (
            family == "spread"
            and interval is not None
            and interval[1] == INF
            and stem in teams
            and stem != suffix
        ):
            x = interval[0]
            if stem == second:
                return Shape(axis, x, INF, margin)
            return Shape(axis, -INF, -x, margin)
        return None
    if interval is None:
        return None
    if family == "total":
        if subfamily == "team_total" or "TEAMTOTAL" in series:
            if teams is not None and stem in teams and stem != suffix:
                q = f"team_total:{stem}"
                return Shape(f"{cluster}:{q}", *interval, q)
            return None
        return Shape(f"{cluster}:total", *interval, "total")
    if family == "prop":
        if not stem:
            return None
        q = f"prop:{series}:{stem}"
        return Shape(f"{cluster}:{q}", *interval, q)
    if family == "other":
        q = f"event:{_text(row.get('event_ticker')) or ticker}"
        return Shape(f"{cluster}:{q}", *interval, q)
    return None


@dataclass(frozen=True)
class VariableMap:
    """Every market's cells, the axes' cut points, and the numbering of the variables."""

    ranges: dict[str, CellRange]
    cuts: dict[str, tuple[float, ...]]  # numeric axes: ascending cut points
    kinds: dict[str, str]
    quantities: dict[str, str]
    clusters: dict[str, str]  # axis → cluster
    variable_index: dict[tuple[str, int], int]  # (axis, j) → index of y_j within the cluster


def _single(cluster: str, ticker: str) -> tuple[str, str]:
    return f"{cluster}:market:{ticker}", f"market:{ticker}"


def place_markets(markets: pd.DataFrame, exhaustive_events: Iterable[str] = ()) -> VariableMap:
    """Put every market on an axis and number cells and variables.

    ``markets`` needs market_ticker, cluster_id, event_ticker, series_ticker, market_family,
    strike_type, floor_strike, cap_strike, mutually_exclusive (market_subfamily optional).
    ``exhaustive_events``: mutually exclusive events known to be exhaustive (one market resolves YES),
    used for categorical axes; numeric axes are exhaustive by construction.
    """
    exhaustive = set(exhaustive_events)
    rows = sorted(markets.to_dict("records"), key=lambda r: _text(r["market_ticker"]))
    event_size: dict[str, int] = {}
    for row in rows:
        event = _text(row.get("event_ticker"))
        event_size[event] = event_size.get(event, 0) + 1
    cluster_of = {_text(r["market_ticker"]): _text(r["cluster_id"]) for r in rows}

    ranges: dict[str, CellRange] = {}
    cuts: dict[str, tuple[float, ...]] = {}
    kinds: dict[str, str] = {}
    quantities: dict[str, str] = {}
    clusters: dict[str, str] = {}

    numeric: dict[str, list[tuple[str, Shape]]] = {}
    categorical: dict[str, list[str]] = {}
    for row in rows:
        ticker = _text(row["market_ticker"])
        event = _text(row.get("event_ticker"))
        shape = _shape(row, event_size.get(event, 0))
        if shape is not None:
            numeric.setdefault(shape.axis_id, []).append((ticker, shape))
        elif event and isinstance(row.get("mutually_exclusive"), (bool, np.bool_)) and row["mutually_exclusive"]:
            categorical.setdefault(event, []).append(ticker)
        else:
            axis, q = _single(cluster_of[ticker], ticker)
            ranges[ticker] = CellRange(axis, 1, 2, 2)
            kinds[axis], quantities[axis], clusters[axis] = SINGLE, q, cluster_of[ticker]

    for axis, members in numeric.items():
        points = sorted({b for _, s in members for b in (s.lower, s.upper) if math.isfinite(b)})
        position = {c: i for i, c in enumerate(points)}
        n = len(points) + 1
        cuts[axis] = tuple(points)
        kinds[axis], quantities[axis], clusters[axis] = (
            NUMERIC,
            members[0][1].quantity,
            cluster_of[members[0][0]],
        )
        for ticker, s in members:
            lo = 0 if s.lower == -INF else position[s.lower] + 1
            hi = n if s.upper == INF else position[s.upper] + 1
            ranges[ticker] = CellRange(axis, lo, hi, n)

    for event, outcomes in categorical.items():
        cluster = cluster_of[outcomes[0]]
        if len(outcomes) < 2:
            axis, q = _single(cluster, outcomes[0])
            ranges[outcomes[0]] = CellRange(axis, 1, 2, 2)
            kinds[axis], quantities[axis], clusters[axis] = SINGLE, q, cluster
            continue
        offset = 0 if event in exhaustive else 1  # cell 0 = "none of them" unless exhaustive
        q = f"outcomes:{event}"
        axis = f"{cluster}:{q}"
        kinds[axis], quantities[axis], clusters[axis] = CATEGORICAL, q, cluster
        n = len(outcomes) + offset
        for i, ticker in enumerate(sorted(outcomes)):
            ranges[ticker] = CellRange(axis, i + offset, i + offset + 1, n)

    n_cells = {r.axis_id: r.n_cells for r in ranges.values()}
    variable_index: dict[tuple[str, int], int] = {}
    counters: dict[str, int] = {}
    for axis in sorted(n_cells):
        cluster = clusters[axis]
        for j in range(1, n_cells[axis]):
            variable_index[(axis, j)] = counters.get(cluster, 0)
            counters[cluster] = counters.get(cluster, 0) + 1
    return VariableMap(ranges, cuts, kinds, quantities, clusters, variable_index)


def variable_id(axis_id: str, j: int) -> str:
    return f"{axis_id}#{j}"


def _bound(x: float) -> float | None:
    return x if math.isfinite(x) else None


def binary_variables(mapping: VariableMap, markets: pd.DataFrame) -> pd.DataFrame:
    """One row per market: its axis, cells, and its YES event as a conjunction of variable literals.

    ``orientation``: +1 when YES is the variable, −1 when YES is its negation, 0 for a conjunction of two
    literals (a bracket). ``variable_id``/``variable_index``: the market's first literal's variable.
    ``complement_ticker``: a listed market whose YES is exactly this market's NO.
    """
    event_of = dict(zip(markets["market_ticker"], markets["event_ticker"], strict=True))
    by_range: dict[tuple[str, int, int], list[str]] = {}
    for t, r in mapping.ranges.items():
        by_range.setdefault((r.axis_id, r.lo, r.hi), []).append(t)
    out = []
    for ticker in sorted(mapping.ranges):
        r = mapping.ranges[ticker]
        axis = r.axis_id
        cuts = mapping.cuts.get(axis)
        lits = r.literals()
        literal_rows = [
            {
                "variable_id": variable_id(axis, j),
                "variable_index": mapping.variable_index[(axis, j)],
                "negated": neg,
                "threshold": cuts[j - 1] if cuts else None,
            }
            for j, neg in lits
        ]
        expression = " AND ".join(("NOT " if neg else "") + variable_id(axis, j) for j, neg in lits) or "TRUE"
        comp = r.complement()
        comp_ticker = None
        if comp is not None:
            candidates = sorted(by_range.get((axis, comp.lo, comp.hi), []))
            comp_ticker = candidates[0] if candidates else None
        orientation = 0
        if len(lits) == 1:
            orientation = -1 if lits[0][1] else 1
        lower = upper = None
        if cuts is not None:
            lower = cuts[r.lo - 1] if r.lo > 0 else None
            upper = cuts[r.hi - 1] if r.hi < r.n_cells else None
        out.append(
            {
                "market_ticker": ticker,
                "cluster_id": mapping.clusters[axis],
                "event_ticker": event_of.get(ticker),
                "axis_id": axis,
                "axis_kind": mapping.kinds[axis],
                "quantity": mapping.quantities[axis],
                "n_cells": r.n_cells,
                "cell_lo": r.lo,
                "cell_hi": r.hi,
                "yes_lower": _bound(lower) if lower is not None else None,
                "yes_upper": _bound(upper) if upper is not None else None,
                "n_literals": len(lits),
                "orientation": orientation,
                "variable_id": literal_rows[0]["variable_id"] if literal_rows else None,
                "variable_index": literal_rows[0]["variable_index"] if literal_rows else None,
                "literals": literal_rows,
                "expression": expression,
                "complement_ticker": comp_ticker,
                "defines_variable": len(lits) == 1,
            }
        )
    return pd.DataFrame(out, columns=BINARY_VARIABLE_COLUMNS)


BINARY_VARIABLE_COLUMNS = [
    "market_ticker",
    "cluster_id",
    "event_ticker",
    "axis_id",
    "axis_kind",
    "quantity",
    "n_cells",
    "cell_lo",
    "cell_hi",
    "yes_lower",
    "yes_upper",
    "n_literals",
    "orientation",
    "variable_id",
    "variable_index",
    "literals",
    "expression",
    "complement_ticker",
    "defines_variable",
]


def ranges_from_frame(variables: pd.DataFrame) -> dict[str, CellRange]:
    """Cell ranges back from a ``binary_variables`` frame (as stored in the warehouse)."""
    return {
        str(r.market_ticker): CellRange(str(r.axis_id), int(r.cell_lo), int(r.cell_hi), int(r.n_cells))
        for r in variables.itertuples(index=False)
    }


# ---------------------------------------------------------------------------------------------------
# Price evidence
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SumStats:
    """How far a family's YES mids sum from 1, minute by minute, against the family's half-spreads."""

    minutes: int
    sum_median: float | None
    abs_deviation_median: float | None
    half_spread_sum_median: float | None

    @property
    def consistent(self) -> bool | None:
        """Median |Σ mid − 1| ≤ median Σ half-spread (None without data)."""
        if self.abs_deviation_median is None or self.half_spread_sum_median is None:
            return None
        return self.abs_deviation_median <= self.half_spread_sum_median + 1e-12


def _pivots(panel: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(minute × market) mids and half-spreads."""
    if panel.empty:
        empty = pd.DataFrame(dtype=float)
        return empty, empty
    p = panel[["minute", "market_ticker", "mid", "spread"]].copy()
    p["mid"] = p["mid"].astype(float)
    p["half"] = p["spread"].astype(float).clip(lower=0.0) / 2.0
    mid = p.pivot_table(index="minute", columns="market_ticker", values="mid", aggfunc="last")
    half = p.pivot_table(index="minute", columns="market_ticker", values="half", aggfunc="last")
    return mid.sort_index(axis=1), half.reindex(columns=mid.columns).sort_index(axis=1)


def sum_stats(mid: pd.DataFrame, half: pd.DataFrame, members: Sequence[str], min_minutes: int) -> SumStats:
    """Σ of the members' mids per minute where every member is quoted."""
    cols = [m for m in members if m in mid.columns]
    if len(cols) != len(members) or not cols:
        return SumStats(0, None, None, None)
    m = mid[cols].to_numpy(dtype=float)
    h = half[cols].to_numpy(dtype=float)
    ok = ~(np.isnan(m).any(axis=1) | np.isnan(h).any(axis=1))
    n = int(ok.sum())
    if n < min_minutes:
        return SumStats(n, None, None, None)
    s = m[ok].sum(axis=1)
    return SumStats(
        n, float(np.median(s)), float(np.median(np.abs(s - 1.0))), float(np.median(h[ok].sum(axis=1)))
    )


def nested_violation_share(mid: pd.DataFrame, half: pd.DataFrame, members: Sequence[str]) -> float | None:
    """Members ordered from the widest event to the narrowest: the share of (minute, consecutive pair)
    observations where the narrower event's mid exceeds the wider one's by more than both half-spreads."""
    cols = [m for m in members if m in mid.columns]
    if len(cols) < 2:
        return None
    m = mid[cols].to_numpy(dtype=float)
    h = half[cols].to_numpy(dtype=float)
    excess = m[:, 1:] - m[:, :-1] - (h[:, 1:] + h[:, :-1])
    valid = ~np.isnan(excess)
    if not valid.any():
        return None
    return float((excess[valid] > 1e-12).sum() / valid.sum())


def exclusive_event_stats(
    markets: pd.DataFrame, panel: pd.DataFrame, config: StructureConfig
) -> dict[str, SumStats]:
    """Sum statistics of every event flagged mutually exclusive, keyed by event ticker."""
    mid, half = _pivots(panel)
    out: dict[str, SumStats] = {}
    me = markets[_flagged(markets["mutually_exclusive"])]
    for event, group in me.groupby("event_ticker", sort=True):
        members = sorted(group["market_ticker"].astype(str))
        if len(members) >= 2:
            out[str(event)] = sum_stats(mid, half, members, config.min_price_minutes)
    return out


def exhaustive_events(markets: pd.DataFrame, stats: Mapping[str, SumStats]) -> set[str]:
    """Mutually exclusive events judged exhaustive: their YES mids sum to 1 within the spread; without
    price data, two-market moneyline events (a game has a winner)."""
    out: set[str] = set()
    me = markets[_flagged(markets["mutually_exclusive"])]
    for event, group in me.groupby("event_ticker", sort=True):
        s = stats.get(str(event))
        verdict = s.consistent if s is not None else None
        if verdict is None:
            verdict = len(group) == 2 and bool((group["market_family"] == "moneyline").all())
        if verdict:
            out.add(str(event))
    return out


def price_complement_pairs(
    panel: pd.DataFrame, correlations: pd.DataFrame, cluster_of: Mapping[str, str], config: StructureConfig
) -> list[tuple[str, str, SumStats, float]]:
    """Pairs of one cluster that trade as complements: median |mid_a + mid_b − 1| within the median sum
    of half-spreads, and log-odds changes correlated at most ``complement_max_rho`` over at least
    ``complement_min_observations`` observations. Each pair once, ``a < b``; the result does not depend
    on row order or on which way round a correlation row names the pair."""
    rho: dict[tuple[str, str], tuple[float, int]] = {}
    if not correlations.empty:
        for r in correlations.itertuples(index=False):
            a, b = sorted((str(r.market_a), str(r.market_b)))
            if r.rho is None or pd.isna(r.rho):
                continue
            rho[(a, b)] = (float(r.rho), int(r.n))
    mid, half = _pivots(panel)
    out = []
    by_cluster: dict[str, list[str]] = {}
    for t in mid.columns:
        c = cluster_of.get(str(t))
        if c is not None:
            by_cluster.setdefault(c, []).append(str(t))
    for cluster in sorted(by_cluster):
        tickers = sorted(by_cluster[cluster])
        for a, b in itertools.combinations(tickers, 2):
            r = rho.get((a, b))
            if r is None or r[1] < config.complement_min_observations or r[0] > config.complement_max_rho:
                continue
            stats = sum_stats(mid, half, [a, b], config.min_price_minutes)
            if stats.consistent:
                out.append((a, b, stats, r[0]))
    return out


# ---------------------------------------------------------------------------------------------------
# Families
# ---------------------------------------------------------------------------------------------------

MARKET_FAMILY_COLUMNS = [
    "family_id",
    "cluster_id",
    "family_type",
    "detected_by",
    "axis_id",
    "n_markets",
    "exhaustive",
    "market_ticker",
    "member_index",
    "price_minutes",
    "price_sum_median",
    "price_abs_deviation_median",
    "half_spread_sum_median",
    "price_consistent",
    "price_violation_share",
]


@dataclass
class _Family:
    family_id: str
    cluster_id: str
    family_type: str
    axis_id: str | None
    members: list[str]
    exhaustive: bool | None
    detected_by: set[str] = field(default_factory=set)
    stats: SumStats | None = None
    violation_share: float | None = None


def detect_families(
    markets: pd.DataFrame,
    mapping: VariableMap,
    panel: pd.DataFrame,
    correlations: pd.DataFrame,
    config: StructureConfig | None = None,
) -> pd.DataFrame:
    """Families of related markets, one row per (family, member).

    * ``exclusive``: at most one member resolves YES. From metadata (events flagged mutually exclusive)
      and from structure (markets of one event whose cell ranges are pairwise disjoint: brackets, the two
      moneylines). ``exhaustive`` when the members' cells cover their axis (a categorical event's cover
      it when the event was judged exhaustive); members on several axes: when the prices say so.
    * ``nested``: "over" (resp. "under") ladders of one numeric axis, ordered from the widest event to the
      narrowest.
    * ``complement``: pairs of one axis whose cell ranges are each other's complement (a YES market and
      the market that is its NO, e.g. "over 210.5" and "210.5 or fewer" from two events), and pairs whose
      prices say "complement" (:func:`price_complement_pairs`) that no exclusive family already holds.

    ``detected_by`` lists the evidence: ``metadata``, ``structure``, ``prices``. Price evidence: for
    exclusive and complement families, median |Σ mid − 1| ≤ median Σ half-spread over the minutes where
    every member is quoted (at least ``min_price_minutes``); for ladders, at most 5 % of (minute,
    neighbouring pair) observations price the narrower event above the wider one by more than both
    half-spreads.
    """
    cfg = config or StructureConfig()
    mid, half = _pivots(panel)
    cluster_of = {
        str(t): str(c) for t, c in zip(markets["market_ticker"], markets["cluster_id"], strict=True)
    }
    families: dict[str, _Family] = {}
    by_members: dict[tuple[str, frozenset[str]], str] = {}

    def add(fam: _Family) -> _Family:
        key = (fam.family_type, frozenset(fam.members))
        existing = by_members.get(key)
        if existing is not None:
            families[existing].detected_by |= fam.detected_by
            return families[existing]
        families[fam.family_id] = fam
        by_members[key] = fam.family_id
        return fam

    ranges = mapping.ranges
    me = markets[_flagged(markets["mutually_exclusive"])]
    for event, group in me.groupby("event_ticker", sort=True):
        members = sorted(group["market_ticker"].astype(str))
        if len(members) < 2:
            continue
        axes = {ranges[m].axis_id for m in members if m in ranges}
        axis = axes.pop() if len(axes) == 1 else None
        add(
            _Family(
                f"{event}:exclusive", cluster_of[members[0]], EXCLUSIVE, axis, members, None, {"metadata"}
            )
        )

    events = dict(zip(markets["market_ticker"].astype(str), markets["event_ticker"], strict=True))
    by_axis_event: dict[tuple[str, str], list[str]] = {}
    by_axis: dict[str, list[str]] = {}
    for t, r in ranges.items():
        by_axis.setdefault(r.axis_id, []).append(t)
        if mapping.kinds[r.axis_id] != SINGLE:
            by_axis_event.setdefault((r.axis_id, _text(events.get(t))), []).append(t)
    for (axis, event), tickers in sorted(by_axis_event.items()):
        if len(tickers) < 2:
            continue
        tickers = sorted(tickers, key=lambda t: (ranges[t].lo, t))
        disjoint = all(ranges[a].hi <= ranges[b].lo for a, b in itertools.pairwise(tickers))
        if disjoint:
            add(
                _Family(
                    f"{axis}:exclusive:{event}",
                    mapping.clusters[axis],
                    EXCLUSIVE,
                    axis,
                    sorted(tickers),
                    None,
                    {"structure"},
                )
            )
    for axis, tickers in sorted(by_axis.items()):
        if mapping.kinds[axis] != NUMERIC:
            continue
        n = ranges[tickers[0]].n_cells
        upper = sorted(
            (t for t in tickers if ranges[t].hi == n and ranges[t].lo > 0), key=lambda t: (ranges[t].lo, t)
        )
        lower = sorted(
            (t for t in tickers if ranges[t].lo == 0 and ranges[t].hi < n), key=lambda t: (-ranges[t].hi, t)
        )
        for name, ladder in (("upper", upper), ("lower", lower)):
            if len({(ranges[t].lo, ranges[t].hi) for t in ladder}) >= 2:
                fam = add(
                    _Family(
                        f"{axis}:nested:{name}",
                        mapping.clusters[axis],
                        NESTED,
                        axis,
                        ladder,
                        None,
                        {"structure"},
                    )
                )
                fam.violation_share = nested_violation_share(mid, half, ladder)
                if fam.violation_share is not None and fam.violation_share <= 0.05:
                    fam.detected_by.add("prices")

    by_range: dict[tuple[str, int, int], list[str]] = {}
    for t, r in sorted(ranges.items()):
        by_range.setdefault((r.axis_id, r.lo, r.hi), []).append(t)
    exclusive_pairs = {frozenset(f.members) for f in families.values() if f.family_type == EXCLUSIVE}
    for t, r in sorted(ranges.items()):
        comp = r.complement()
        if comp is None:
            continue
        for c in by_range.get((comp.axis_id, comp.lo, comp.hi), []):
            pair = frozenset((t, c))
            if t < c and pair not in exclusive_pairs:
                add(
                    _Family(
                        f"{r.axis_id}:complement:{t}|{c}",
                        mapping.clusters[r.axis_id],
                        COMPLEMENT,
                        r.axis_id,
                        [t, c],
                        True,
                        {"structure"},
                    )
                )

    for fam in families.values():
        if fam.family_type == COMPLEMENT:
            fam.stats = sum_stats(mid, half, fam.members, cfg.min_price_minutes)
            if fam.stats.consistent:
                fam.detected_by.add("prices")
            continue
        if fam.family_type != EXCLUSIVE:
            continue
        placed = [ranges[m] for m in fam.members if m in ranges]
        if len(placed) == len(fam.members) and len({cells.axis_id for cells in placed}) == 1:
            cover = 0
            overlap = False
            for cells in placed:
                overlap = overlap or bool(cover & cells.mask())
                cover |= cells.mask()
            fam.exhaustive = (not overlap) and cover == placed[0].full()
        fam.stats = sum_stats(mid, half, fam.members, cfg.min_price_minutes)
        if fam.stats.consistent:
            fam.detected_by.add("prices")
        if fam.exhaustive is None:
            fam.exhaustive = bool(fam.stats.consistent)

    for a, b, stats, _ in price_complement_pairs(panel, correlations, cluster_of, cfg):
        pair = frozenset((a, b))
        held = [f for f in families.values() if f.family_type == EXCLUSIVE and frozenset(f.members) == pair]
        if held:
            held[0].detected_by.add("prices")
            continue
        ra, rb = ranges.get(a), ranges.get(b)
        axis = ra.axis_id if ra is not None and rb is not None and ra.axis_id == rb.axis_id else None
        fam = add(
            _Family(
                f"{cluster_of[a]}:complement:{a}|{b}",
                cluster_of[a],
                COMPLEMENT,
                axis,
                [a, b],
                True,
                {"prices"},
            )
        )
        fam.stats = stats

    rows = []
    for fid in sorted(families):
        fam = families[fid]
        s = fam.stats
        for i, m in enumerate(fam.members):
            rows.append(
                {
                    "family_id": fam.family_id,
                    "cluster_id": fam.cluster_id,
                    "family_type": fam.family_type,
                    "detected_by": "+".join(
                        x for x in ("metadata", "structure", "prices") if x in fam.detected_by
                    ),
                    "axis_id": fam.axis_id,
                    "n_markets": len(fam.members),
                    "exhaustive": fam.exhaustive,
                    "market_ticker": m,
                    "member_index": i,
                    "price_minutes": s.minutes if s is not None else None,
                    "price_sum_median": s.sum_median if s is not None else None,
                    "price_abs_deviation_median": s.abs_deviation_median if s is not None else None,
                    "half_spread_sum_median": s.half_spread_sum_median if s is not None else None,
                    "price_consistent": s.consistent if s is not None else None,
                    "price_violation_share": fam.violation_share,
                }
            )
    return pd.DataFrame(rows, columns=MARKET_FAMILY_COLUMNS)


# ---------------------------------------------------------------------------------------------------
# Combos: impossible legs
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Leg:
    market_ticker: str
    side: str


@dataclass(frozen=True)
class Verdict:
    impossible: bool
    reason: str | None = None
    detail: str | None = None
    mapped: bool = True  # every leg's market has a place on an axis


def _allows(r: CellRange, side: str) -> int:
    return r.mask() if side == YES else r.full() & ~r.mask()


def judge_legs(
    legs: Sequence[Leg],
    ranges: Mapping[str, CellRange],
    exclusive_families: Mapping[str, frozenset[str]] | None = None,
    exhaustive_families: Mapping[str, frozenset[str]] | None = None,
) -> Verdict:
    """Whether ``legs`` can all hold together, and if not, why (see the module docstring).

    ``exclusive_families`` / ``exhaustive_families``: market → ids of the exclusive (resp. exclusive and
    exhaustive) families it belongs to; they only name the reason, never change the verdict.
    """
    excl = exclusive_families or {}
    exh = exhaustive_families or {}
    sides: dict[str, set[str]] = {}
    for leg in legs:
        sides.setdefault(leg.market_ticker, set()).add(leg.side)
    for market in sorted(sides):
        if sides[market] >= {YES, NO}:
            return Verdict(
                True, SAME_MARKET_BOTH_SIDES, f"{market} yes & no", all(m in ranges for m in sides)
            )
    unique = sorted({(leg.market_ticker, leg.side) for leg in legs})
    mapped = all(m in ranges for m, _ in unique)
    by_axis: dict[str, list[tuple[str, str]]] = {}
    for m, s in unique:
        if m in ranges:
            by_axis.setdefault(ranges[m].axis_id, []).append((m, s))
    for axis in sorted(by_axis):
        axis_legs = by_axis[axis]
        allowed = ranges[axis_legs[0][0]].full()
        for m, s in axis_legs:
            allowed &= _allows(ranges[m], s)
        if allowed:
            continue
        for (a, sa), (b, sb) in itertools.combinations(axis_legs, 2):
            if _allows(ranges[a], sa) & _allows(ranges[b], sb):
                continue
            detail = f"{a} {sa} & {b} {sb} on {axis}"
            if sa == sb == YES and excl.get(a, frozenset()) & excl.get(b, frozenset()):
                return Verdict(True, EXCLUSIVE_FAMILY, detail, mapped)
            if sa == sb == NO and exh.get(a, frozenset()) & exh.get(b, frozenset()):
                return Verdict(True, EXHAUSTIVE_FAMILY_ALL_NO, detail, mapped)
            return Verdict(True, CONTRADICTORY_THRESHOLDS, detail, mapped)
        detail = " & ".join(f"{m} {s}" for m, s in axis_legs) + f" on {axis}"
        common = frozenset.intersection(*(exh.get(m, frozenset()) for m, _ in axis_legs))
        if all(s == NO for _, s in axis_legs) and common:
            return Verdict(True, EXHAUSTIVE_FAMILY_ALL_NO, detail, mapped)
        return Verdict(True, CONTRADICTORY_THRESHOLDS, detail, mapped)
    return Verdict(False, None, None, mapped)


def family_memberships(families: pd.DataFrame) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """market → exclusive family ids, and market → exclusive-and-exhaustive family ids."""
    excl: dict[str, set[str]] = {}
    exh: dict[str, set[str]] = {}
    if not families.empty:
        f = families[families["family_type"] == EXCLUSIVE]
        for r in f.itertuples(index=False):
            excl.setdefault(str(r.market_ticker), set()).add(str(r.family_id))
            if r.exhaustive is True:
                exh.setdefault(str(r.market_ticker), set()).add(str(r.family_id))
    return ({k: frozenset(v) for k, v in excl.items()}, {k: frozenset(v) for k, v in exh.items()})


def canonical_legs(legs: Sequence[Leg], complements: Mapping[str, str]) -> tuple[Leg, ...]:
    """The complement rule: a NO leg whose market has a listed exact complement becomes a YES leg on it;
    duplicates collapse. Sorted by (market, side)."""
    out = set()
    for leg in legs:
        comp = complements.get(leg.market_ticker) if leg.side == NO else None
        out.add(Leg(comp, YES) if comp else leg)
    return tuple(sorted(out, key=lambda x: (x.market_ticker, x.side)))


COMBO_STRUCTURE_COLUMNS = [
    "combo_ticker",
    "n_legs",
    "legs",
    "canonical_legs",
    "n_clusters",
    "clusters",
    "n_axes",
    "mapped",
    "impossible",
    "impossible_reason",
    "impossible_detail",
]


def assess_combos(combo_legs: pd.DataFrame, variables: pd.DataFrame, families: pd.DataFrame) -> pd.DataFrame:
    """One row per combo (``combo_legs``: combo_ticker, leg_index, market_ticker, side): legs, canonical
    legs (complement rule), clusters and axes touched, and the impossibility verdict."""
    ranges = ranges_from_frame(variables)
    complements = {
        str(t): str(c)
        for t, c in zip(variables["market_ticker"], variables["complement_ticker"], strict=True)
        if isinstance(c, str) and c
    }
    cluster_of = dict(
        zip(variables["market_ticker"].astype(str), variables["cluster_id"].astype(str), strict=True)
    )
    excl, exh = family_memberships(families)
    rows = []
    ordered = combo_legs.sort_values(["combo_ticker", "leg_index"])
    for combo, group in ordered.groupby("combo_ticker", sort=True):
        legs = [Leg(str(m), str(s)) for m, s in zip(group["market_ticker"], group["side"], strict=True)]
        verdict = judge_legs(legs, ranges, excl, exh)
        canon = canonical_legs(legs, complements)
        clusters = sorted({cluster_of[leg.market_ticker] for leg in legs if leg.market_ticker in cluster_of})
        axes = {ranges[leg.market_ticker].axis_id for leg in legs if leg.market_ticker in ranges}
        rows.append(
            {
                "combo_ticker": str(combo),
                "n_legs": len(legs),
                "legs": [{"market_ticker": leg.market_ticker, "side": leg.side} for leg in legs],
                "canonical_legs": [{"market_ticker": leg.market_ticker, "side": leg.side} for leg in canon],
                "n_clusters": len(clusters),
                "clusters": clusters,
                "n_axes": len(axes),
                "mapped": verdict.mapped,
                "impossible": verdict.impossible,
                "impossible_reason": verdict.reason,
                "impossible_detail": verdict.detail,
            }
        )
    return pd.DataFrame(rows, columns=COMBO_STRUCTURE_COLUMNS)


# ---------------------------------------------------------------------------------------------------
# Fee-bias correction
# ---------------------------------------------------------------------------------------------------


def taker_fee_rate(fee_type: object, fee_multiplier: object = 1) -> float:
    """Fee rate ``r`` such that the taker fee of C contracts at P is ``ceil_cent(r·C·P·(1−P))``."""
    ft = fee_type.lower() if isinstance(fee_type, str) else ""
    mult = _num(fee_multiplier)
    mult = 1.0 if mult is None else mult
    if ft in NO_FEE_TYPES:
        return 0.0
    return TAKER_FEE_RATES.get(ft, DEFAULT_TAKER_FEE_RATE) * mult


def fee_per_contract(price: float, contracts: float, rate: float) -> float:
    """Kalshi's taker fee of one order of ``contracts`` at ``price``, rounded up to the cent, per contract."""
    c = max(float(contracts), 1.0)
    raw = rate * c * price * (1.0 - price)
    cents = math.ceil(round(raw * 100.0, 9))
    return max(cents, 0) / 100.0 / c


def markup_coefficient(n_yes: int, n_no: int) -> int:
    """How many times an additive markup ``m`` carried by every price survives in the all-YES target.

    ``N`` empty: the target is the observed price (``m``). Otherwise the bracket holds ``2^|N|`` priced
    terms whose signs sum to ``1 + (−1)^{|N|}``; with ``Y`` empty the ``T = ∅`` term is the certain
    contract (price 1, no markup), which leaves ``1 + 2·(−1)^{|N|}``.
    """
    if n_no == 0:
        return 1
    sign = (-1) ** n_no
    return 1 + 2 * sign if n_yes == 0 else 1 + sign


@dataclass(frozen=True)
class Term:
    """One lower-order all-YES contract of the expansion: ``coefficient · price(legs)`` inside the bracket."""

    legs: frozenset[str]
    coefficient: int
    price: float | None
    source: str


PriceOf = Callable[[frozenset[str]], tuple[float | None, str]]


def all_yes_target(
    observed: float, yes: Iterable[str], no: Iterable[str], price_of: PriceOf
) -> tuple[float | None, tuple[Term, ...]]:
    """``P(Y ∪ N all YES) = (−1)^{|N|} [observed − Σ_{T ⊊ N} (−1)^{|T|} price(Y ∪ T)]``.

    ``observed`` is the price of ``Y ∧ ¬N``; ``price_of(S)`` prices the all-YES contract on ``S``
    (``(price, source)``, ``price`` None when unknown). Returns None when a needed price is unknown.
    """
    y = frozenset(yes)
    n = sorted(set(no))
    terms: list[Term] = []
    inner = observed
    missing = False
    for r in range(len(n)):
        for t in itertools.combinations(n, r):
            legs = y | frozenset(t)
            price, source = (1.0, "certain") if not legs else price_of(legs)
            sign = (-1) ** r
            terms.append(Term(legs, sign, price, source))
            if price is None:
                missing = True
            else:
                inner -= sign * price
    if missing:
        return None, tuple(terms)
    return (-1) ** len(n) * inner, tuple(terms)


COMBO_TARGET_COLUMNS = [
    "trade_id",
    "combo_ticker",
    "ts",
    "contracts",
    "n_legs",
    "observed_ask",
    "fee_type",
    "fee_multiplier",
    "fee_estimate",
    "observed_net_of_fee",
    "canonical_yes_legs",
    "canonical_no_legs",
    "n_complemented",
    "target_legs",
    "n_no_legs",
    "markup_coefficient",
    "n_terms",
    "n_implied_terms",
    "terms",
    "exact",
    "target",
    "target_net_of_fees",
    "target_clipped",
    "target_in_range",
    "impossible",
    "impossible_reason",
    "use_for_learning",
    "markup_estimate",
    "target_net_of_markup",
    "learning_excluded_reason",
]


def _asof_asks(
    requests: pd.DataFrame, quotes: pd.DataFrame, column: str = "yes_ask"
) -> dict[tuple[str, str], float]:
    """For each (trade_id, market_ticker, ts) request, the latest quote's ``column`` at or before ts."""
    if requests.empty or quotes.empty or column not in quotes.columns:
        return {}
    req = requests.copy()
    req["ts"] = pd.to_datetime(req["ts"], utc=True)
    q = quotes[["market_ticker", "ts", column]].dropna().copy()
    q["ts"] = pd.to_datetime(q["ts"], utc=True)
    q[column] = q[column].astype(float)
    req["market_ticker"] = req["market_ticker"].astype(str)
    q["market_ticker"] = q["market_ticker"].astype(str)
    merged = pd.merge_asof(
        req.sort_values("ts"), q.sort_values("ts"), on="ts", by="market_ticker", direction="backward"
    )
    merged = merged.dropna(subset=[column])
    return {
        (str(t), str(m)): float(a)
        for t, m, a in zip(merged["trade_id"], merged["market_ticker"], merged[column], strict=True)
    }


def estimate_combo_spread(
    rows: Iterable[tuple[tuple[str, ...], int, float]],
    min_pairs: int = MIN_SPREAD_PAIRS,
    max_se: float = MAX_SPREAD_SE,
) -> float | None:
    """The combo spread ``ŝ`` (markup beyond the fee) from trades whose only marked-up term is the combo itself.

    ``rows``: (canonical all-YES legs, sign ``(−1)^|N|``, target net of the fee with mid-priced single-market
    terms, less the product of the legs' mids at the trade, which removes most of the drift of the contract's
    probability over the day). Such a value is ``D + sign·ŝ`` (``D`` the dependence residual), so for one
    contract traded on both signs half the difference of the two means is ``ŝ``. Contracts are pooled with
    weight min(n₊, n₋); None when fewer than ``min_pairs`` pairs exist or the pooled estimate's standard error
    exceeds ``max_se``."""
    groups: dict[tuple[str, ...], tuple[list[float], list[float]]] = {}
    for legs, sign, target in rows:
        plus, minus = groups.setdefault(legs, ([], []))
        (plus if sign > 0 else minus).append(target)
    num = weight = var = 0.0
    for plus, minus in groups.values():
        w = min(len(plus), len(minus))
        if w:
            num += w * (float(np.mean(plus)) - float(np.mean(minus))) / 2.0
            weight += w
            spread_var = (float(np.var(plus, ddof=1)) / len(plus) if len(plus) > 1 else 0.0) + (
                float(np.var(minus, ddof=1)) / len(minus) if len(minus) > 1 else 0.0
            )
            var += w * w * spread_var / 4.0
    if weight < min_pairs:
        return None
    if math.sqrt(var) / weight > max_se:
        return None
    return max(num / weight, 0.0)


def combo_targets(
    trades: pd.DataFrame,
    combo_legs: pd.DataFrame,
    structure: pd.DataFrame,
    variables: pd.DataFrame,
    quotes: pd.DataFrame,
    fees: Mapping[str, tuple[object, object]] | None = None,
    combo_fees: Mapping[str, tuple[object, object]] | None = None,
    combo_spread: float | None = None,
) -> pd.DataFrame:
    """Every combo trade as a canonical all-YES target, with the observed ask and a fee estimate.

    ``trades``: trade_id, combo_ticker, ts, yes_price, contracts. ``combo_legs``: combo_ticker, leg_index,
    market_ticker, side. ``structure``: the :func:`assess_combos` frame (impossible, reason).
    ``variables``: :func:`binary_variables` frame (complements). ``quotes``: market_ticker, ts, yes_ask
    (valid book states). ``fees``: market → (fee_type, fee_multiplier) of its series; ``combo_fees``:
    combo → the same when the combo's own series is known (else the legs' highest rate applies).

    Lower-order prices: one market → its YES ask at the trade; several → the latest earlier trade of a
    combo with the same canonical all-YES legs (``observed_combo``), else the product of the YES asks
    (``independent_asks``, an approximation: ``exact`` is false). Impossible combos get target 0 and
    are never used for learning.

    ``quotes`` may carry ``yes_bid``: single-market terms of the learning target are then the mids.
    ``combo_spread``: the combo spread of the markup estimate; None estimates it from the trades
    (:func:`estimate_combo_spread`), else :data:`DEFAULT_COMBO_SPREAD`. The learning target is
    ``target_net_of_markup`` (see the module docstring), with ``learning_excluded_reason`` for rows left out.
    """
    fees = fees or {}
    combo_fees = combo_fees or {}
    complements = {
        str(t): str(c)
        for t, c in zip(variables["market_ticker"], variables["complement_ticker"], strict=True)
        if isinstance(c, str) and c
    }
    legs_of: dict[str, list[Leg]] = {}
    for r in combo_legs.sort_values(["combo_ticker", "leg_index"]).itertuples(index=False):
        legs_of.setdefault(str(r.combo_ticker), []).append(Leg(str(r.market_ticker), str(r.side)))
    verdicts = {
        str(r.combo_ticker): (bool(r.impossible), r.impossible_reason)
        for r in structure.itertuples(index=False)
    }
    t = trades.copy()
    t["ts"] = pd.to_datetime(t["ts"], utc=True)
    t = t.sort_values(["ts", "trade_id"]).reset_index(drop=True)

    canon: dict[str, tuple[Leg, ...]] = {c: canonical_legs(legs, complements) for c, legs in legs_of.items()}
    requests = []
    for r in t.itertuples(index=False):
        for leg in canon.get(str(r.combo_ticker), ()):
            requests.append((str(r.trade_id), leg.market_ticker, r.ts))
    request_frame = pd.DataFrame(requests, columns=["trade_id", "market_ticker", "ts"])
    asks = _asof_asks(request_frame, quotes)
    bids = _asof_asks(request_frame, quotes, "yes_bid")

    observed: dict[frozenset[str], list[tuple[pd.Timestamp, float]]] = {}
    for r in t.itertuples(index=False):
        canonical = canon.get(str(r.combo_ticker), ())
        if (
            canonical
            and all(leg.side == YES for leg in canonical)
            and not verdicts.get(str(r.combo_ticker), (False,))[0]
        ):
            observed.setdefault(frozenset(leg.market_ticker for leg in canonical), []).append(
                (r.ts, float(r.yes_price))
            )

    def rate_of(markets: Iterable[str]) -> float:
        rates = [taker_fee_rate(*fees.get(m, (None, 1))) for m in markets]
        return max(rates) if rates else DEFAULT_TAKER_FEE_RATE

    rows = []
    pending: list[Callable[[float], tuple[float | None, tuple[Term, ...]]]] = []
    spread_rows: list[tuple[tuple[str, ...], int, float]] = []
    for r in t.itertuples(index=False):
        trade_id, combo = str(r.trade_id), str(r.combo_ticker)
        price = float(r.yes_price)
        contracts = float(r.contracts)
        legs: list[Leg] = legs_of.get(combo, [])
        legs_c: tuple[Leg, ...] = canon.get(combo, ())
        yes = sorted(leg.market_ticker for leg in legs_c if leg.side == YES)
        no = sorted(leg.market_ticker for leg in legs_c if leg.side == NO)
        n_complemented = sum(1 for leg in legs if leg.side == NO and leg.market_ticker in complements)
        impossible, reason = verdicts.get(combo, (False, None))
        if combo in combo_fees:
            fee_type, fee_mult = combo_fees[combo]
            rate = taker_fee_rate(fee_type, fee_mult)
        else:
            leg_markets = [leg.market_ticker for leg in legs]
            fee_type, fee_mult = max(
                (fees.get(m, (None, 1)) for m in leg_markets),
                key=lambda f: taker_fee_rate(*f),
                default=(None, 1),
            )
            rate = rate_of(leg_markets)
        fee = fee_per_contract(price, contracts, rate)

        def price_of(
            s: frozenset[str], trade_id: str = trade_id, ts: pd.Timestamp = r.ts
        ) -> tuple[float | None, str]:
            if len(s) == 1:
                return asks.get((trade_id, next(iter(s)))), "base_ask"
            seen = observed.get(s, [])
            earlier = [p for when, p in seen if when <= ts]
            if earlier:
                return earlier[-1], "observed_combo"
            leg_asks = [asks.get((trade_id, m)) for m in sorted(s)]
            if any(a is None for a in leg_asks):
                return None, "independent_asks"
            return float(np.prod([a for a in leg_asks if a is not None])), "independent_asks"

        def net_of(
            s: frozenset[str], price_of: PriceOf = price_of, contracts: float = contracts
        ) -> tuple[float | None, str]:
            p, source = price_of(s)
            if p is None:
                return None, source
            return p - fee_per_contract(p, contracts, rate_of(s)), source

        def single_fair(m: str, net_of: PriceOf = net_of, trade_id: str = trade_id) -> tuple[float | None, str]:
            bid, ask = bids.get((trade_id, m)), asks.get((trade_id, m))
            if bid is not None and ask is not None and bid <= ask:
                return (bid + ask) / 2.0, "base_mid"
            return net_of(frozenset([m]))

        def fair_of(
            s: frozenset[str],
            spread: float,
            price_of: PriceOf = price_of,
            single_fair: Callable[[str], tuple[float | None, str]] = single_fair,
            contracts: float = contracts,
        ) -> tuple[float | None, str]:
            """The fair estimate of a lower-order all-YES contract: a market's mid (else its ask net of the
            fee), an observed combo net of the estimated combo markup, else the product of the legs' fair prices
            (flagged ``independent_asks``)."""
            if len(s) == 1:
                return single_fair(next(iter(s)))
            p, source = price_of(s)
            if p is None:
                return None, source
            if source == "observed_combo":
                return p - fee_per_contract(p, contracts, rate_of(s)) - spread, source
            legs_fair = [single_fair(m)[0] for m in sorted(s)]
            if any(f is None for f in legs_fair):
                return None, "independent_asks"
            return float(np.prod([f for f in legs_fair if f is not None])), "independent_asks"

        def learning_target(
            spread: float,
            fair_of: Callable[[frozenset[str], float], tuple[float | None, str]] = fair_of,
            price: float = price,
            fee: float = fee,
            yes: list[str] = yes,
            no: list[str] = no,
        ) -> tuple[float | None, tuple[Term, ...]]:
            return all_yes_target(price - fee - spread, yes, no, lambda s: fair_of(s, spread))

        target: float | None = 0.0
        target_net: float | None = 0.0
        terms: tuple[Term, ...] = ()
        if not impossible:
            target, terms = all_yes_target(price, yes, no, price_of)
            target_net, _ = all_yes_target(price - fee, yes, no, net_of)
            fee_only, fee_terms = learning_target(0.0)
            leg_mids = [single_fair(m) for m in sorted(yes + no)]
            if (
                fee_only is not None
                and all(term.source in ("base_mid", "certain") for term in fee_terms)
                and all(f is not None and src == "base_mid" for f, src in leg_mids)
            ):
                independence = float(np.prod([f for f, _ in leg_mids if f is not None]))
                spread_rows.append((tuple(sorted(yes + no)), (-1) ** len(no), fee_only - independence))
        pending.append(learning_target)
        implied = sum(1 for term in terms if term.source == "independent_asks")
        in_range = target is not None and -1e-9 <= target <= 1 + 1e-9
        rows.append(
            {
                "trade_id": trade_id,
                "combo_ticker": combo,
                "ts": r.ts,
                "contracts": contracts,
                "n_legs": len(legs),
                "observed_ask": price,
                "fee_type": fee_type,
                "fee_multiplier": _num(fee_mult),
                "fee_estimate": fee,
                "observed_net_of_fee": price - fee,
                "canonical_yes_legs": yes,
                "canonical_no_legs": no,
                "n_complemented": n_complemented,
                "target_legs": sorted(yes + no),
                "n_no_legs": len(no),
                "markup_coefficient": markup_coefficient(len(yes), len(no)),
                "n_terms": len(terms),
                "n_implied_terms": implied,
                "terms": [
                    {
                        "legs": sorted(term.legs),
                        "coefficient": term.coefficient,
                        "price": term.price,
                        "source": term.source,
                    }
                    for term in terms
                ],
                "exact": implied == 0 and target is not None,
                "target": target,
                "target_net_of_fees": target_net,
                "target_clipped": None if target is None else min(max(target, 0.0), 1.0),
                "target_in_range": in_range,
                "impossible": impossible,
                "impossible_reason": reason,
                "use_for_learning": (not impossible) and in_range and bool(legs),
                "markup_estimate": fee,
            }
        )
    if combo_spread is None:
        combo_spread = estimate_combo_spread(spread_rows)
    spread = DEFAULT_COMBO_SPREAD if combo_spread is None else float(combo_spread)
    for row, learning_target in zip(rows, pending, strict=True):
        row["markup_estimate"] = float(row["markup_estimate"]) + spread
        net, net_terms = (0.0, ()) if row["impossible"] else learning_target(spread)
        reason = None
        if row["impossible"]:
            reason = "impossible"
        elif not row["n_legs"]:
            reason = "no_legs"
        elif net is None:
            reason = "missing_price"
        elif any(term.source == "independent_asks" for term in net_terms):
            reason = "independence_filled"
        elif not -NET_TARGET_SLACK <= net <= 1.0 + NET_TARGET_SLACK:
            reason = "out_of_range"
        row["target_net_of_markup"] = None if net is None else min(max(net, 0.0), 1.0)
        row["learning_excluded_reason"] = reason
        row["use_for_learning"] = reason is None
    return pd.DataFrame(rows, columns=COMBO_TARGET_COLUMNS)
