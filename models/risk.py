"""The risk engine: the gate between pricing and execution.

Hard rules, each named when it rejects: stake bounds, exposure per outcome, LP capacity against the book's
exact worst case, the LP drawdown guardrail, and quotability (impossible combos, prices off the grid).

Outcomes are expressed over *binary variables* (the structural layer's mapping, where every assignment
is feasible): each market resolves YES exactly when a conjunction of literals over its cluster's
variables holds (one literal for most markets; a bracket is ``y_k ∧ ¬y_{k+1}``). The book's payout in
an outcome is the sum of payouts of the bets whose legs all hold. Its worst case is computed exactly by
enumerating the variables of each connected component of the book (components are independent, so
their worst cases add up) when the component is small, and bounded (every bet in the component wins)
otherwise. A :class:`Book` keeps its components, their worst cases and the exposure per outcome between
decisions and brings them up to date as bets are appended, so a decision recomputes only the component the
new bet joins.

Exposure is measured per *outcome* of a variable, never per ticker: two tickers of one event ("MIL NO"
and "DET YES" of one game) are one outcome. The exposure of the outcome ``v = b`` is the payout of every
bet that can win only when ``v = b`` (a bracket YES counts toward both thresholds it implies); a NO leg on
a multi-literal market (a disjunction) is its own outcome, keyed by its literals. See
:func:`outcome_exposure`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import numpy as np

YES, NO = "yes", "no"
CENT = Decimal("0.01")

Literal = tuple[str, bool]  # (variable id, required value)
# An outcome the exposure limit caps: a literal ``(variable, value)``, or ``("not", literals)`` for the NO
# side of a multi-literal market (the event "not all of these literals")
Outcome = tuple[str, bool] | tuple[str, tuple[Literal, ...]]
EXACT_IMPLICATION_VARS = 12  # bets over more variables: implied outcomes read from their legs alone


@dataclass(frozen=True)
class MarketDef:
    """A market's YES event as a conjunction of variable literals."""

    market_ticker: str
    literals: tuple[Literal, ...]

    def __post_init__(self) -> None:
        if not self.literals:
            raise ValueError(f"{self.market_ticker}: a market needs at least one literal")


@dataclass(frozen=True)
class BookBet:
    legs: tuple[tuple[str, str], ...]  # (market_ticker, side)
    payout: Decimal
    stake: Decimal = Decimal(0)


@dataclass(frozen=True)
class RiskConfig:
    base_margin: float = 0.02  # probability points added to every fair price
    uncertainty_multiplier: float = 1.5  # … plus this many ensemble standard deviations
    max_margin: float = 0.15  # wider than this: the model is too unsure to quote
    min_stake: Decimal = Decimal("1")
    max_stake: Decimal = Decimal("1000")
    max_market_exposure: Decimal = Decimal("25000")  # payout at risk on one outcome (see outcome_exposure)
    lp_utilization: float = 0.8  # worst-case payout ≤ this share of the pool's cash
    max_drawdown: float = 0.2  # halt new quotes beyond this drop of pool equity from its peak
    tick: Decimal = Decimal("0.01")  # Kalshi's price grid
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("0.99")
    max_enumeration_vars: int = 18

    def __post_init__(self) -> None:
        if self.base_margin < 0 or self.uncertainty_multiplier < 0:
            raise ValueError("margins must be non-negative")
        if not 0 < self.lp_utilization <= 1 or not 0 < self.max_drawdown < 1:
            raise ValueError("lp_utilization must be in (0, 1] and max_drawdown in (0, 1)")
        if self.min_stake <= 0 or self.max_stake < self.min_stake:
            raise ValueError("need 0 < min_stake <= max_stake")


@dataclass(frozen=True)
class PoolState:
    cash: Decimal  # LP capital + stakes received − payouts paid (+ hedge P&L)
    equity: Decimal  # cash − expected liabilities, marked to model
    peak_equity: Decimal

    @property
    def drawdown(self) -> float:
        if self.peak_equity <= 0:
            return 0.0
        return float((self.peak_equity - self.equity) / self.peak_equity)


