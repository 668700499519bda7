"""What we know about Kalshi series when a source carries tickers but no metadata (WebSocket captures).

Only facts that are stable for a series are kept here; anything a live source can fetch wins over
this table. Inferred rows are marked with ``source = "recorded:inferred"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class SeriesFacts:
    title: str
    category: str
    frequency: str
    fee_type: str
    fee_multiplier: Decimal
    events_mutually_exclusive: bool
    market_family: str  # how the structural layer treats the series' markets


KNOWN_SERIES: dict[str, SeriesFacts] = {
    # One event per NBA game, one market per team ("<team> wins"); exactly one resolves YES.
    "KXNBAGAME": SeriesFacts(
        title="Professional Basketball Game",
        category="Sports",
        frequency="custom",
        fee_type="quadratic_with_maker_fees",
        fee_multiplier=Decimal(1),
        events_mutually_exclusive=True,
        market_family="moneyline",
    ),
}


def series_facts(series_ticker: str | None) -> SeriesFacts | None:
    return KNOWN_SERIES.get(series_ticker or "")
