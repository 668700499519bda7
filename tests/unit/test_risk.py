"""Risk engine: exact worst case vs brute force, named rejections, prices in the house's favour."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from models.risk import (
    Book,
    BookBet,
    MarketDef,
    PoolState,
    RiskConfig,
    evaluate,
    is_impossible,
    payout_for,
    price_on_grid,
    worst_case_payout,
)

# Two games. Game G: one variable (home wins); the away market is its complement.
# Game H: a total with cumulative variables over ≥ 200 and over ≥ 210; bracket [200, 210) = o200 ∧ ¬o210.
MARKETS = {
    "G-HOME": MarketDef("G-HOME", (("G.home", True),)),
    "G-AWAY": MarketDef("G-AWAY", (("G.home", False),)),
    "H-O200": MarketDef("H-O200", (("H.o200", True),)),
    "H-O210": MarketDef("H-O210", (("H.o210", True),)),
    "H-B200": MarketDef("H-B200", (("H.o200", True), ("H.o210", False))),
    "K-A": MarketDef("K-A", (("K.a", True),)),
    "K-B": MarketDef("K-B", (("K.b", True),)),
}
LEGS = [(m, s) for m in MARKETS for s in ("yes", "no")]
VARS = sorted({v for m in MARKETS.values() for v, _ in m.literals})


def brute_worst(bets: list[BookBet]) -> Decimal:
    best = Decimal(0)
    for values in itertools.product([False, True], repeat=len(VARS)):
        x = dict(zip(VARS, values, strict=True))
        owed = Decimal(0)
        for b in bets:
            if all(all(x[v] == val for v, val in MARKETS[m].literals) == (side == "yes") for m, side in b.legs):
                owed += b.payout
        best = max(best, owed)
    return best


bets_strategy = st.lists(
    st.builds(
        BookBet,
        legs=st.lists(st.sampled_from(LEGS), min_size=1, max_size=3).map(tuple),
        payout=st.integers(1, 500).map(Decimal),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(bets=bets_strategy)
def test_worst_case_equals_brute_force_over_all_outcomes(bets: list[BookBet]) -> None:
    wc = worst_case_payout(bets, MARKETS, max_vars=18)
    assert wc.exact
    assert wc.payout == brute_worst(bets)


@settings(max_examples=60, deadline=None)
@given(bets=bets_strategy)
def test_bound_is_never_below_the_exact_worst_case(bets: list[BookBet]) -> None:
    bounded = worst_case_payout(bets, MARKETS, max_vars=0)
    assert bounded.payout >= brute_worst(bets)


def test_impossible_combos() -> None:
    assert is_impossible([("G-HOME", "yes"), ("G-AWAY", "yes")], MARKETS)
    assert is_impossible([("G-HOME", "yes"), ("G-HOME", "no")], MARKETS)
    assert is_impossible([("H-B200", "yes"), ("H-O200", "no")], MARKETS)
    assert not is_impossible([("G-HOME", "yes"), ("H-B200", "yes")], MARKETS)


POOL = PoolState(cash=Decimal(10_000), equity=Decimal(10_000), peak_equity=Decimal(10_000))


def test_accepted_quote_is_priced_in_the_house_favour() -> None:
    cfg = RiskConfig()
    d = evaluate([("G-HOME", "yes"), ("K-A", "yes")], Decimal(10), 0.2512, 0.01, Book(), POOL, MARKETS, cfg)
    assert d.accepted and d.rule is None
    assert d.price == Decimal("0.29")  # 0.2512 + 0.02 + 1.5·0.01 = 0.2862 → up to 0.29
    assert d.payout == Decimal("34.48")  # 10 / 0.29 = 34.4827… → down
    assert d.payout * d.price <= Decimal(10) + Decimal("0.01")


@settings(max_examples=100, deadline=None)
@given(p=st.floats(0.001, 0.95), u=st.floats(0, 0.05), stake=st.integers(1, 1000).map(Decimal))
def test_price_never_below_fair_plus_margin_and_payout_never_above_stake_over_price(p, u, stake) -> None:
    cfg = RiskConfig()
    price = price_on_grid(p, 0.02 + 1.5 * u, cfg)
    fair = Decimal(repr(p + 0.02 + 1.5 * u))
    assert fair - Decimal("1e-9") <= price < fair + cfg.tick
    assert payout_for(stake, price) <= stake / price


def test_named_rejections() -> None:
    cfg = RiskConfig(max_market_exposure=Decimal(500), max_stake=Decimal(200))
    legs = [("G-HOME", "yes")]
    assert evaluate([("G-HOME", "yes"), ("G-AWAY", "yes")], Decimal(10), 0.0, 0.0, Book(), POOL, MARKETS,
                    cfg).rule == "impossible_combo"
    assert evaluate(legs, Decimal("0.5"), 0.5, 0.0, Book(), POOL, MARKETS, cfg).rule == "stake_too_small"
    assert evaluate(legs, Decimal(300), 0.5, 0.0, Book(), POOL, MARKETS, cfg).rule == "stake_above_max"
    assert evaluate(legs, Decimal(10), 0.5, 0.2, Book(), POOL, MARKETS, cfg).rule == "uncertainty_too_high"
    assert evaluate(legs, Decimal(10), 0.985, 0.0, Book(), POOL, MARKETS, cfg).rule == "price_off_grid"
    full = Book([BookBet((("G-HOME", "yes"),), Decimal(480))])
    d = evaluate(legs, Decimal(100), 0.5, 0.0, full, POOL, MARKETS, cfg)
    assert d.rule == "market_exposure_limit" and d.max_stake == Decimal("10.40")  # room 20 × price 0.52
    down = PoolState(Decimal(10_000), Decimal(7_000), Decimal(10_000))
    assert evaluate(legs, Decimal(10), 0.5, 0.0, Book(), down, MARKETS, cfg).rule == "lp_drawdown"


def test_lp_capacity_uses_the_joint_worst_case_not_the_sum_of_legs() -> None:
    cfg = RiskConfig(lp_utilization=0.5, max_market_exposure=Decimal(10**9), max_stake=Decimal(10**6))
    pool = PoolState(Decimal(1000), Decimal(1000), Decimal(1000))  # capacity 500
    # 400 owed if home wins; a bet on away can never pay together with it
    book = Book([BookBet((("G-HOME", "yes"),), Decimal(400))])
    d = evaluate([("G-AWAY", "yes")], Decimal(100), 0.5, 0.0, book, pool, MARKETS, cfg)
    assert d.accepted, d.reason  # payout 192.30 < 500 when away wins (home bet lost)
    assert d.worst_case_payout == Decimal(400)
    d2 = evaluate([("G-HOME", "yes")], Decimal(100), 0.5, 0.0, book, pool, MARKETS, cfg)
    assert d2.rule == "lp_capacity"  # 400 + 192.30 > 500
    assert d2.max_stake == Decimal("52.00")  # room 100 of payout × 0.52


@settings(max_examples=60, deadline=None)
@given(bets=bets_strategy, legs=st.lists(st.sampled_from(LEGS), min_size=1, max_size=3),
       stake=st.integers(1, 300).map(Decimal))
def test_accepted_bets_never_push_the_worst_case_beyond_capacity(bets, legs, stake) -> None:
    cfg = RiskConfig(lp_utilization=0.5, max_market_exposure=Decimal(10**9), max_stake=Decimal(10**6))
    pool = PoolState(Decimal(3000), Decimal(3000), Decimal(3000))
    d = evaluate(legs, stake, 0.3, 0.0, Book(list(bets)), pool, MARKETS, cfg)
    if d.accepted:
        assert brute_worst([*bets, BookBet(tuple(legs), d.payout)]) <= Decimal(1500)
    if d.rule in (None, "lp_capacity") and d.max_stake >= cfg.min_stake:
        at_max = evaluate(legs, d.max_stake, 0.3, 0.0, Book(list(bets)), pool, MARKETS, cfg)
        assert at_max.accepted, at_max.reason


# ----------------------------------------------------------------------------- exposure per outcome


def test_exposure_counts_outcomes_not_tickers() -> None:
    """G-AWAY NO is the event G-HOME YES: with home at its limit, away-NO bets are refused."""
    cfg = RiskConfig(max_market_exposure=Decimal(25_000), max_stake=Decimal(1000))
    rich = PoolState(Decimal(10**7), Decimal(10**7), Decimal(10**7))
    book = Book([BookBet((("G-HOME", "yes"), ("K-A", "yes")), Decimal(25_000))])
    d = evaluate([("G-AWAY", "no"), ("K-B", "yes")], Decimal(100), 0.25, 0.0, book, rich, MARKETS, cfg)
    assert d.rule == "market_exposure_limit", d.reason
    assert d.max_stake == Decimal(0)
    # the other outcome of the same variable has all its room
    d = evaluate([("G-AWAY", "yes"), ("K-B", "yes")], Decimal(100), 0.25, 0.0, book, rich, MARKETS, cfg)
    assert d.accepted, d.reason


def test_a_bracket_counts_toward_the_thresholds_it_implies() -> None:
    cfg = RiskConfig(max_market_exposure=Decimal(1000), max_stake=Decimal(1000))
    rich = PoolState(Decimal(10**7), Decimal(10**7), Decimal(10**7))
    # the bracket [200, 210) pays only when the total is over 200 and not over 210
    book = Book([BookBet((("H-B200", "yes"), ("K-A", "yes")), Decimal(990))])
    over = evaluate([("H-O200", "yes"), ("K-B", "yes")], Decimal(100), 0.25, 0.0, book, rich, MARKETS, cfg)
    assert over.rule == "market_exposure_limit", over.reason
    under = evaluate([("H-O210", "no"), ("K-B", "yes")], Decimal(100), 0.25, 0.0, book, rich, MARKETS, cfg)
    assert under.rule == "market_exposure_limit", under.reason
    other = evaluate([("H-O210", "yes"), ("K-B", "yes")], Decimal(100), 0.25, 0.0, book, rich, MARKETS, cfg)
    assert other.accepted, other.reason


def brute_outcome_exposure(bets: list[BookBet]) -> dict[tuple[str, bool], Decimal]:
    """Per literal v = b: the payouts of the bets that can win only when v = b (by brute force)."""
    out: dict[tuple[str, bool], Decimal] = {}
    for b in bets:
        wins = []
        for values in itertools.product([False, True], repeat=len(VARS)):
            x = dict(zip(VARS, values, strict=True))
            if all(all(x[v] == val for v, val in MARKETS[m].literals) == (side == "yes") for m, side in b.legs):
                wins.append(x)
        if not wins:
            continue
        for v in VARS:
            for val in (False, True):
                if all(x[v] == val for x in wins):
                    out[(v, val)] = out.get((v, val), Decimal(0)) + b.payout
    return out


@settings(max_examples=80, deadline=None)
@given(bets=bets_strategy, legs=st.lists(st.sampled_from(LEGS), min_size=1, max_size=3),
       stake=st.integers(1, 300).map(Decimal))
def test_accepted_bets_never_push_an_outcome_beyond_the_exposure_limit(bets, legs, stake) -> None:
    cfg = RiskConfig(max_market_exposure=Decimal(1500), max_stake=Decimal(10**6))
    rich = PoolState(Decimal(10**9), Decimal(10**9), Decimal(10**9))
    before = brute_outcome_exposure(list(bets))
    d = evaluate(legs, stake, 0.3, 0.0, Book(list(bets)), rich, MARKETS, cfg)
    if d.accepted:
        after = brute_outcome_exposure([*bets, BookBet(tuple(legs), d.payout)])
        for k, v in after.items():
            assert v <= max(cfg.max_market_exposure, before.get(k, Decimal(0))), (k, v)


@settings(max_examples=60, deadline=None)
@given(flow=st.lists(st.tuples(st.lists(st.sampled_from(LEGS), min_size=1, max_size=3),
                               st.integers(1, 400).map(Decimal)), min_size=1, max_size=25),
       max_vars=st.sampled_from([18, 2]), cash=st.sampled_from([Decimal(2000), Decimal(10**7)]))
def test_a_book_kept_between_decisions_decides_as_a_fresh_book(flow, max_vars, cash) -> None:
    """The engine's index of a book (components, their worst cases, exposure per outcome) carries over as bets
    are appended; every decision equals the one on a fresh Book of the same bets, and the worst case of the book
    with the new bet is the brute-force worst case whenever enumeration is exact."""
    cfg = RiskConfig(max_market_exposure=Decimal(1200), max_stake=Decimal(10**6), max_enumeration_vars=max_vars)
    pool = PoolState(cash, cash, cash)
    kept = Book([])
    for legs, stake in flow:
        d = evaluate(legs, stake, 0.3, 0.01, kept, pool, dict(MARKETS), cfg)  # a new, equal mapping each time
        fresh = evaluate(legs, stake, 0.3, 0.01, Book(list(kept.bets)), pool, MARKETS, cfg)
        assert d == fresh
        if d.rule not in ("impossible_combo", "stake_too_small") and d.worst_case_exact and max_vars == 18:
            assert d.worst_case_payout == brute_worst([*kept.bets, BookBet(tuple(legs), d.payout, stake)])
        if d.accepted:
            kept.bets.append(BookBet(tuple(legs), d.payout, stake))


def test_a_book_whose_bets_were_removed_or_replaced_is_indexed_again() -> None:
    cfg = RiskConfig(max_stake=Decimal(10**6))
    pool = PoolState(Decimal(10**6), Decimal(10**6), Decimal(10**6))
    big = BookBet((("G-HOME", "yes"),), Decimal(5000))
    book = Book([big, BookBet((("H-O200", "yes"),), Decimal(10))])
    first = evaluate([("G-HOME", "yes")], Decimal(10), 0.5, 0.0, book, pool, MARKETS, cfg)
    assert first.worst_case_payout == Decimal(5010) + payout_for(Decimal(10), first.price)
    book.bets.pop(0)  # settled: the index must not keep it
    book.bets.append(BookBet((("H-O210", "yes"),), Decimal(7)))
    second = evaluate([("G-HOME", "yes")], Decimal(10), 0.5, 0.0, book, pool, MARKETS, cfg)
    assert second.worst_case_payout == Decimal(17) + payout_for(Decimal(10), second.price)
    book.bets = [big]  # a new list
    third = evaluate([("K-A", "yes")], Decimal(10), 0.5, 0.0, book, pool, MARKETS, cfg)
    assert third.worst_case_payout == Decimal(5000) + payout_for(Decimal(10), third.price)
