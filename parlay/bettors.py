"""Simulated bettors: parlays quoted and placed through the quote service's engine.

The bettors use :class:`service.quoting.QuoteEngine` — the object behind ``POST /quotes`` and
``POST /bets`` — with the same validation, pricing, risk gate and ledger writes. In a replay of a past day
the markets have since settled, so the engine runs in replay mode (``ServiceSettings.as_of``): market
states as of the bettors' time (before the first game of the day closes), as ``parlay quote --as-of`` does.

When the book halts on the LP drawdown guardrail (``lp_drawdown``) the bettors stop placing bets: every
bettor after the halt is refused at the quote, and the refusals are counted in the report.
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
HALT_CODES = ("lp_drawdown",)  # refusals that halt the whole book, not one parlay


@dataclass(frozen=True)
class BettorConfig:
    n_bets: int = 60
    seed: int = 11
    min_legs: int = 2
    max_legs: int = 4
    stakes: tuple[int, ...] = (5, 10, 20, 50)
    cross_game_share: float = 0.5


QUOTABLE_RANGE = (0.05, 0.95)  # bettors pick legs the market has not yet decided


class NothingToQuote(LookupError):
    """No market of the day is open to bettors (none inside the quotable range): the reason says why."""


def quotable_markets(pricer: EnsemblePricer) -> dict[str, list[str]]:
    """Markets inside the quotable range (5–95 %), by cluster; clusters without one are left out."""
    lo, hi = QUOTABLE_RANGE
    by_cluster: dict[str, list[str]] = {}
    for t, m in pricer.markets().items():
        if lo < m.probability < hi:
            by_cluster.setdefault(m.cluster_id, []).append(t)
    return {c: sorted(ts) for c, ts in sorted(by_cluster.items()) if ts}


def nothing_to_quote(pricer: EnsemblePricer, at: datetime | None = None) -> str | None:
    """``"nothing to quote: <reason>"`` when no market is inside 5–95 % (at ``at``), else None."""
    if quotable_markets(pricer):
        return None
    markets = pricer.markets()
    when = f" at {at.astimezone(UTC).isoformat().replace('+00:00', 'Z')}" if at is not None else ""
    if not markets:
        return f"nothing to quote: the model prices no market{when}"
    lo, hi = QUOTABLE_RANGE
    clusters = len({m.cluster_id for m in markets.values()})
    return (f"nothing to quote: no market inside {lo:.0%}–{hi:.0%}{when} "
            f"(all {len(markets)} markets of {clusters} cluster(s) are outside)")


def bettor_legs(pricer: EnsemblePricer, rng: random.Random, cfg: BettorConfig) -> list[tuple[str, str]]:
    """A bettor's pick: 2–4 legs on distinct markets, within one game or across games, sides by the market's
    probability (bettors like favourites a bit more than the market does). Raises :class:`NothingToQuote`
    when no market is inside 5–95 %."""
    markets = pricer.markets()
    by_cluster = quotable_markets(pricer)
    if not by_cluster:
        raise NothingToQuote(nothing_to_quote(pricer) or "nothing to quote")
    clusters = sorted(by_cluster)
    k = rng.randint(cfg.min_legs, cfg.max_legs)
    if rng.random() < cfg.cross_game_share and len(clusters) >= 2:
        picks = [rng.choice(by_cluster[c]) for c in rng.sample(clusters, min(k, len(clusters)))]
    else:
        pool = by_cluster[rng.choice(clusters)]
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
    halt_reason: str | None = None  # the halt code (``lp_drawdown``) once the book refused on it
    refused_after_halt: int = 0  # bettors refused from the halt on (the first refusal included)
    nothing_to_quote: str | None = None  # "nothing to quote: <reason>" when no bettor could pick a leg

    @property
    def halted(self) -> bool:
        return self.halt_reason is not None

    def as_metadata(self) -> dict[str, object]:
        out: dict[str, object] = {"attempts": self.attempts, "quoted": self.quoted, "bets_placed": self.placed,
                                  "staked": float(self.staked), "payout_at_risk": float(self.payout_at_risk),
                                  "refused_by_rule": dict(self.refused), "halted": self.halted,
                                  "halt_reason": self.halt_reason, "refused_after_halt": self.refused_after_halt}
        if self.nothing_to_quote:
            out["nothing_to_quote"] = self.nothing_to_quote
        return out


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
        report.nothing_to_quote = nothing_to_quote(pricer, at)
        if report.nothing_to_quote:
            log(f"simulated bettors on {day}: {report.nothing_to_quote}")
            return report
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
                if exc.code in HALT_CODES and not report.halted:
                    report.halt_reason = exc.code
                    log(f"simulated bettors: the book halted ({exc.code}: {exc.message}); no more bets are placed")
                if report.halted:
                    report.refused_after_halt += 1
            if (i + 1) % 20 == 0:
                log(f"simulated bettors: {i + 1}/{cfg.n_bets} tried, {report.placed} bets placed")
    finally:
        runtime.close()
    return report
