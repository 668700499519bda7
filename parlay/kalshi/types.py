"""Normalized portfolio records of the Kalshi REST API (orders, fills, positions, balance).

Market data records live in :mod:`models.records`; these are account-side and only the Kalshi
client and the execution/hedging code use them. Same units as everywhere: prices are
:class:`~decimal.Decimal` dollars with 4 places, contract counts Decimals with 2 places, money
Decimals in dollars, timestamps tz-aware UTC.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple


class Order(NamedTuple):
    order_id: str
    client_order_id: str | None
    ticker: str
    side: str  # "yes" | "no"
    action: str  # "buy" | "sell"
    status: str | None  # "resting" | "canceled" | "executed" | …
    order_type: str | None  # "limit" | "market"
    yes_price: Decimal | None
    no_price: Decimal | None
    initial_count: Decimal | None
    fill_count: Decimal | None
    remaining_count: Decimal | None
    created_time: datetime | None
    last_update_time: datetime | None = None


class Fill(NamedTuple):
    fill_id: str
    order_id: str | None
    ticker: str
    side: str
    action: str
    count: Decimal  # type: ignore[assignment]  # same field name as models.records.Trade.count
    yes_price: Decimal
    no_price: Decimal
    is_taker: bool | None
    fee: Decimal | None
    ts: datetime | None
    trade_id: str | None = None


class Position(NamedTuple):
    """Net position in one market: positive = long YES contracts, negative = long NO contracts."""

    ticker: str
    position: Decimal
    market_exposure: Decimal | None = None
    realized_pnl: Decimal | None = None
    fees_paid: Decimal | None = None
    total_traded: Decimal | None = None
    resting_orders_count: int | None = None


class Balance(NamedTuple):
    balance: Decimal  # available cash, dollars
    portfolio_value: Decimal | None = None  # dollars
    updated_ts: datetime | None = None


class HistoricalCutoff(NamedTuple):
    """Where Kalshi's live tier ends: older data is only under ``/historical/…``."""

    market_settled_ts: datetime | None
    trades_created_ts: datetime | None
    orders_updated_ts: datetime | None