@dataclass(frozen=True)
class WorstCase:
    payout: Decimal
    exact: bool
    variables: int


@dataclass(frozen=True)
class RiskDecision:
    accepted: bool
    rule: str | None  # the rule that rejected, None when accepted
    reason: str
    probability: float  # final (fair) probability used
    uncertainty: float
    margin: float
    price: Decimal  # dollars per $1 of payout, on the tick grid, rounded up
    payout: Decimal  # for the requested stake, rounded down to the cent
    max_stake: Decimal  # the largest stake every rule allows right now
    worst_case_payout: Decimal  # of the book including this bet at the requested stake
    worst_case_exact: bool


# ----------------------------------------------------------------------------- outcomes


def _leg_literal_sets(leg: tuple[str, str], markets: Mapping[str, MarketDef]) -> MarketDef:
    try:
        return markets[leg[0]]
    except KeyError:
        raise KeyError(f"no variable mapping for market {leg[0]!r}") from None


def _bet_variables(bet: BookBet, markets: Mapping[str, MarketDef]) -> set[str]:
    return {v for leg in bet.legs for v, _ in _leg_literal_sets(leg, markets).literals}


def is_impossible(legs: Sequence[tuple[str, str]], markets: Mapping[str, MarketDef]) -> bool:
    """True when no assignment of the variables makes every leg hold."""
    variables = sorted({v for leg in legs for v, _ in _leg_literal_sets(leg, markets).literals})
    if len(variables) > 22:
        raise ValueError("too many variables to decide feasibility by enumeration")
    grid = _grid(len(variables))
    return not bool(_bet_mask(BookBet(tuple(legs), Decimal(1)), markets, variables, grid).any())


def _grid(n: int) -> np.ndarray:
    """All 2ⁿ assignments as a boolean matrix (rows: outcomes, columns: variables)."""
    codes = np.arange(1 << n, dtype=np.int64)
    return ((codes[:, None] >> np.arange(n, dtype=np.int64)) & 1).astype(bool)


def _bet_mask(bet: BookBet, markets: Mapping[str, MarketDef], variables: list[str], grid: np.ndarray) -> np.ndarray:
    col = {v: i for i, v in enumerate(variables)}
    mask = np.ones(grid.shape[0], dtype=bool)
    for leg in bet.legs:
        m = _leg_literal_sets(leg, markets)
        holds = np.ones(grid.shape[0], dtype=bool)
        for var, value in m.literals:
            holds &= grid[:, col[var]] == value
        mask &= holds if leg[1] == YES else ~holds
    return mask


