"""The main job on a simulated day ends with a book of bets, hedges and settlements whose ledger balances."""

from __future__ import annotations

import psycopg
import pytest

from parlay import book_runtime
from tests.e2e.conftest import MainJobDay

pytestmark = pytest.mark.e2e


def test_simulated_day_runs_end_to_end_and_the_ledger_balances(main_job_day: MainJobDay) -> None:
    out = main_job_day.outcome
    fresh_database_url = main_job_day.database_url
    print(f"main job on {main_job_day.day}: {main_job_day.seconds:.0f} s")
    assert out.success, (out.failed_steps, out.failed_checks)
    done = {k.split("[")[0] for k in out.materialized}
    assert {"pricing/ising_models", "pricing/copula", "pricing/ensemble", "risk/simulated_bets", "hedging/deltas",
            "hedging/orders", "hedging/fills",
            "ledger/settlements", "ledger/pnl"} <= done
    fits = [k for k in out.materialized if k.startswith("pricing/ising_models[")]
    assert len(fits) == 6  # one partition per simulated game
    bets = out.metadata["risk/simulated_bets"]
    assert bets["bets_placed"] >= 20, bets
    hedges = out.metadata["hedging/orders"]
    assert hedges["fills_booked"] > 0 and hedges["orders_failed"] == 0, hedges
    with psycopg.connect(fresh_database_url) as conn:
        summary = book_runtime.pnl(conn)
        open_bets = conn.execute("SELECT count(*) FROM ledger.bets WHERE state = 'open'").fetchone()[0]
        # the minimum-variance hedge may use one rung of a ladder for the bets on its neighbours (over 236
        # hedged partly with "238 or more"), so a single market can carry more than its own payout; over a
        # game the hedge stays a fraction of what its bets can pay
        over_hedged = conn.execute(
            """WITH h AS (SELECT split_part(market_ticker, '-', 2) AS game, sum(count) AS contracts
                          FROM ledger.hedge_orders GROUP BY 1),
                    p AS (SELECT split_part(l.market_ticker, '-', 2) AS game, sum(b.payout) AS payout
                          FROM ledger.bets b JOIN ledger.bet_legs l USING (bet_id) GROUP BY 1)
               SELECT count(*) FROM h LEFT JOIN p USING (game)
               WHERE h.contracts > 0.5 * coalesce(p.payout, 0)""").fetchone()[0]
    assert summary["trial_balance"] == 0
    assert open_bets == 0  # every game of the simulated day settled
    assert sum(summary["bets"].values()) == bets["bets_placed"]
    assert over_hedged == 0  # a game's hedge never covers half of what its bets can pay
    assert out.metadata["ledger/pnl"]["trial_balance"] == 0
