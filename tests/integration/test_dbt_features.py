"""The feature marts and the structural layer on the real captures, in a real Postgres.

Loads every capture into a fresh database, adds a few synthetic combos on the 2026-03-07 games (the
captures hold none), runs ``dbt build``, the structural layer, then the dbt models that read it, as a
Dagster run does, and checks the marts against hand computations.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import psycopg
import pytest

from parlay.dbtenv import DBT_DIR, dbt_env, dbt_executable
from parlay.sources.recorded import RecordedSource
from parlay.warehouse.ingest import load_market_stream, load_metadata, load_settlements
from parlay.warehouse.structure import build_combo_targets, build_structure

pytestmark = pytest.mark.integration

DAY = date(2026, 3, 7)
GAMES = ("26MAR07GSWOKC", "26MAR07LACMEM", "26MAR07UTAMIL")
PRE_GAME = datetime.fromisoformat("2026-03-08T01:00:00+00:00")
IN_PLAY = datetime.fromisoformat("2026-03-08T02:30:00+00:00")


def ml(game: str, team: str) -> str:
    return f"KXNBAGAME-{game}-{team}"


# combo ticker → legs (market, side)
COMBOS: dict[str, list[tuple[str, str]]] = {
    "KXMVETEST-BOTH-GSWOKC": [(ml(GAMES[0], "GSW"), "yes"), (ml(GAMES[0], "OKC"), "yes")],
    "KXMVETEST-BOTH-LACMEM": [(ml(GAMES[1], "LAC"), "yes"), (ml(GAMES[1], "MEM"), "yes")],
    "KXMVETEST-BOTH-UTAMIL": [(ml(GAMES[2], "UTA"), "yes"), (ml(GAMES[2], "MIL"), "yes")],
    "KXMVETEST-OKC-MEM": [(ml(GAMES[0], "OKC"), "yes"), (ml(GAMES[1], "MEM"), "yes")],
    "KXMVETEST-OKC-NOTLAC-MIL": [(ml(GAMES[0], "OKC"), "yes"), (ml(GAMES[1], "LAC"), "no"),
                                 (ml(GAMES[2], "MIL"), "yes")],
    "KXMVETEST-GSW-NOTOKC": [(ml(GAMES[0], "GSW"), "yes"), (ml(GAMES[0], "OKC"), "no")],
}
# trade id → (combo, time, price paid)
TRADES: dict[str, tuple[str, datetime, float]] = {
    "tt-1": ("KXMVETEST-OKC-MEM", PRE_GAME, 0.45),
    "tt-2": ("KXMVETEST-OKC-NOTLAC-MIL", PRE_GAME, 0.30),
    "tt-3": ("KXMVETEST-OKC-MEM", IN_PLAY, 0.40),
    "tt-4": ("KXMVETEST-GSW-NOTOKC", IN_PLAY, 0.20),
}


@dataclass(frozen=True)
class Built:
    url: str
    dbt_seconds: float


def run_dbt(url: str, work: Path, *args: str) -> float:
    env = {**os.environ, **dbt_env(url)}
    cmd = [dbt_executable(), *args, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
           "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    return elapsed


def add_synthetic_combos(conn: psycopg.Connection) -> None:
    for combo, legs in COMBOS.items():
        conn.execute(
            "INSERT INTO raw.combo_markets (ticker, collection_ticker, event_ticker, title, status, close_time, "
            "n_legs, source) VALUES (%s, 'KXMVETEST', 'KXMVETEST-26MAR07', %s, 'closed', "
            "'2026-03-08 04:10:00+00', %s, 'test')",
            (combo, combo, len(legs)),
        )
        for i, (market, side) in enumerate(legs):
            conn.execute(
                "INSERT INTO raw.combo_legs (combo_ticker, leg_index, event_ticker, market_ticker, side) "
                "VALUES (%s, %s, %s, %s, %s)",
                (combo, i, market.rsplit("-", 1)[0], market, side),
            )
    for trade_id, (combo, ts, price) in TRADES.items():
        conn.execute(
            "INSERT INTO raw.combo_trades (trade_id, combo_ticker, ts, trading_day, yes_price, no_price, count, "
            "taker_side, source) VALUES (%s, %s, %s, %s, %s, %s, 10, 'yes', 'test')",
            (trade_id, combo, ts, DAY, price, round(1 - price, 4)),
        )


@pytest.fixture(scope="module")
def built(captures_dir: Path, pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    from parlay.db.connection import temporary_database
    from parlay.db.migrate import migrate

    work = tmp_path_factory.mktemp("dbt")
    with temporary_database(pg_server, prefix="parlay_features") as url:
        with psycopg.connect(url) as conn:
            migrate(conn)
            source = RecordedSource([captures_dir])
            load_metadata(conn, source.metadata())
            load_market_stream(conn, source)
            load_settlements(conn, source.name, source.settlements())
            add_synthetic_combos(conn)
            conn.commit()
        seconds = run_dbt(url, work, "build")
        print(f"\ndbt build over the real captures: {seconds:.1f} s")
        with psycopg.connect(url) as conn:
            for day in (DAY, date(2026, 3, 10)):
                build_structure(conn, day)
                build_combo_targets(conn, day)
            conn.commit()
        # the models that read the structural layer, for one day, as a Dagster partition run does
        run_dbt(url, work, "build", "--select", "combo_features", "--vars", json.dumps({"trading_day": str(DAY)}))
        yield Built(url, seconds)


def rows(url: str, query: str, params: tuple | dict = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def test_each_game_has_one_exclusive_moneyline_family_priced_to_one(built: Built) -> None:
    fams = rows(built.url, """
        SELECT family_id, cluster_id, detected_by, n_markets, exhaustive, price_consistent,
               array_agg(market_ticker ORDER BY market_ticker)
        FROM marts.market_families WHERE family_type = 'exclusive'
        GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY cluster_id""")
    by_cluster = {f[1]: f for f in fams}
    assert set(by_cluster) == {*GAMES, "26MAR10MEMPHI"}
    for game in GAMES:
        _, _, detected_by, n, exhaustive, consistent, members = by_cluster[game]
        teams = (game[-6:-3], game[-3:])
        assert members == sorted(ml(game, t) for t in teams)
        assert n == 2 and exhaustive and consistent
        assert {"metadata", "structure", "prices"} <= set(detected_by.split("+"))
        # "within the spread", measured independently from the panel: over the minutes where both
        # moneylines have a fresh quote, median |Σ mid − 1| ≤ median Σ half-spread
        deviation, half_spreads, minutes = rows(built.url, """
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(s - 1)),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY h), count(*)
            FROM (SELECT minute, sum(mid) AS s, sum(spread / 2) AS h
                  FROM marts.price_panel_1m
                  WHERE cluster_id = %s AND NOT is_stale AND market_ticker LIKE 'KXNBAGAME-%%'
                  GROUP BY minute HAVING count(*) = 2) m""", (game,))[0]
        assert minutes > 100
        assert deviation <= half_spreads


def test_each_game_maps_to_one_variable_with_complementary_moneylines(built: Built) -> None:
    for game in GAMES:
        first, second = ml(game, game[-6:-3]), ml(game, game[-3:])
        got = {r[0]: r[1:] for r in rows(built.url, """
            SELECT market_ticker, variable_id, orientation, complement_ticker, n_cells
            FROM marts.binary_variables WHERE trading_day = %s AND cluster_id = %s""", (DAY, game))}
        assert set(got) == {first, second}
        assert got[first][0] == got[second][0]
        assert (got[first][1], got[second][1]) == (-1, 1)
        assert (got[first][2], got[second][2]) == (second, first)
        assert got[first][3] == 2


def test_both_teams_winning_is_impossible(built: Built) -> None:
    verdicts = dict(rows(built.url, """
        SELECT combo_ticker, impossible_reason FROM marts.combo_structure
        WHERE trading_day = %s AND impossible""", (DAY,)))
    assert verdicts == {c: "exclusive_family" for c in COMBOS if "-BOTH-" in c}
    listed = rows(built.url, """
        SELECT combo_ticker, impossible, impossible_reason FROM marts.combo_features
        WHERE trading_day = %s AND row_kind = 'listed' ORDER BY combo_ticker""", (DAY,))
    assert {c for c, *_ in listed} == set(COMBOS)
    for combo, impossible, reason in listed:
        assert impossible == ("-BOTH-" in combo)
        assert reason == ("exclusive_family" if impossible else None)


def hand_mid(url: str, market: str, ts: datetime) -> float:
    """The mid of the last reliable, uncrossed, two-sided book state at or before ts, from raw.orderbook_tops."""
    (mid,) = rows(url, """
        SELECT (yes_bid + (1 - no_bid)) / 2 FROM raw.orderbook_tops
        WHERE market_ticker = %s AND ts <= %s AND reliable AND NOT crossed
          AND yes_bid IS NOT NULL AND no_bid IS NOT NULL
        ORDER BY ts DESC LIMIT 1""", (market, ts))[0]
    return float(mid)


def test_synthetic_combos_match_hand_computed_prices_and_bounds(built: Built) -> None:
    for trade_id, (combo, ts, price) in TRADES.items():
        probs = []
        for market, side in COMBOS[combo]:
            mid = hand_mid(built.url, market, ts)
            probs.append(mid if side == "yes" else 1 - mid)
        independence = 1.0
        for p in probs:
            independence *= p
        lower, upper = max(0.0, sum(probs) - (len(probs) - 1)), min(probs)
        got = rows(built.url, """
            SELECT n_legs, leg_probabilities, independence_price, frechet_lower, frechet_upper,
                   excess_over_independence, excess_over_frechet_upper, traded_price, regime, stale_leg
            FROM marts.combo_features WHERE trade_id = %s""", (trade_id,))
        assert len(got) == 1, trade_id
        n, leg_p, ind, lo, up, excess_ind, excess_up, traded, regime, stale = got[0]
        assert n == len(probs)
        assert leg_p == pytest.approx(probs, abs=1e-9)
        assert ind == pytest.approx(independence, abs=1e-9)
        assert (lo, up) == (pytest.approx(lower, abs=1e-9), pytest.approx(upper, abs=1e-9))
        assert float(traded) == pytest.approx(price)
        assert excess_ind == pytest.approx(price - independence, abs=1e-9)
        assert excess_up == pytest.approx(price - upper, abs=1e-9)
        assert regime == ("pre_game" if ts == PRE_GAME else "in_play")
        assert stale is False


def test_combo_targets_use_the_complement_rule_on_moneylines(built: Built) -> None:
    got = {r[0]: r[1:] for r in rows(built.url, """
        SELECT trade_id, n_complemented, n_no_legs, target_legs, target, observed_ask, fee_estimate,
               use_for_learning, impossible
        FROM marts.combo_targets WHERE trading_day = %s""", (DAY,))}
    assert set(got) == set(TRADES)
    # NOT LAC is MEM: the 3-leg combo is the all-YES contract OKC ∧ MEM ∧ MIL, its price the target
    n_comp, n_no, legs, target, observed, fee, usable, impossible = got["tt-2"]
    assert (n_comp, n_no) == (1, 0)
    assert sorted(legs) == sorted([ml(GAMES[0], "OKC"), ml(GAMES[1], "MEM"), ml(GAMES[2], "MIL")])
    assert target == pytest.approx(observed) == pytest.approx(0.30)
    assert fee == pytest.approx(0.15 / 10)  # ceil(0.07 × 10 × 0.3 × 0.7 = 0.147) = 0.15 for 10 contracts
    assert usable and not impossible
    # GSW ∧ NOT OKC is GSW ∧ GSW: one leg
    n_comp, n_no, legs, target, *_ = got["tt-4"]
    assert (n_comp, n_no, list(legs)) == (1, 0, [ml(GAMES[0], "GSW")])
    assert target == pytest.approx(0.20)


def test_marts_have_the_promised_shape(built: Built) -> None:
    panel = rows(built.url, """
        SELECT count(*), count(DISTINCT market_ticker), bool_and(mid > 0 AND mid < 1),
               count(realized_vol_15m), sum(trade_count)
        FROM marts.price_panel_1m""")[0]
    assert panel[1] == 8 and panel[0] > 1000 and panel[2] and panel[3] > 0
    assert panel[4] == rows(built.url, "SELECT count(*) FROM raw.trades t JOIN marts.price_panel_1m p "
                                       "ON p.market_ticker = t.market_ticker "
                                       "AND p.minute = date_trunc('minute', t.ts)")[0][0]
    pairs = rows(built.url, """
        SELECT same_cluster, count(*), min(n), bool_and(ci_low <= rho AND rho <= ci_high)
        FROM marts.pair_correlations GROUP BY same_cluster ORDER BY same_cluster""")
    assert [p[0] for p in pairs] == [False, True]
    within = pairs[1]
    assert within[1] == 4 and within[2] >= 10 and within[3]
    # the two moneylines of a game move against each other
    for game in GAMES:
        (rho,) = rows(built.url, "SELECT rho FROM marts.pair_correlations WHERE cluster_a = %s AND same_cluster",
                      (game,))[0]
        assert rho < -0.5
    timed = rows(built.url, "SELECT cluster_id, in_play_method FROM intermediate.int_clusters_timed "
                            "WHERE trading_day = %s", (DAY,))
    assert dict(timed) == dict.fromkeys(GAMES, "volume_pickup")
    assert rows(built.url, "SELECT count(*) FROM marts.lp_state")[0][0] == 0
    assert rows(built.url, "SELECT count(*) FROM marts.markets")[0][0] == 8
    assert rows(built.url, "SELECT count(*), sum(n_markets) FROM marts.events")[0] == (4, 8)