def _components(bets: Sequence[BookBet], markets: Mapping[str, MarketDef]) -> list[tuple[list[str], list[int]]]:
    """Connected components of the book: variables linked by a common bet."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    bet_vars = [sorted(_bet_variables(b, markets)) for b in bets]
    for vs in bet_vars:
        for v in vs[1:]:
            ra, rb = find(vs[0]), find(v)
            if ra != rb:
                parent[ra] = rb
        if vs:
            find(vs[0])
    groups: dict[str, tuple[list[str], list[int]]] = {}
    for i, vs in enumerate(bet_vars):
        root = find(vs[0])
        g = groups.setdefault(root, ([], []))
        g[1].append(i)
    for v in parent:
        root = find(v)
        if root in groups:
            groups[root][0].append(v)
    return [(sorted(set(vs)), idx) for vs, idx in groups.values()]


def worst_case_payout(
    bets: Sequence[BookBet], markets: Mapping[str, MarketDef], max_vars: int = 18
) -> WorstCase:
    """max over outcomes of the total payout owed: exact per component up to ``max_vars`` variables."""
    total = Decimal(0)
    exact = True
    largest = 0
    for variables, idx in _components(bets, markets):
        largest = max(largest, len(variables))
        if len(variables) <= max_vars:
            grid = _grid(len(variables))
            owed = np.zeros(grid.shape[0], dtype=np.float64)
            for i in idx:
                owed += float(bets[i].payout) * _bet_mask(bets[i], markets, variables, grid)
            best = int(np.argmax(owed))
            # recompute the maximizing outcome exactly in decimals
            at_best = grid[best : best + 1]
            total += sum(
                (bets[i].payout for i in idx if _bet_mask(bets[i], markets, variables, at_best)[0]), Decimal(0)
            )
        else:
            exact = False
            total += sum((bets[i].payout for i in idx), Decimal(0))
    return WorstCase(total, exact, largest)


# ----------------------------------------------------------------------------- pricing on the grid


def price_on_grid(probability: float, margin: float, cfg: RiskConfig) -> Decimal:
    """Fair probability plus margin, rounded UP to the tick (the house's favour)."""
    # round away binary noise first (0.45 + 0.02 is 0.47000000000000003 in floating point)
    raw = Decimal(repr(probability + margin)).quantize(Decimal("1e-9"))
    ticks = (raw / cfg.tick).to_integral_value(rounding=ROUND_CEILING)
    return max(ticks * cfg.tick, cfg.min_price)


def payout_for(stake: Decimal, price: Decimal) -> Decimal:
    """Payout for a stake at a price, rounded DOWN to the cent (the house's favour)."""
    return (stake / price).quantize(CENT, rounding=ROUND_FLOOR)


def margin_for(uncertainty: float, cfg: RiskConfig) -> float:
    return cfg.base_margin + cfg.uncertainty_multiplier * max(uncertainty, 0.0)


# ----------------------------------------------------------------------------- the gate


class _BookIndex:
    """An incremental view of a book's bets under one market mapping: each bet's variables, the connected
    components (union–find over variables) with their payout totals and worst cases, cached until a new bet
    joins them, and the payout at risk per outcome. Every figure equals what :func:`worst_case_payout` and
    :func:`outcome_exposure` give for the same bets; only the work is shared between decisions."""

    def __init__(self, source: list[BookBet], markets: Mapping[str, MarketDef], max_vars: int) -> None:
        self.source = source  # the book's list this index follows
        self.markets = markets
        self.max_vars = max_vars
        self.bets: list[BookBet] = []  # the bets indexed so far, a prefix of ``source``
        self.parent: dict[str, str] = {}
        self.comp_vars: dict[str, set[str]] = {}
        self.comp_bets: dict[str, list[int]] = {}
        self.comp_total: dict[str, Decimal] = {}
        self.comp_worst: dict[str, WorstCase] = {}
        self.exposure: dict[Outcome, Decimal] = {}
        self._implied: dict[tuple[tuple[str, str], ...], frozenset[Outcome]] = {}

    def follows(self, bets: list[BookBet], markets: Mapping[str, MarketDef], max_vars: int) -> bool:
        """True when ``bets`` is the list indexed so far plus appended bets, under the same mapping and bound."""
        n = len(self.bets)
        return (bets is self.source and max_vars == self.max_vars and len(bets) >= n
                and (n == 0 or bets[n - 1] is self.bets[n - 1])
                and (markets is self.markets or markets == self.markets))

    def find(self, x: str) -> str:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def roots_of(self, variables: Iterable[str]) -> set[str]:
        """The components (by root) that hold any of ``variables``."""
        return {self.find(v) for v in variables if v in self.parent}

    def add(self, bet: BookBet) -> None:
        i = len(self.bets)
        self.bets.append(bet)
        variables = _bet_variables(bet, self.markets)
        for v in variables:
            if v not in self.parent:
                self.parent[v] = v
                self.comp_vars[v], self.comp_bets[v], self.comp_total[v] = {v}, [], Decimal(0)
        roots = sorted(self.roots_of(variables))
        root = roots[0]
        for r in roots[1:]:
            self.parent[r] = root
            self.comp_vars[root] |= self.comp_vars.pop(r)
            self.comp_bets[root].extend(self.comp_bets.pop(r))
            self.comp_total[root] += self.comp_total.pop(r)
            self.comp_worst.pop(r, None)
        self.comp_bets[root].append(i)
        self.comp_total[root] += bet.payout
        self.comp_worst.pop(root, None)
        keys = self._implied.get(bet.legs)
        if keys is None:
            keys = self._implied[bet.legs] = implied_outcomes(bet.legs, self.markets)
        for k in keys:
            self.exposure[k] = self.exposure.get(k, Decimal(0)) + bet.payout

    def members(self, roots: Iterable[str]) -> list[BookBet]:
        return [self.bets[i] for i in sorted(i for r in roots for i in self.comp_bets[r])]

    def variables(self, roots: Iterable[str], extra: Iterable[str] = ()) -> list[str]:
        return sorted(set(extra).union(*(self.comp_vars[r] for r in roots)))

    def total(self, roots: Iterable[str]) -> Decimal:
        return sum((self.comp_total[r] for r in roots), Decimal(0))

    def worst(self, root: str) -> WorstCase:
        """The worst case of one component (cached until a bet joins it)."""
        wc = self.comp_worst.get(root)
        if wc is None:
            n = len(self.comp_vars[root])
            if n > self.max_vars:  # bounded: every bet of the component wins
                wc = WorstCase(self.comp_total[root], False, n)
            else:
                wc = worst_case_payout(self.members([root]), self.markets, self.max_vars)
            self.comp_worst[root] = wc
        return wc

    def worst_except(self, skip: set[str]) -> WorstCase:
        """The summed worst case of every component but those in ``skip``."""
        parts = [self.worst(r) for r in self.comp_bets if r not in skip]
        return WorstCase(sum((w.payout for w in parts), Decimal(0)), all(w.exact for w in parts),
                         max((w.variables for w in parts), default=0))


@dataclass
class Book:
    """Open bets, as the risk engine sees them.

    The engine keeps an index of the bets (per-bet variables, components and their worst cases, exposure per
    outcome) between decisions; it follows bets *appended* to ``bets``. A list that shrank, was replaced or whose
    last indexed bet changed is indexed again; any other change to it needs a new ``Book``."""

    bets: list[BookBet] = field(default_factory=list)
    _index: _BookIndex | None = field(default=None, init=False, repr=False, compare=False)

    def indexed(self, markets: Mapping[str, MarketDef], max_vars: int) -> _BookIndex:
        """The index of ``bets`` under ``markets``: brought up to date with appended bets, rebuilt when the
        mapping, the enumeration bound or the list itself changed."""
        idx = self._index
        if idx is None or not idx.follows(self.bets, markets, max_vars):
            idx = self._index = _BookIndex(self.bets, markets, max_vars)
        idx.markets = markets
        for bet in self.bets[len(idx.bets):]:
            idx.add(bet)
        return idx

    def market_exposure(self) -> dict[tuple[str, str], Decimal]:
        """Payout per (ticker, side) as written on the bets (a report; the limit uses
        :meth:`outcome_exposure`)."""
        out: dict[tuple[str, str], Decimal] = {}
        for b in self.bets:
            for leg in set(b.legs):
                out[leg] = out.get(leg, Decimal(0)) + b.payout
        return out

    def outcome_exposure(self, markets: Mapping[str, MarketDef]) -> dict[Outcome, Decimal]:
        """Payout at risk per outcome over the structural variables (see :func:`outcome_exposure`)."""
        return outcome_exposure(self.bets, markets)


def implied_outcomes(legs: Sequence[tuple[str, str]], markets: Mapping[str, MarketDef]) -> frozenset[Outcome]:
    """The outcomes that hold in every outcome where all ``legs`` win: exactly (by enumeration) over at
    most :data:`EXACT_IMPLICATION_VARS` variables, otherwise the literals the legs state (YES of a market,
    NO of a one-literal market). A NO leg on a multi-literal market adds its own disjunctive outcome.
    Legs that can never win together imply nothing (they never pay)."""
    out: set[Outcome] = set()
    simple = True  # every leg one literal: the bet is a conjunction of literals, which imply only themselves
    for t, side in legs:
        lits = _leg_literal_sets((t, side), markets).literals
        if side == YES:
            out.update(lits)
            simple = simple and len(lits) == 1
        elif len(lits) == 1:
            v, b = lits[0]
            out.add((v, not b))
        else:
            out.add(("not", tuple(sorted(lits))))
            simple = False
    if simple:
        values: dict[str, bool] = {}
        for v, b in out:  # type: ignore[misc]
            if values.setdefault(v, b) != b:
                return frozenset()  # contradictory: never pays
        return frozenset(out)
    variables = sorted({v for leg in legs for v, _ in _leg_literal_sets(leg, markets).literals})
    if len(variables) <= EXACT_IMPLICATION_VARS:
        grid = _grid(len(variables))
        wins = grid[_bet_mask(BookBet(tuple(legs), Decimal(1)), markets, variables, grid)]
        if wins.shape[0] == 0:
            return frozenset()
        for j, v in enumerate(variables):
            col = wins[:, j]
            if col.all():
                out.add((v, True))
            elif not col.any():
                out.add((v, False))
    return frozenset(out)


def outcome_exposure(bets: Iterable[BookBet], markets: Mapping[str, MarketDef]) -> dict[Outcome, Decimal]:
    """Per outcome, the summed payout of the bets that can win only when it holds."""
    out: dict[Outcome, Decimal] = {}
    seen: dict[tuple[tuple[str, str], ...], frozenset[Outcome]] = {}
    for b in bets:
        keys = seen.get(b.legs)
        if keys is None:
            keys = seen[b.legs] = implied_outcomes(b.legs, markets)
        for k in keys:
            out[k] = out.get(k, Decimal(0)) + b.payout
    return out


def describe_outcome(outcome: Outcome) -> str:
    if outcome[0] == "not" and isinstance(outcome[1], tuple):
        return "not (" + " and ".join(f"{v} = {'yes' if b else 'no'}" for v, b in outcome[1]) + ")"
    return f"{outcome[0]} = {'yes' if outcome[1] else 'no'}"


def evaluate(
    legs: Sequence[tuple[str, str]],
    stake: Decimal,
    probability: float,
    uncertainty: float,
    book: Book,
    pool: PoolState,
    markets: Mapping[str, MarketDef],
    cfg: RiskConfig,
) -> RiskDecision:
    """Decide a parlay at ``stake``: accepted, or rejected by the first rule it breaks (named)."""
    legs = tuple(legs)
    margin = margin_for(uncertainty, cfg)

    def reject(rule: str, reason: str, price: Decimal = Decimal(0), max_stake: Decimal = Decimal(0),
               worst: WorstCase | None = None) -> RiskDecision:
        return RiskDecision(False, rule, reason, probability, uncertainty, margin, price,
                            payout_for(stake, price) if price > 0 else Decimal(0), max_stake,
                            worst.payout if worst else Decimal(0), worst.exact if worst else True)

    if pool.drawdown > cfg.max_drawdown:
        return reject("lp_drawdown", f"LP equity is {pool.drawdown:.1%} below its peak (limit "
                                     f"{cfg.max_drawdown:.0%}): new quotes are halted")
    if is_impossible(legs, markets):
        return reject("impossible_combo", "these legs cannot all win together")
    if not 0.0 <= probability <= 1.0:
        return reject("probability_out_of_range", f"model probability {probability} outside [0, 1]")
    if margin > cfg.max_margin:
        return reject("uncertainty_too_high", f"margin {margin:.3f} from uncertainty {uncertainty:.3f} exceeds "
                                              f"{cfg.max_margin}")
    price = price_on_grid(probability, margin, cfg)
    if price > cfg.max_price:
        return reject("price_off_grid", f"price {price} above {cfg.max_price}: nothing to win for the bettor", price)

    # The largest payout each rule allows, then the largest stake. With W(x) what the book owes in
    # outcome x, worst(new) = max(max_x W(x), max_{x: new wins} W(x) + payout): capacity binds the
    # second term; the first must already fit.
    capacity = Decimal(repr(cfg.lp_utilization)) * pool.cash
    index = book.indexed(markets, cfg.max_enumeration_vars)
    unit = BookBet(legs, Decimal(1))
    new_vars = _bet_variables(unit, markets)
    touched = index.roots_of(new_vars)  # the components the new bet joins
    others = index.worst_except(touched)  # the rest is independent of it: their worst cases add
    worst_now = _plus(others, [index.worst(r) for r in touched])
    joined = index.variables(touched, new_vars)
    bounded = len(joined) > cfg.max_enumeration_vars  # then every bet of the joined component counts as winning
    members = [] if bounded else index.members(touched)
    worst_if_win = others.payout + (index.total(touched) if bounded else
                                    _worst_in_component_when_wins(members, unit, markets, joined))
    room_capacity = capacity - worst_if_win if worst_now.payout <= capacity else Decimal(0)
    exposure = index.exposure
    rooms = sorted(((cfg.max_market_exposure - exposure.get(k, Decimal(0)), describe_outcome(k))
                    for k in implied_outcomes(legs, markets)), key=lambda r: r[0])
    room_market, binding = rooms[0] if rooms else (cfg.max_market_exposure, "")
    max_payout = max(Decimal(0), min(room_capacity, room_market))
    max_stake = min(cfg.max_stake, (max_payout * price).quantize(CENT, rounding=ROUND_FLOOR))
    payout = payout_for(stake, price)
    if bounded:
        joined_worst = WorstCase(index.total(touched) + payout, False, len(joined))
    else:
        joined_worst = worst_case_payout([*members, BookBet(legs, payout, stake)], markets, cfg.max_enumeration_vars)
    worst_after = _plus(others, [joined_worst])

    if stake < cfg.min_stake:
        return reject("stake_too_small", f"stake {stake} below the minimum {cfg.min_stake}", price, max_stake,
                      worst_after)
    if stake > cfg.max_stake:
        return reject("stake_above_max", f"stake {stake} above the per-parlay maximum {cfg.max_stake}", price,
                      max_stake, worst_after)
    if payout > room_market:
        return reject("market_exposure_limit", f"payout {payout} would exceed the exposure limit "
                                               f"{cfg.max_market_exposure} on the outcome {binding} (room "
                                               f"{max(room_market, Decimal(0))})",
                      price, max_stake, worst_after)
    if worst_after.payout > capacity:
        reason = (f"worst-case payout {worst_after.payout} would exceed {cfg.lp_utilization:.0%} "
                  f"of pool cash {pool.cash}")
        return reject("lp_capacity", reason, price, max_stake, worst_after)
    return RiskDecision(True, None, "accepted", probability, uncertainty, margin, price, payout, max_stake,
                        worst_after.payout, worst_after.exact)


def _plus(base: WorstCase, parts: Sequence[WorstCase]) -> WorstCase:
    return WorstCase(base.payout + sum((w.payout for w in parts), Decimal(0)),
                     base.exact and all(w.exact for w in parts), max([base.variables, *(w.variables for w in parts)]))


def _worst_in_component_when_wins(members: Sequence[BookBet], new: BookBet, markets: Mapping[str, MarketDef],
                                  variables: list[str]) -> Decimal:
    """max over the outcomes of ``variables`` in which ``new`` wins of what ``members`` owe (by enumeration),
    where ``members`` are the book's bets sharing a component with ``new`` and ``variables`` all of theirs."""
    grid = _grid(len(variables))
    wins = _bet_mask(new, markets, variables, grid)
    if not wins.any():
        return Decimal(0)
    owed = np.zeros(grid.shape[0], dtype=np.float64)
    for b in members:
        owed += float(b.payout) * _bet_mask(b, markets, variables, grid)
    owed[~wins] = -np.inf
    best = int(np.argmax(owed))
    return sum((b.payout for b in members if _bet_mask(b, markets, variables, grid[best:best + 1])[0]), Decimal(0))


def book_from(rows: Iterable[tuple[Sequence[tuple[str, str]], Decimal, Decimal]]) -> Book:
    """(legs, payout, stake) rows → Book."""
    return Book([BookBet(tuple(legs), payout, stake) for legs, payout, stake in rows])
