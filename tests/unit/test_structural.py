"""The structural layer: placement of markets on axes, binary variables, families, impossible combos
and the fee-bias correction (models/structural.py)."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from models import structural as S

CLUSTER = "26MAR07AAABBB"  # first team AAA, second team BBB: margin = BBB − AAA
GAME = f"KXNBAGAME-{CLUSTER}"
SPREAD = f"KXNBASPREAD-{CLUSTER}"
TOTAL = f"KXNBATOTAL-{CLUSTER}"
RANGE = f"KXNBATOTALRANGE-{CLUSTER}"
CATEGORY = f"KXAWARD-{CLUSTER}"


def market(ticker: str, event: str, family: str, *, strike_type: str | None = None, floor: float | None = None,
           cap: float | None = None, exclusive: bool | None = None, series: str | None = None,
           subfamily: str | None = None) -> dict[str, object]:
    return {
        "market_ticker": ticker, "cluster_id": CLUSTER, "event_ticker": event,
        "series_ticker": series or event.split("-")[0], "market_family": family,
        "market_subfamily": subfamily or family, "strike_type": strike_type, "floor_strike": floor,
        "cap_strike": cap, "mutually_exclusive": exclusive,
    }


def frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def moneylines() -> list[dict[str, object]]:
    return [market(f"{GAME}-AAA", GAME, "moneyline", exclusive=True),
            market(f"{GAME}-BBB", GAME, "moneyline", exclusive=True)]


def brackets(edges: list[float]) -> list[dict[str, object]]:
    rows = [market(f"{RANGE}-T{edges[0]}", RANGE, "total", strike_type="less", cap=edges[0], exclusive=True)]
    for lo, hi in itertools.pairwise(edges):
        rows.append(market(f"{RANGE}-B{hi}", RANGE, "total", strike_type="between", floor=lo, cap=hi,
                           exclusive=True))
    rows.append(market(f"{RANGE}-T{edges[-1]}x", RANGE, "total", strike_type="greater", floor=edges[-1],
                       exclusive=True))
    return rows


def variables_of(rows: list[dict[str, object]], exhaustive: tuple[str, ...] = ()) -> pd.DataFrame:
    markets = frame(rows)
    return S.binary_variables(S.place_markets(markets, exhaustive), markets)


def by_ticker(variables: pd.DataFrame) -> dict[str, dict[str, object]]:
    return {str(r["market_ticker"]): r for r in variables.to_dict("records")}


# --- placement and variables ---------------------------------------------------------------------------


def test_the_two_moneylines_of_a_game_are_one_variable_and_its_complement() -> None:
    v = by_ticker(variables_of(moneylines()))
    first, second = v[f"{GAME}-AAA"], v[f"{GAME}-BBB"]
    assert first["axis_id"] == second["axis_id"] == f"{CLUSTER}:margin:BBB-AAA"
    assert first["variable_id"] == second["variable_id"]
    assert (second["orientation"], first["orientation"]) == (1, -1)
    assert second["expression"] == f"{CLUSTER}:margin:BBB-AAA#1"
    assert first["expression"] == f"NOT {CLUSTER}:margin:BBB-AAA#1"
    assert first["complement_ticker"] == f"{GAME}-BBB" and second["complement_ticker"] == f"{GAME}-AAA"
    assert first["variable_index"] == second["variable_index"] == 0


def test_brackets_become_cumulative_threshold_variables() -> None:
    v = by_ticker(variables_of(brackets([210.5, 216.5, 222.5])))
    axis = f"{CLUSTER}:total"
    assert v[f"{RANGE}-T210.5"]["expression"] == f"NOT {axis}#1"
    assert v[f"{RANGE}-B216.5"]["expression"] == f"{axis}#1 AND NOT {axis}#2"
    assert v[f"{RANGE}-B222.5"]["expression"] == f"{axis}#2 AND NOT {axis}#3"
    assert v[f"{RANGE}-T222.5x"]["expression"] == f"{axis}#3"
    assert v[f"{RANGE}-B216.5"]["orientation"] == 0 and v[f"{RANGE}-B216.5"]["n_literals"] == 2
    literals = v[f"{RANGE}-B216.5"]["literals"]
    assert [(lit["threshold"], lit["negated"]) for lit in literals] == [(210.5, False), (216.5, True)]
    # the lowest and highest brackets are each other's complement only with nothing in between
    assert pd.isna(v[f"{RANGE}-T210.5"]["complement_ticker"])


def test_spreads_and_moneylines_share_the_margin_axis() -> None:
    rows = [*moneylines(),
            market(f"{SPREAD}-BBB4", SPREAD, "spread", strike_type="greater", floor=4.5),
            market(f"{SPREAD}-AAA7", SPREAD, "spread", strike_type="greater", floor=7.5)]
    v = by_ticker(variables_of(rows))
    assert {str(r["axis_id"]) for r in v.values()} == {f"{CLUSTER}:margin:BBB-AAA"}
    assert v[f"{SPREAD}-BBB4"]["yes_lower"] == 4.5 and pd.isna(v[f"{SPREAD}-BBB4"]["yes_upper"])
    assert pd.isna(v[f"{SPREAD}-AAA7"]["yes_lower"]) and v[f"{SPREAD}-AAA7"]["yes_upper"] == -7.5
    assert int(v[f"{GAME}-AAA"]["n_cells"]) == 4  # cuts at −7.5, 0, 4.5


def test_a_three_way_winner_market_is_categorical_not_a_margin() -> None:
    rows = [*moneylines(), market(f"{GAME}-TIE", GAME, "moneyline", exclusive=True)]
    v = by_ticker(variables_of(rows, exhaustive=(GAME,)))
    assert {r["axis_kind"] for r in v.values()} == {S.CATEGORICAL}
    assert [int(v[t]["cell_lo"]) for t in sorted(v)] == [0, 1, 2]
    assert int(v[f"{GAME}-AAA"]["n_cells"]) == 3


def test_a_non_exhaustive_exclusive_event_keeps_a_none_cell() -> None:
    rows = [market(f"{CATEGORY}-X", CATEGORY, "other", exclusive=True),
            market(f"{CATEGORY}-Y", CATEGORY, "other", exclusive=True)]
    v = by_ticker(variables_of(rows))
    assert int(v[f"{CATEGORY}-X"]["n_cells"]) == 3
    assert v[f"{CATEGORY}-X"]["n_literals"] == 2 and v[f"{CATEGORY}-Y"]["orientation"] == 1
    assert pd.isna(v[f"{CATEGORY}-X"]["complement_ticker"])
    exhaustive = by_ticker(variables_of(rows, exhaustive=(CATEGORY,)))
    assert exhaustive[f"{CATEGORY}-X"]["complement_ticker"] == f"{CATEGORY}-Y"


def test_variable_indices_number_each_cluster_from_zero() -> None:
    rows = [*moneylines(), *brackets([200.5, 210.5])]
    v = variables_of(rows)
    indices = sorted({int(lit["variable_index"]) for lits in v["literals"] for lit in lits})
    assert indices == list(range(len(indices))) == [0, 1, 2]


# --- impossible combos: examples and brute force -------------------------------------------------------


def families_of(rows: list[dict[str, object]], exhaustive: tuple[str, ...] = ()) -> pd.DataFrame:
    markets = frame(rows)
    mapping = S.place_markets(markets, exhaustive)
    return S.detect_families(markets, mapping, pd.DataFrame(), pd.DataFrame())


def judge(rows: list[dict[str, object]], legs: list[tuple[str, str]]) -> S.Verdict:
    variables = variables_of(rows)
    excl, exh = S.family_memberships(families_of(rows))
    return S.judge_legs([S.Leg(m, s) for m, s in legs], S.ranges_from_frame(variables), excl, exh)


def test_impossible_combos_get_their_reason() -> None:
    rows = [*moneylines(), *brackets([210.5, 216.5]),
            market(f"{SPREAD}-AAA3", SPREAD, "spread", strike_type="greater", floor=3.5),
            market(f"{TOTAL}-220", TOTAL, "total", strike_type="greater", floor=220.5),
            market(f"{TOTAL}-230", TOTAL, "total", strike_type="greater", floor=230.5)]
    both_win = judge(rows, [(f"{GAME}-AAA", "yes"), (f"{GAME}-BBB", "yes")])
    assert both_win.impossible and both_win.reason == S.EXCLUSIVE_FAMILY
    assert judge(rows, [(f"{GAME}-AAA", "no"), (f"{GAME}-BBB", "no")]).reason == S.EXHAUSTIVE_FAMILY_ALL_NO
    assert judge(rows, [(f"{TOTAL}-220", "yes"), (f"{TOTAL}-220", "no")]).reason == S.SAME_MARKET_BOTH_SIDES
    two_brackets = judge(rows, [(f"{RANGE}-T210.5", "yes"), (f"{RANGE}-B216.5", "yes")])
    assert two_brackets.reason == S.EXCLUSIVE_FAMILY
    home_and_away_cover = judge(rows, [(f"{GAME}-BBB", "yes"), (f"{SPREAD}-AAA3", "yes")])
    assert home_and_away_cover.reason == S.CONTRADICTORY_THRESHOLDS
    nested = judge(rows, [(f"{TOTAL}-230", "yes"), (f"{TOTAL}-220", "no")])
    assert nested.reason == S.CONTRADICTORY_THRESHOLDS
    assert not judge(rows, [(f"{GAME}-AAA", "yes"), (f"{GAME}-BBB", "no")]).impossible
    assert not judge(rows, [(f"{TOTAL}-220", "yes"), (f"{TOTAL}-230", "no"), (f"{GAME}-AAA", "yes")]).impossible
    unknown = judge(rows, [(f"{GAME}-AAA", "yes"), ("ELSEWHERE", "yes")])
    assert not unknown.impossible and not unknown.mapped


STRIKES = (200.5, 210.5, 220.5, 230.5)
SPREADS = (1.5, 4.5)


@st.composite
def clusters(draw: st.DrawFn) -> tuple[list[dict[str, object]], tuple[str, ...]]:
    """A random game cluster: moneylines, spreads, totals (ladders and ranges), a categorical event and
    a lone market."""
    rows: list[dict[str, object]] = []
    if draw(st.booleans()):
        rows += moneylines()
    for team, x in draw(st.lists(st.tuples(st.sampled_from(["AAA", "BBB"]), st.sampled_from(SPREADS)),
                                 max_size=3, unique=True)):
        rows.append(market(f"{SPREAD}-{team}{int(x)}", SPREAD, "spread", strike_type="greater", floor=x))
    kinds = st.sampled_from(["greater", "less", "between"])
    for i, (kind, a, b) in enumerate(draw(st.lists(
            st.tuples(kinds, st.sampled_from(STRIKES), st.sampled_from(STRIKES)), max_size=4))):
        lo, hi = min(a, b), max(a, b)
        if kind == "between" and lo == hi:
            continue
        rows.append(market(f"{TOTAL}-{i}", TOTAL, "total", strike_type=kind, floor=lo, cap=hi))
    n_outcomes = draw(st.integers(0, 3))
    exhaustive: tuple[str, ...] = ()
    if n_outcomes >= 2:
        rows += [market(f"{CATEGORY}-{k}", CATEGORY, "other", exclusive=True) for k in range(n_outcomes)]
        exhaustive = (CATEGORY,) if draw(st.booleans()) else ()
    if draw(st.booleans()):
        rows.append(market(f"KXLONE-{CLUSTER}-Q", f"KXLONE-{CLUSTER}", "other"))
    return rows, exhaustive


def brute_force_possible(variables: pd.DataFrame, legs: list[tuple[str, str]]) -> bool:
    """Enumerate every assignment of the cluster's variables that respects the nesting y_{j+1} ⇒ y_j of
    each axis, and evaluate the legs from their literals only."""
    v = by_ticker(variables)
    n_cells = {str(r["axis_id"]): int(r["n_cells"]) for r in v.values()}
    axes = sorted(n_cells)
    # a monotone assignment of an axis with n cells is "the first c variables are true", c = 0 … n − 1
    for counts in itertools.product(*(range(n_cells[a]) for a in axes)):
        truth = {}
        for axis, c in zip(axes, counts, strict=True):
            for j in range(1, n_cells[axis]):
                truth[f"{axis}#{j}"] = j <= c
        ok = True
        for ticker, side in legs:
            yes = all(truth[lit["variable_id"]] != lit["negated"] for lit in v[ticker]["literals"])
            if yes != (side == S.YES):
                ok = False
                break
        if ok:
            return True
    return False


def semantic_possible(rows: list[dict[str, object]], exhaustive: tuple[str, ...],
                      legs: list[tuple[str, str]]) -> bool:
    """Enumerate worlds of the underlying quantities (integer margins and totals, the categorical
    outcome, the lone market) and read each market from its raw definition."""
    margins = np.arange(-12, 13)
    totals = np.arange(190, 242)
    outcomes = [k for k in range(4)] + ([] if exhaustive else [-1])
    lone = [False, True]
    world = np.array(list(itertools.product(margins, totals, outcomes, lone)), dtype=float)
    m, t, o, q = world[:, 0], world[:, 1], world[:, 2], world[:, 3].astype(bool)
    n_out = sum(1 for r in rows if r["event_ticker"] == CATEGORY)
    o_ok = o < n_out  # outcomes beyond the event's size do not exist
    truth: dict[str, np.ndarray] = {}
    for r in rows:
        ticker = str(r["market_ticker"])
        suffix = ticker.rsplit("-", 1)[-1]
        if r["market_family"] == "moneyline":
            truth[ticker] = m > 0 if suffix == "BBB" else m < 0
        elif r["market_family"] == "spread":
            x = float(r["floor_strike"])  # type: ignore[arg-type]
            truth[ticker] = m > x if suffix.startswith("BBB") else -m > x
        elif r["market_family"] == "total":
            lo, hi = S.strike_interval(r["strike_type"], r["floor_strike"], r["cap_strike"]) or (-math.inf, math.inf)
            truth[ticker] = (t > lo) & (t <= hi)
        elif r["event_ticker"] == CATEGORY:
            truth[ticker] = o == int(suffix)
        else:
            truth[ticker] = q
    ok = o_ok & (m != 0)
    for ticker, side in legs:
        ok &= truth[ticker] if side == S.YES else ~truth[ticker]
    return bool(ok.any())


@settings(max_examples=150, deadline=None)
@given(data=st.data(), cluster=clusters())
def test_impossible_detection_agrees_with_brute_force(data: st.DataObject, cluster) -> None:
    rows, exhaustive = cluster
    assume(rows)
    tickers = sorted(str(r["market_ticker"]) for r in rows)
    legs = data.draw(st.lists(st.tuples(st.sampled_from(tickers), st.sampled_from([S.YES, S.NO])),
                              min_size=1, max_size=5))
    markets = frame(rows)
    variables = S.binary_variables(S.place_markets(markets, exhaustive), markets)
    verdict = S.judge_legs([S.Leg(m, s) for m, s in legs], S.ranges_from_frame(variables))
    assert verdict.impossible == (not brute_force_possible(variables, legs))
    assert verdict.impossible == (not semantic_possible(rows, exhaustive, legs))
    if verdict.impossible:
        assert verdict.reason in {S.SAME_MARKET_BOTH_SIDES, S.CONTRADICTORY_THRESHOLDS}


# --- families ------------------------------------------------------------------------------------------


def test_families_from_metadata_structure_and_strikes() -> None:
    rows = [*moneylines(), *brackets([210.5, 216.5]),
            market(f"{TOTAL}-220", TOTAL, "total", strike_type="greater", floor=220.5),
            market(f"{TOTAL}-210", TOTAL, "total", strike_type="greater", floor=210.5)]
    fams = families_of(rows)
    first = fams.drop_duplicates("family_id").set_index("family_id")
    ml = first.loc[f"{GAME}:exclusive"]
    assert ml["detected_by"] == "metadata+structure" and ml["n_markets"] == 2 and ml["exhaustive"]
    assert first.loc[f"{RANGE}:exclusive"]["exhaustive"]
    ladder = fams[fams["family_id"] == f"{CLUSTER}:total:nested:upper"].sort_values("member_index")
    assert list(ladder["market_ticker"]) == [f"{TOTAL}-210", f"{RANGE}-T216.5x", f"{TOTAL}-220"]
    comp = first.loc[f"{CLUSTER}:total:complement:{TOTAL}-210|{RANGE}-T210.5"]
    assert comp["family_type"] == S.COMPLEMENT and comp["detected_by"] == "structure"


MINUTES = pd.date_range("2026-03-07 20:00", periods=60, freq="min", tz="UTC")


def panel_for(mids: dict[str, np.ndarray], spread: float = 0.02) -> pd.DataFrame:
    rows = []
    for ticker, values in mids.items():
        for minute, mid in zip(MINUTES, values, strict=True):
            rows.append({"market_ticker": ticker, "minute": minute, "mid": float(mid), "spread": spread})
    return pd.DataFrame(rows)


def correlations_for(panel: pd.DataFrame) -> pd.DataFrame:
    wide = panel.pivot(index="minute", columns="market_ticker", values="mid")
    lo = np.log(wide / (1 - wide)).diff().iloc[1:]
    rows = []
    for a, b in itertools.combinations(sorted(wide.columns), 2):
        rows.append({"market_a": a, "market_b": b, "n": len(lo), "rho": float(lo[a].corr(lo[b]))})
    return pd.DataFrame(rows)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), noise=st.floats(0.0, 0.004), swap=st.booleans(),
       shuffle_seed=st.integers(0, 1000))
def test_families_from_prices_are_symmetric_and_stable(seed: int, noise: float, swap: bool,
                                                       shuffle_seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.clip(0.5 + np.cumsum(rng.normal(0, 0.02, len(MINUTES))), 0.05, 0.95)
    q = np.clip(0.3 + np.cumsum(rng.normal(0, 0.02, len(MINUTES))), 0.05, 0.95)
    mids = {"X": p, "Y": np.clip(1 - p + rng.normal(0, noise, len(p)), 0.01, 0.99), "Z": q}
    panel = panel_for(mids)
    corr = correlations_for(panel)
    cluster_of = dict.fromkeys(mids, CLUSTER)
    cfg = S.StructureConfig()
    base = {(a, b) for a, b, *_ in S.price_complement_pairs(panel, corr, cluster_of, cfg)}
    shuffled = panel.sample(frac=1.0, random_state=shuffle_seed)
    flipped = corr.rename(columns={"market_a": "market_b", "market_b": "market_a"}) if swap else corr
    again = {(a, b) for a, b, *_ in S.price_complement_pairs(shuffled, flipped.iloc[::-1], cluster_of, cfg)}
    assert base == again
    assert all(a < b for a, b in base)
    assert ("X", "Y") in base  # the designed complement
    assert ("X", "Z") not in base and ("Y", "Z") not in base


def test_price_evidence_marks_the_moneyline_family() -> None:
    rng = np.random.default_rng(3)
    p = np.clip(0.6 + np.cumsum(rng.normal(0, 0.02, len(MINUTES))), 0.05, 0.95)
    panel = panel_for({f"{GAME}-AAA": 1 - p, f"{GAME}-BBB": p})
    markets = frame(moneylines())
    mapping = S.place_markets(markets)
    fams = S.detect_families(markets, mapping, panel, correlations_for(panel))
    row = fams.iloc[0]
    assert row["detected_by"] == "metadata+structure+prices"
    assert row["price_consistent"] and row["price_abs_deviation_median"] == pytest.approx(0.0, abs=1e-12)
    assert row["half_spread_sum_median"] == pytest.approx(0.02)
    stats = S.exclusive_event_stats(markets, panel, S.StructureConfig())
    assert stats[GAME].consistent and stats[GAME].minutes == len(MINUTES)


# --- fee-bias correction -------------------------------------------------------------------------------


@st.composite
def joint_laws(draw: st.DrawFn) -> tuple[int, np.ndarray]:
    n = draw(st.integers(1, 4))
    weights = draw(st.lists(st.floats(0.0, 1.0), min_size=2**n, max_size=2**n))
    w = np.array(weights) + 1e-3
    return n, w / w.sum()


def prob_all(n: int, law: np.ndarray, yes: frozenset[int], no: frozenset[int] = frozenset()) -> float:
    total = 0.0
    for k, outcome in enumerate(itertools.product([0, 1], repeat=n)):
        if all(outcome[i] for i in yes) and not any(outcome[i] for i in no):
            total += law[k]
    return float(total)


@settings(max_examples=200, deadline=None)
@given(law=joint_laws(), data=st.data(), markup=st.floats(0.0, 0.1))
def test_fee_correction_recovers_the_joint_up_to_the_predicted_markup(law, data: st.DataObject,
                                                                      markup: float) -> None:
    n, p = law
    sides = data.draw(st.lists(st.sampled_from(["yes", "no", "out"]), min_size=n, max_size=n))
    yes = frozenset(i for i in range(n) if sides[i] == "yes")
    no = frozenset(i for i in range(n) if sides[i] == "no")
    assume(yes or no)
    observed = prob_all(n, p, yes, no)

    def exact(s: frozenset[str]) -> tuple[float, str]:
        return prob_all(n, p, frozenset(int(x) for x in s)), "exact"

    target, terms = S.all_yes_target(observed, [str(i) for i in yes], [str(i) for i in no], exact)
    assert target == pytest.approx(prob_all(n, p, yes | no), abs=1e-12)
    assert len(terms) == 2 ** len(no) - 1

    def marked(s: frozenset[str]) -> tuple[float, str]:
        return exact(s)[0] + markup, "marked"

    biased, _ = S.all_yes_target(observed + markup, [str(i) for i in yes], [str(i) for i in no], marked)
    predicted = prob_all(n, p, yes | no) + S.markup_coefficient(len(yes), len(no)) * markup
    assert biased == pytest.approx(predicted, abs=1e-12)
    if yes and len(no) % 2 == 1:
        assert biased == pytest.approx(target, abs=1e-12)  # an odd number of NO legs cancels the markup


def test_a_missing_lower_order_price_leaves_no_target() -> None:
    target, terms = S.all_yes_target(0.2, ["A"], ["B"], lambda s: (None, "base_ask"))
    assert target is None and terms[0].price is None


@settings(max_examples=200, deadline=None)
@given(price=st.floats(0.01, 0.99), contracts=st.integers(1, 5000), mult=st.sampled_from([0.5, 1.0, 2.0]))
def test_fee_estimate_follows_the_kalshi_formula(price: float, contracts: int, mult: float) -> None:
    rate = S.taker_fee_rate("quadratic_with_maker_fees", mult)
    fee = S.fee_per_contract(price, contracts, rate)
    exact = 0.07 * mult * price * (1 - price)
    assert exact - 1e-12 <= fee <= exact + 0.01 / contracts + 1e-12
    assert fee == pytest.approx(S.fee_per_contract(1 - price, contracts, rate))
    cents = fee * contracts * 100
    assert cents == pytest.approx(round(cents), abs=1e-6)  # whole cents per order
    assert S.fee_per_contract(price, contracts, S.taker_fee_rate("none")) == 0.0


def test_fee_examples() -> None:
    assert S.fee_per_contract(0.5, 10, 0.07) == pytest.approx(0.018)  # 0.175 → 0.18 for 10 contracts
    assert S.fee_per_contract(0.5, 100, 0.07) == pytest.approx(0.0175)
    assert S.taker_fee_rate(None) == S.DEFAULT_TAKER_FEE_RATE


def test_combo_targets_apply_complements_inclusion_exclusion_and_impossibility() -> None:
    rows = [*moneylines(), market(f"{TOTAL}-220", TOTAL, "total", strike_type="greater", floor=220.5),
            market("KXPTS-26MAR07AAABBB-P1", "KXPTS-26MAR07AAABBB", "prop", strike_type="greater", floor=19.5)]
    variables = variables_of(rows)
    legs = pd.DataFrame([
        ("C1", 0, f"{TOTAL}-220", "yes"), ("C1", 1, "KXPTS-26MAR07AAABBB-P1", "no"),  # Y={total}, N={prop}
        ("C2", 0, f"{GAME}-AAA", "no"), ("C2", 1, f"{TOTAL}-220", "yes"),  # NO AAA → YES BBB
        ("C3", 0, f"{GAME}-AAA", "yes"), ("C3", 1, f"{GAME}-BBB", "yes"),  # impossible
        ("C4", 0, f"{GAME}-BBB", "yes"), ("C4", 1, f"{TOTAL}-220", "yes"),
        ("C5", 0, f"{GAME}-BBB", "yes"), ("C5", 1, f"{TOTAL}-220", "yes"), ("C5", 2, "KXPTS-26MAR07AAABBB-P1", "no"),
    ], columns=["combo_ticker", "leg_index", "market_ticker", "side"])
    structure = S.assess_combos(legs, variables, families_of(rows))
    t0 = datetime(2026, 3, 8, 1, 0, tzinfo=UTC)
    quotes = pd.DataFrame([
        (f"{TOTAL}-220", t0 - timedelta(minutes=1), 0.55), (f"{TOTAL}-220", t0 + timedelta(minutes=5), 0.95),
        ("KXPTS-26MAR07AAABBB-P1", t0 - timedelta(minutes=2), 0.40),
        (f"{GAME}-BBB", t0 - timedelta(minutes=1), 0.62), (f"{GAME}-AAA", t0 - timedelta(minutes=1), 0.40),
    ], columns=["market_ticker", "ts", "yes_ask"])
    trades = pd.DataFrame([
        ("t1", "C1", t0, 0.30, 10.0), ("t2", "C2", t0, 0.40, 5.0), ("t3", "C3", t0, 0.05, 1.0),
        ("t4", "C4", t0 + timedelta(seconds=10), 0.37, 2.0), ("t5", "C5", t0 + timedelta(seconds=20), 0.20, 2.0),
    ], columns=["trade_id", "combo_ticker", "ts", "yes_price", "contracts"])
    fees = {f"{TOTAL}-220": ("quadratic", 1.0)}
    out = S.combo_targets(trades, legs, structure, variables, quotes, fees).set_index("trade_id")

    t1 = out.loc["t1"]  # P(total ∧ prop) = ask(total) − price(total ∧ ¬prop)
    assert t1["target"] == pytest.approx(0.55 - 0.30) and t1["n_no_legs"] == 1 and t1["exact"]
    assert t1["markup_coefficient"] == 0 and t1["fee_estimate"] == pytest.approx(0.015)  # 0.147 → 0.15
    assert t1["target_net_of_fees"] == pytest.approx((0.55 - S.fee_per_contract(0.55, 10, 0.07))
                                                     - (0.30 - S.fee_per_contract(0.30, 10, 0.07)))
    t2 = out.loc["t2"]  # the complement rule turns it into an all-YES contract: no correction needed
    assert t2["n_complemented"] == 1 and t2["n_no_legs"] == 0 and t2["target"] == pytest.approx(0.40)
    assert list(t2["target_legs"]) == sorted([f"{GAME}-BBB", f"{TOTAL}-220"])
    t3 = out.loc["t3"]
    assert t3["impossible"] and t3["target"] == 0.0 and not t3["use_for_learning"]
    assert t3["impossible_reason"] == S.EXCLUSIVE_FAMILY
    t5 = out.loc["t5"]  # the lower-order pair {BBB, total} was observed (t2 and t4): the latest earlier price
    pair_term = next(term for term in t5["terms"] if len(term["legs"]) == 2)
    assert pair_term["source"] == "observed_combo" and pair_term["price"] == pytest.approx(0.37)
    assert t5["target"] == pytest.approx(0.37 - 0.20) and t5["exact"] and t5["use_for_learning"]
