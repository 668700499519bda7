"""A coherence audit of combo quotes seen elsewhere (for example Kalshi RFQ quotes).

Each row holds the YES prices of a combo's legs and the combo's YES quote, all in cents. The legs are taken
as independent events (different games or sports), so the independence price ∏ pᵢ is the fair price and the
Fréchet bounds max(0, Σ pᵢ − (k − 1)) ≤ P(all) ≤ min pᵢ hold for any dependence at all. A quote above
min pᵢ is incoherent whatever the correlation: the buyer pays more for "all legs" than for its cheapest leg.

The audit reports, for the quotes and for our ensemble's price of the same legs (the ensemble on
one-variable clusters whose marginals are the leg prices), how many break the upper bound and the mean
premium over the independence price. It also reports our *offered* price: the ensemble's price plus the
risk engine's margin, rounded up to the tick, the code path of the quote API. A margin on a combo whose
cheapest leg is almost the whole price can lift the offer above min pᵢ; those offers are counted too.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from models.pricing.ensemble import ClusterModel, EnsemblePricer
from models.pricing.ising import InferenceConfig, IsingModel
from models.pricing.replay import LiteralMap, MarketLiterals
from models.risk import RiskConfig, margin_for, price_on_grid

__all__ = [
    "ComboAudit",
    "ComboQuoteFileError",
    "ComboQuoteRow",
    "audit_combo_quotes",
    "our_prices_cents",
    "read_combo_quotes",
]

CENT = Decimal(100)


class ComboQuoteFileError(ValueError):
    """A combo-quote file that cannot be read; the message names the file and the line."""


@dataclass(frozen=True)
class ComboQuoteRow:
    legs_cents: tuple[Decimal, ...]
    quote_cents: Decimal
    line: int = 0

    @property
    def independence_cents(self) -> Decimal:
        p = Decimal(1)
        for leg in self.legs_cents:
            p *= leg / CENT
        return p * CENT

    @property
    def frechet_upper_cents(self) -> Decimal:
        return min(self.legs_cents)

    @property
    def frechet_lower_cents(self) -> Decimal:
        return max(Decimal(0), sum(self.legs_cents, Decimal(0)) - CENT * (len(self.legs_cents) - 1))


@dataclass(frozen=True)
class RowAudit:
    line: int
    legs_cents: tuple[Decimal, ...]
    quote_cents: Decimal
    independence_cents: Decimal
    frechet_upper_cents: Decimal
    frechet_lower_cents: Decimal
    ours_cents: Decimal  # the ensemble's fair price
    offered_cents: Decimal | None  # with the risk engine's margin; None: the engine refuses to quote
    quote_violates: bool
    ours_violates: bool
    offered_violates: bool


@dataclass(frozen=True)
class ComboAudit:
    rows: int
    quote_frechet_violations: int
    ours_frechet_violations: int
    quote_premium_cents: float
    ours_premium_cents: float
    offered_frechet_violations: int = 0
    offered_premium_cents: float | None = None
    offered_refused: int = 0
    quote_below_lower_bound: int = 0
    details: tuple[RowAudit, ...] = field(default=(), repr=False)

    def as_json(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "quote_frechet_violations": self.quote_frechet_violations,
            "ours_frechet_violations": self.ours_frechet_violations,
            "quote_premium_cents": self.quote_premium_cents,
            "ours_premium_cents": self.ours_premium_cents,
            "ours_offered_frechet_violations": self.offered_frechet_violations,
            "ours_offered_premium_cents": self.offered_premium_cents,
            "ours_offered_refused": self.offered_refused,
            "quote_below_lower_bound": self.quote_below_lower_bound,
        }


def _cents(text: str, what: str, where: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ComboQuoteFileError(f"{where}: {what} {text!r} is not a number of cents") from None
    if not value.is_finite() or not (Decimal(0) < value < CENT):
        raise ComboQuoteFileError(f"{where}: {what} {text!r} must lie strictly between 0 and 100 cents")
    return value


def read_combo_quotes(path: Path) -> list[ComboQuoteRow]:
    """Rows of a CSV with columns ``leg_1 … leg_k`` and ``quote`` (cents). A row may leave trailing legs
    empty (combos of different sizes in one file). Errors name the file and the line."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ComboQuoteFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    with handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        legs = sorted((h for h in header if h.startswith("leg_") and h[4:].isdigit()), key=lambda h: int(h[4:]))
        if "quote" not in header or not legs:
            raise ComboQuoteFileError(f"{path}:1: the header needs columns leg_1 … leg_k and quote, got {header}")
        if [int(h[4:]) for h in legs] != list(range(1, len(legs) + 1)):
            raise ComboQuoteFileError(f"{path}:1: leg columns must be leg_1 … leg_{len(legs)} without gaps")
        rows: list[ComboQuoteRow] = []
        for raw in reader:
            where = f"{path}:{reader.line_num}"
            record = {(k or "").strip(): (v or "") for k, v in raw.items() if k is not None}
            if None in raw:
                raise ComboQuoteFileError(f"{where}: more fields than the header has")
            values = [record.get(h, "").strip() for h in legs]
            if not any(values) and not record.get("quote", "").strip():
                continue  # a blank line
            present = [v for v in values if v]
            if values[: len(present)] != present:
                raise ComboQuoteFileError(f"{where}: legs must fill leg_1, leg_2, … without gaps")
            if len(present) < 2:
                raise ComboQuoteFileError(f"{where}: a combo needs at least two legs")
            leg_cents = tuple(_cents(v, f"leg_{i + 1}", where) for i, v in enumerate(present))
            rows.append(ComboQuoteRow(leg_cents, _cents(record.get("quote", ""), "quote", where), reader.line_num))
    return rows


