"""Simulated bettors: parlays quoted and placed through the quote service's engine.

The bettors use :class:`service.quoting.QuoteEngine` — the object behind ``POST /quotes`` and
``POST /bets`` — with the same validation, pricing, risk gate and ledger writes. In a replay of a past day
the markets have since settled, so the engine runs in replay mode (``ServiceSettings.as_of``): market
states as of the bettors' time (before the first game of the day closes), as ``parlay quote --as-of`` does.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from models.pricing.ensemble import EnsemblePricer
from parlay import apikeys, book_runtime

BETTOR_KEY_NAME = "simulated-bettors"


@dataclass(frozen=True)
class BettorConfig:
    n_bets: int = 60
    seed: int = 11
    min_legs: int = 2
    max_legs: int = 4
    stakes: tuple[int, ...] = (5, 10, 20, 50)
    cross_game_share: float = 0.5


def bettor_legs(pricer: EnsemblePricer, rng: random.Random, cfg: BettorConfig) -> list[tuple[str, str]]:
    """A bettor's pick: 2–4 legs on distinct markets, within one game or across games, sides by the market's
    probability (bettors like favourites a bit more than the market does)."""
    markets = pricer.markets()
    by_cluster: dict[str, list[str]] = {}
    for t, m in markets.items():
        if 0.05 < m.probability < 0.95:
            by_cluster.setdefault(m.cluster_id, []).append(t)
    clusters = sorted(c for c, ts in by_cluster.items() if ts)
    if not clusters:  # no market inside 5–95 %: nothing a bettor would pick
        return []
    k = rng.randint(cfg.min_legs, cfg.max_legs)
    if rng.random() < cfg.cross_game_share and len(clusters) >= 2:
        picks = [rng.choice(sorted(by_cluster[c])) for c in rng.sample(clusters, min(k, len(clusters)))]
    else:
        pool = sorted(by_cluster[rng.choice(clusters)])
        picks = rng.sample(pool, min(k, len(pool)))
    legs = []
    for t in picks:
        p = markets[t].probability
        legs.append((t, "yes" if rng.random() < min(0.9, p + 0.1) else "no"))
    return legs


@dataclass
class BettorReport:
    attempts: int = 0
    quoted: int = 0
    placed: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    staked: Decimal = Decimal(0)
    payout_at_risk: Decimal = Decimal(0)

    def as_metadata(self) -> dict[str, object]:
        return {"attempts": self.attempts, "quoted": self.quoted, "bets_placed": self.placed,
                "staked": float(self.staked), "payout_at_risk": float(self.payout_at_risk),
                "refused_by_rule": dict(self.refused)}


def _bettor_key(conn) -> str:  # type: ignore[no-untyped-def]
    row = conn.execute("SELECT key_id FROM ledger.api_keys WHERE name = %s AND revoked_at IS NULL ORDER BY created_at "
                       "LIMIT 1", (BETTOR_KEY_NAME,)).fetchone()
    if row:
        return row[0]
    created = apikeys.create_api_key(conn, BETTOR_KEY_NAME, rate_per_min=100_000)
    return created.key_id


def run_bettors(database_url: str, storage_url: str, day: date, config: BettorConfig | None = None,
                log: Callable[[str], None] = print) -> BettorReport:
    """Have ``config.n_bets`` simulated bettors quote and bet on ``day``'s markets (seeded, idempotent: a
    rerun finds its bets by idempotency key and places nothing twice)."""
    import psycopg

    from service.app import ServiceRuntime
    from service.errors import ApiError
    from service.quoting import BetRequest, LegIn, QuoteRequest
    from service.settings import ServiceSettings

    cfg = config or BettorConfig()
    with psycopg.connect(database_url) as conn:
        key_id = _bettor_key(conn)
        at = book_runtime.hedge_time(conn, day)
        placed_before = {k: (stake, payout) for k, stake, payout in conn.execute(
            "SELECT idempotency_key, stake, payout FROM ledger.bets WHERE api_key_id = %s", (key_id,)).fetchall()}
        conn.commit()
    settings = ServiceSettings.from_env(database_url=database_url, storage_url=storage_url, trading_day=day,
                                        live=False, redis_enabled=False, quote_ttl_s=300.0,
                                        as_of=at or datetime.now(UTC))
    runtime = ServiceRuntime(settings)
    report = BettorReport()
    try:
        pricer = runtime.pricers.get().pricer
        rng = random.Random(f"{cfg.seed}:{day.isoformat()}")
        for i in range(cfg.n_bets):
            legs = bettor_legs(pricer, rng, cfg)  # type: ignore[arg-type]
            if not legs:
                report.refused["nothing_to_quote"] = report.refused.get("nothing_to_quote", 0) + 1
                break
            stake = Decimal(rng.choice(cfg.stakes))
            report.attempts += 1
            idem = f"sim:{day.isoformat()}:{cfg.seed}:{i}"
            earlier = placed_before.get(idem)
            if earlier is not None:  # a rerun: this bettor already bet
                report.placed += 1
                report.staked += earlier[0]
                report.payout_at_risk += earlier[1]
                continue
            try:
                q = runtime.engine.quote(QuoteRequest(legs=[LegIn(ticker=t, side=s) for t, s in legs], stake=stake),
                                         key_id)
                report.quoted += 1
                bet = runtime.engine.place(BetRequest(quote_id=q.quote_id, stake=stake,
                                                      idempotency_key=idem), key_id)
                report.placed += 1
                report.staked += Decimal(bet.stake)
                report.payout_at_risk += Decimal(bet.payout)
            except ApiError as exc:
                report.refused[exc.code] = report.refused.get(exc.code, 0) + 1
            if (i + 1) % 20 == 0:
                log(f"simulated bettors: {i + 1}/{cfg.n_bets} tried, {report.placed} bets placed")
    finally:
        runtime.close()
    return report
