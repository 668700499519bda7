"""The structure of a game, as the quote API prices it after the main job on the default simulated day (the
paper's scale: 6 games of 70–135 markets): replaying the day as of 17:30 New York time, over every ladder
axis of every game.

* single legs (``GET /markets`` ``model_probability``) are non-increasing in the threshold;
* a nested pair (over a ∧ over b, a < b) is priced by ``POST /quotes`` at P(over b) within 1e-6, so the
  markets listing and the quotes come from one ensemble;
* wherever a bracket edge t is a ladder threshold, P(over t) is the sum of the brackets above t within 1e-6;
* an exhaustive exclusive family sums to 1 within 1e-6;
* a combo that contradicts the structure is refused with ``impossible_combo``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from tests.e2e.conftest import MainJobDay, copy_of_database
from tests.e2e.test_extension import Api, parlay_serve

pytestmark = pytest.mark.e2e

TOL = 1e-6


def as_of_1730_new_york(day: object) -> str:
    """17:30 New York time of the simulated day (EST in December: UTC−5)."""
    return f"{day}T22:30:00Z"


@dataclass(frozen=True)
class Placed:
    ticker: str
    axis_id: str
    n_cells: int
    lo: int
    hi: int


@pytest.fixture(scope="module")
def served(pg_server: str, paper_job_day: MainJobDay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with copy_of_database(pg_server, paper_job_day.database_url, prefix="parlay_structure_http") as url:
        log = tmp_path_factory.mktemp("serve-structure") / "serve.log"
        with parlay_serve(url, paper_job_day.storage_url, log, PARLAY_SERVICE_REDIS="off",
                          PARLAY_SERVICE_DATE=paper_job_day.day.isoformat(),
                          PARLAY_SERVICE_AS_OF=as_of_1730_new_york(paper_job_day.day)) as api:
            yield api


def _placements(api: Api, day: object, listed: set[str]) -> dict[str, list[Placed]]:
    with psycopg.connect(api.database_url) as conn:
        rows = conn.execute(
            "SELECT market_ticker, axis_id, n_cells, cell_lo, cell_hi FROM marts.binary_variables "
            "WHERE trading_day = %s ORDER BY axis_id, cell_lo, cell_hi", (day,)).fetchall()
    axes: dict[str, list[Placed]] = defaultdict(list)
    for ticker, axis, n, lo, hi in rows:
        if ticker in listed:
            axes[axis].append(Placed(ticker, axis, n, lo, hi))
    return axes


def _quote(api: Api, legs: list[tuple[str, str]]) -> httpx.Response:
    return httpx.post(f"{api.url}/quotes", headers={"X-API-Key": api.key}, timeout=30,
                      json={"legs": [{"ticker": t, "side": s} for t, s in legs], "stake": "10"})


def test_ladders_brackets_and_families_are_coherent_over_http(served: Api, paper_job_day: MainJobDay) -> None:
    markets = {m["ticker"]: m for m in served.markets()}
    p = {t: float(m["model_probability"]) for t, m in markets.items()}
    axes = _placements(served, paper_job_day.day, set(p))
    assert axes, "no placed markets served"
    with psycopg.connect(served.database_url) as conn:
        sizes = dict(conn.execute("SELECT cluster_id, count(*) FROM marts.markets GROUP BY cluster_id").fetchall())
    assert len(sizes) == 6 and all(70 <= k <= 135 for k in sizes.values()), sizes  # the default day: paper scale

    counts = {"ladder_steps": 0, "nested_pairs": 0, "bracket_sums": 0, "families": 0, "impossible": 0}
    counts_skipped = {"near_certain": 0}
    failures: list[str] = []
    for axis, placed in sorted(axes.items()):
        n = placed[0].n_cells
        tails = sorted((m for m in placed if m.hi == n and m.lo > 0), key=lambda m: m.lo)  # "over t" ladder
        # 1. single legs non-increasing in the threshold
        for a, b in itertools.pairwise(tails):
            counts["ladder_steps"] += 1
            if p[b.ticker] > p[a.ticker] + 1e-12:
                failures.append(f"{axis}: P({b.ticker}) = {p[b.ticker]} > P({a.ticker}) = {p[a.ticker]}")
        # 2. nested pairs priced at the higher threshold; 5. the contradiction refused
        for a, b in itertools.pairwise(tails):
            r = _quote(served, [(a.ticker, "yes"), (b.ticker, "yes")])
            if r.status_code == 409 and r.json().get("code") == "price_off_grid" and p[b.ticker] > 0.9:
                counts_skipped["near_certain"] += 1  # fair price plus margin above the top tick: no quote to read
                continue
            assert r.status_code in (200, 201), r.text
            counts["nested_pairs"] += 1
            got = float(r.json()["probability"])
            if abs(got - p[b.ticker]) > TOL:
                failures.append(f"{axis}: quote({a.ticker} ∧ {b.ticker}) = {got}, P({b.ticker}) = {p[b.ticker]}")
        if len(tails) >= 2:
            a, b = tails[0], tails[-1]
            r = _quote(served, [(b.ticker, "yes"), (a.ticker, "no")])  # over the higher, not over the lower
            counts["impossible"] += 1
            if r.status_code < 400 or r.json().get("code") != "impossible_combo":
                failures.append(f"{axis}: YES {b.ticker} with NO {a.ticker} answered {r.status_code} {r.text[:200]}")
        # 3. P(over t) = Σ brackets above t, wherever brackets tile [t, top) up to a ladder threshold or the top
        brackets = {m.lo: m for m in placed if m.lo > 0 and m.hi < n}
        tail_at = {m.lo: m for m in tails}
        for start in tail_at:
            pieces, at = [], start
            while at in brackets:
                pieces.append(brackets[at])
                at = brackets[at].hi
            if not pieces or (at != n and at not in tail_at):
                continue
            total = sum(p[m.ticker] for m in pieces) + (p[tail_at[at].ticker] if at != n else 0.0)
            counts["bracket_sums"] += 1
            if abs(total - p[tail_at[start].ticker]) > TOL:
                failures.append(f"{axis}: P(over cell {start}) = {p[tail_at[start].ticker]}, brackets sum {total}")
        # 4. families that partition the axis (moneylines, exhaustive outcome events) sum to 1
        for members in _partitions(placed, n):
            counts["families"] += 1
            total = sum(p[m.ticker] for m in members)
            if abs(total - 1.0) > TOL:
                failures.append(f"{axis}: {[m.ticker for m in members]} sum to {total}")
    print(f"structure over HTTP: {counts}, skipped {counts_skipped}")
    assert not failures, "\n".join(failures[:20])
    # the day holds every kind of check: none of them is vacuous
    assert all(v > 0 for v in counts.values()), counts


def _partitions(placed: list[Placed], n: int) -> list[list[Placed]]:
    """Sets of single-cell-run markets that tile the whole axis [0, n) with no overlap: a moneyline pair, an
    exhaustive outcome family. Found greedily from the bottom cell, one partition per starting market."""
    by_lo: dict[int, list[Placed]] = defaultdict(list)
    for m in placed:
        by_lo[m.lo].append(m)
    out = []
    for first in by_lo.get(0, []):
        if first.hi == n:
            continue
        chain, at = [first], first.hi
        while at < n:
            nxt = [m for m in by_lo.get(at, []) if m.hi == n] or by_lo.get(at, [])
            if not nxt:
                break
            chain.append(nxt[0])
            at = nxt[0].hi
        if at == n:
            out.append(chain)
    return out