def _independent_pricer(leg_probabilities: Sequence[float]) -> EnsemblePricer:
    """One free binary variable per leg, each its own cluster with field logit(pᵢ): the ensemble's
    marginals are exactly the leg prices and the legs are independent."""
    clusters: dict[str, ClusterModel] = {}
    rows = []
    for i, p in enumerate(leg_probabilities):
        cid = f"LEG{i}"
        model = IsingModel(np.array([math.log(p / (1.0 - p))]), np.zeros((1, 1)), InferenceConfig())
        clusters[cid] = ClusterModel(cid, ("v0",), model, np.eye(1))
        rows.append(MarketLiterals(f"LEG-{i}", cid, ((0, True),), ("v0",)))
    literals = LiteralMap({m.market_ticker: m for m in rows}, {cid: cm.variables for cid, cm in clusters.items()})
    return EnsemblePricer(clusters, literals, version="combo-audit")


def our_prices_cents(leg_cents: Sequence[Decimal], risk: RiskConfig | None = None) -> tuple[Decimal, Decimal | None]:
    """Our ensemble's fair YES price (cents) for independent legs at these prices, and our offered price:
    the fair price plus the risk engine's margin, rounded up to the tick (``None`` when the engine would
    refuse for too much uncertainty)."""
    cfg = risk or RiskConfig()
    probabilities = [float(c / CENT) for c in leg_cents]
    pricer = _independent_pricer(probabilities)
    q = pricer.quote([(f"LEG-{i}", "yes") for i in range(len(probabilities))])
    fair = Decimal(repr(q.probability)) * CENT
    margin = margin_for(q.uncertainty, cfg)
    if margin > cfg.max_margin:
        return fair, None
    return fair, price_on_grid(q.probability, margin, cfg) * CENT


def audit_combo_quotes(rows: Iterable[ComboQuoteRow], risk: RiskConfig | None = None) -> ComboAudit:
    details: list[RowAudit] = []
    tol = Decimal("1e-7")
    for row in rows:
        fair, offered = our_prices_cents(row.legs_cents, risk)
        upper = row.frechet_upper_cents
        details.append(
            RowAudit(
                row.line,
                row.legs_cents,
                row.quote_cents,
                row.independence_cents,
                upper,
                row.frechet_lower_cents,
                fair,
                offered,
                quote_violates=row.quote_cents > upper,
                ours_violates=fair > upper + tol,
                offered_violates=offered is not None and offered > upper,
            )
        )

    def mean(values: list[Decimal]) -> float:
        return round(float(np.mean([float(v) for v in values])), 4) if values else 0.0

    offered = [d for d in details if d.offered_cents is not None]
    return ComboAudit(
        rows=len(details),
        quote_frechet_violations=sum(d.quote_violates for d in details),
        ours_frechet_violations=sum(d.ours_violates for d in details),
        quote_premium_cents=mean([d.quote_cents - d.independence_cents for d in details]),
        ours_premium_cents=mean([d.ours_cents - d.independence_cents for d in details]),
        offered_frechet_violations=sum(d.offered_violates for d in details),
        offered_premium_cents=(
            mean(
                [
                    d.offered_cents - d.independence_cents
                    for d in offered  # type: ignore[operator]
                ]
            )
            if offered
            else None
        ),
        offered_refused=len(details) - len(offered),
        quote_below_lower_bound=sum(1 for d in details if d.quote_cents < d.frechet_lower_cents),
        details=tuple(details),
    )
