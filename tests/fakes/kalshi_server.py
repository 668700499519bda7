"""A local, fault-injecting fake of Kalshi's Trade API v2 for tests.

:class:`FakeKalshi` is a real HTTP server (stdlib ``ThreadingHTTPServer`` in a background thread,
bound to 127.0.0.1 on a free port) that answers the endpoints our client uses with Kalshi's
documented JSON, under ``/trade-api/v2``:

* market data: ``/series/{s}``, ``/events`` (+ ``/events/{e}``, ``/events/multivariate``),
  ``/markets`` (+ ``/markets/{t}``, ``/markets/{t}/orderbook``, ``/markets/trades``),
  ``/series/{s}/markets/{t}/candlesticks``, ``/multivariate_event_collections``,
  ``/historical/cutoff``, ``/historical/markets/{t}`` (+ ``/candlesticks``), ``/historical/trades``;
* portfolio (RSA-PSS signature verified against the public key; 401 otherwise):
  ``/portfolio/balance``, ``/portfolio/positions``, ``/portfolio/fills``, ``/portfolio/orders``
  (GET list, POST create keyed by ``client_order_id`` with 409 on reuse), ``/portfolio/orders/{id}``
  (GET, DELETE).

Lists paginate with an opaque ``cursor``; ``page_size`` caps every page so tests can force many
pages. The seeded dataset (:func:`default_data`) is deterministic: NBA games on trading day
2026-03-07 (events of mutually exclusive team markets, some in legacy cents, some fixed point,
one with tenth-of-a-cent ticks), a settled game the day before (served by ``/historical``), a game
the day after, trades over several pages, candles in all three namings, a multivariate collection
with combo markets carrying ``mve_selected_legs``, and a portfolio.

Faults, consumed first-in first-out per matching request (``pattern`` is an ``fnmatch`` pattern
on the path below ``/trade-api/v2``, e.g. ``"/markets/*/orderbook"``):

* :meth:`FakeKalshi.fail` — answer ``status`` (429 bursts, 5xx, …) without processing;
* :meth:`FakeKalshi.slow` — wait ``delay`` seconds before (or after) processing;
* :meth:`FakeKalshi.malformed_json` — answer 200 with a body that is not JSON;
* :meth:`FakeKalshi.drop_after_processing` — process the request (e.g. create the order), then
  close the connection without answering: the client sees a dropped connection;
* :meth:`FakeKalshi.stuck_cursor` — list answers carry a cursor that never changes.

Every request is logged (:attr:`FakeKalshi.requests`) with its status after faults.

Use it as a context manager, or through the pytest fixtures :func:`fake_kalshi` and
:func:`kalshi_client` (import them into a ``conftest.py``).
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import functools
import json
import random
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from parlay.kalshi.client import KalshiClient, RetryPolicy
from parlay.kalshi.signing import KalshiSigner

API_PREFIX = "/trade-api/v2"
TRADING_DAY = date(2026, 3, 7)
FAKE_KEY_ID = "fake-key-0123456789"

SERIES = "KXNBAGAME"
MVE_SERIES = "KXMVESPORTSMULTIGAMEEXTENDED"
COLLECTION = "KXMVESPORTSMULTIGAMEEXTENDED"

E_PREV = "KXNBAGAME-26MAR06NYKMIA"  # settled the day before, archived (historical)
E_LEGACY = "KXNBAGAME-26MAR07GSWOKC"  # legacy integer-cents payloads
E_FIXED = "KXNBAGAME-26MAR07LALBOS"  # fixed-point payloads, same numbers as E_LEGACY
E_DECI = "KXNBAGAME-26MAR07DENPHX"  # tenth-of-a-cent ticks, no strike_date
E_NEXT = "KXNBAGAME-26MAR08CHIDET"  # the following trading day

GSW, OKC = f"{E_LEGACY}-GSW", f"{E_LEGACY}-OKC"
LAL, BOS = f"{E_FIXED}-LAL", f"{E_FIXED}-BOS"
DEN, PHX = f"{E_DECI}-DEN", f"{E_DECI}-PHX"
CHI, DET = f"{E_NEXT}-CHI", f"{E_NEXT}-DET"
NYK, MIA = f"{E_PREV}-NYK", f"{E_PREV}-MIA"

MVE_EVENT_A = f"{MVE_SERIES}-S2026A1B2C3D4E5F"
MVE_EVENT_B = f"{MVE_SERIES}-S2026F6E5D4C3B2A"
COMBO_1 = f"{MVE_EVENT_A}-1A2B3"  # GSW yes & LAL yes
COMBO_2 = f"{MVE_EVENT_A}-4C5D6"  # OKC yes & BOS no & DEN yes
COMBO_3 = f"{MVE_EVENT_B}-7E8F9"  # NYK yes & MIA no (settled)
COMBO_4 = f"{MVE_EVENT_B}-0A1B2"  # CHI yes & GSW no (spans two days)

SEED_ORDER_ID = "fake-order-seed"
SEED_CLIENT_ORDER_ID = "seed-resting-1"


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def epoch(text: str) -> int:
    return int(utc(text).timestamp())


def _safe_epoch(text: Any) -> int | None:
    """Unix seconds of an ISO time, or None for data a test deliberately broke."""
    try:
        return epoch(text)
    except (TypeError, ValueError, AttributeError):
        return None


# --------------------------------------------------------------------------- dataset


@dataclass
class FakeData:
    """Everything the fake serves; plain JSON-ready dicts that tests may edit before a call."""

    series: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # without "markets"
    markets: dict[str, dict[str, Any]] = field(default_factory=dict)  # base markets
    mve_events: dict[str, dict[str, Any]] = field(default_factory=dict)  # without "markets"
    combo_markets: dict[str, dict[str, Any]] = field(default_factory=dict)
    collections: list[dict[str, Any]] = field(default_factory=list)
    orderbooks: dict[str, dict[str, Any]] = field(default_factory=dict)  # ticker → response body
    trades: list[dict[str, Any]] = field(default_factory=list)
    candles: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    historical_candles: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    historical_tickers: set[str] = field(default_factory=set)
    cutoff: dict[str, Any] = field(default_factory=dict)
    balance: dict[str, Any] = field(default_factory=dict)
    positions: list[dict[str, Any]] = field(default_factory=list)
    event_positions: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # order_id → order, in creation order


def _legacy_market(
    ticker: str, event: str, title: str, bid: int, ask: int, last: int, close: str, **extra: Any
) -> dict[str, Any]:
    return {
        "ticker": ticker,
        "event_ticker": event,
        "market_type": "binary",
        "title": title,
        "yes_sub_title": ticker.rsplit("-", 1)[1],
        "no_sub_title": ticker.rsplit("-", 1)[1],
        "open_time": "2026-03-05T15:00:00Z",
        "close_time": close,
        "expected_expiration_time": close,
        "status": "active",
        "result": "",
        "yes_bid": bid,
        "yes_ask": ask,
        "no_bid": 100 - ask,
        "no_ask": 100 - bid,
        "last_price": last,
        "volume": 1500,
        "open_interest": 900,
        "tick_size": 1,
        "rules_primary": f"If {ticker.rsplit('-', 1)[1]} wins the game, the market resolves to Yes.",
        **extra,
    }


def _fixed_market(
    ticker: str, event: str, title: str, bid: str, ask: str, last: str, close: str, **extra: Any
) -> dict[str, Any]:
    one = Decimal(1)
    return {
        "ticker": ticker,
        "event_ticker": event,
        "market_type": "binary",
        "title": title,
        "yes_sub_title": ticker.rsplit("-", 1)[1],
        "no_sub_title": ticker.rsplit("-", 1)[1],
        "open_time": "2026-03-05T15:00:00Z",
        "close_time": close,
        "expected_expiration_time": close,
        "status": "active",
        "result": "",
        "yes_bid_dollars": bid,
        "yes_ask_dollars": ask,
        "no_bid_dollars": f"{one - Decimal(ask):.4f}",
        "no_ask_dollars": f"{one - Decimal(bid):.4f}",
        "last_price_dollars": last,
        "volume_fp": "1500.00",
        "open_interest_fp": "900.00",
        "price_level_structure": "linear_cent",
        "rules_primary": f"If {ticker.rsplit('-', 1)[1]} wins the game, the market resolves to Yes.",
        **extra,
    }


def _event(ticker: str, title: str, strike: str | None) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "event_ticker": ticker,
        "series_ticker": SERIES,
        "title": title,
        "sub_title": title,
        "category": "Sports",
        "mutually_exclusive": True,
        "strike_period": "",
    }
    if strike is not None:
        ev["strike_date"] = strike
    return ev


def _legacy_trades(ticker: str, prefix: str, start: datetime, n: int) -> list[dict[str, Any]]:
    out = []
    for k in range(n):
        yes = 42 + (k % 3) - 1
        out.append({
            "trade_id": f"{prefix}-{k}",
            "ticker": ticker,
            "count": 5 + k,
            "yes_price": yes,
            "no_price": 100 - yes,
            "taker_side": "yes" if k % 2 == 0 else "no",
            "created_time": iso(start + timedelta(minutes=k)),
        })
    return out


def _fixed_trades(ticker: str, prefix: str, start: datetime, n: int) -> list[dict[str, Any]]:
    """The same trades as :func:`_legacy_trades`, in fixed-point form."""
    out = []
    for t in _legacy_trades(ticker, prefix, start, n):
        out.append({
            "trade_id": t["trade_id"],
            "ticker": ticker,
            "count_fp": f"{t['count']}.00",
            "yes_price_dollars": f"0.{t['yes_price']:02d}00",
            "no_price_dollars": f"0.{t['no_price']:02d}00",
            "taker_side": t["taker_side"],
            "created_time": t["created_time"],
        })
    return out


def _legacy_candles(start: datetime, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    no_trade: dict[str, int | None] = {"open": None, "low": None, "high": None, "close": None}
    for k in range(n):
        traded = k % 2 == 0
        out.append({
            "end_period_ts": int((start + timedelta(minutes=k)).timestamp()),
            "yes_bid": {"open": 42, "low": 41, "high": 42, "close": 42},
            "yes_ask": {"open": 44, "low": 43, "high": 44, "close": 44},
            "price": (
                {"open": 43, "low": 42, "high": 43, "close": 42}
                if traded
                else no_trade
            ),
            "volume": 6 if traded else 0,
            "open_interest": 900,
        })
    return out


def _fixed_candles(start: datetime, n: int) -> list[dict[str, Any]]:
    """The same candles as :func:`_legacy_candles` in the current fixed-point naming."""
    out = []
    for c in _legacy_candles(start, n):
        def group(g: dict[str, Any]) -> dict[str, Any]:
            return {f"{k}_dollars": (f"0.{v:02d}00" if v is not None else None) for k, v in g.items()}

        out.append({
            "end_period_ts": c["end_period_ts"],
            "yes_bid": group(c["yes_bid"]),
            "yes_ask": group(c["yes_ask"]),
            "price": group(c["price"]),
            "volume_fp": f"{c['volume']}.00",
            "open_interest_fp": f"{c['open_interest']}.00",
        })
    return out


def _historical_candles(start: datetime, n: int) -> list[dict[str, Any]]:
    """``/historical`` naming: dollar strings without the suffix, counts as fixed-point strings."""
    out = []
    for k in range(n):
        out.append({
            "end_period_ts": int((start + timedelta(minutes=k)).timestamp()),
            "yes_bid": {"open": "0.6000", "low": "0.5900", "high": "0.6100", "close": "0.6000"},
            "yes_ask": {"open": "0.6200", "low": "0.6100", "high": "0.6300", "close": "0.6200"},
            "price": {
                "open": "0.6100", "low": "0.6000", "high": "0.6200", "close": "0.6100",
                "mean": "0.6100", "previous": "0.6000",
            },
            "volume": "10.00",
            "open_interest": "300.00",
        })
    return out


def _combo(
    ticker: str, event: str, legs: list[tuple[str, str, str]], close: str, **extra: Any
) -> dict[str, Any]:
    return {
        "ticker": ticker,
        "event_ticker": event,
        "market_type": "binary",
        "title": " & ".join(f"{m.rsplit('-', 1)[1]} {s}" for _, m, s in legs),
        "mve_collection_ticker": COLLECTION,
        "mve_selected_legs": [{"event_ticker": e, "market_ticker": m, "side": s} for e, m, s in legs],
        "status": "active",
        "result": "",
        "close_time": close,
        "yes_bid_dollars": "0.1500",
        "yes_ask_dollars": "0.1700",
        "volume_fp": "40.00",
        **extra,
    }


def default_data() -> FakeData:
    d = FakeData()
    d.series[SERIES] = {
        "ticker": SERIES,
        "frequency": "custom",
        "title": "Professional Basketball Game",
        "category": "Sports",
        "fee_type": "quadratic_with_maker_fees",
        "fee_multiplier": 1,
        "tags": ["Basketball"],
    }
    d.series[MVE_SERIES] = {
        "ticker": MVE_SERIES, "frequency": "custom", "title": "Multi-game combos", "category": "Sports",
        "fee_type": "quadratic", "fee_multiplier": 1,
    }

    d.events[E_PREV] = _event(E_PREV, "Knicks at Heat", "2026-03-07T00:00:00Z")
    d.events[E_LEGACY] = _event(E_LEGACY, "Warriors at Thunder", "2026-03-08T00:30:00Z")
    d.events[E_FIXED] = _event(E_FIXED, "Lakers at Celtics", "2026-03-08T01:00:00Z")
    d.events[E_DECI] = _event(E_DECI, "Nuggets at Suns", None)
    d.events[E_NEXT] = _event(E_NEXT, "Bulls at Pistons", "2026-03-09T00:00:00Z")

    close7 = "2026-03-08T04:00:00Z"
    d.markets[GSW] = _legacy_market(GSW, E_LEGACY, "Warriors win?", 42, 44, 43, close7)
    d.markets[OKC] = _legacy_market(OKC, E_LEGACY, "Thunder win?", 56, 58, 57, close7)
    d.markets[LAL] = _fixed_market(LAL, E_FIXED, "Lakers win?", "0.4200", "0.4400", "0.4300", close7)
    d.markets[BOS] = _fixed_market(BOS, E_FIXED, "Celtics win?", "0.5600", "0.5800", "0.5700", close7)
    deci = {"price_level_structure": "deci_cent"}
    close_deci = "2026-03-08T04:30:00Z"
    d.markets[DEN] = _fixed_market(
        DEN, E_DECI, "Nuggets win?", "0.0450", "0.0470", "0.0460", close_deci, **deci
    )
    d.markets[PHX] = _fixed_market(
        PHX, E_DECI, "Suns win?", "0.9530", "0.9550", "0.9540", close_deci, **deci
    )
    close8 = "2026-03-09T03:30:00Z"
    d.markets[CHI] = _fixed_market(CHI, E_NEXT, "Bulls win?", "0.3000", "0.3200", "0.3100", close8)
    d.markets[DET] = _fixed_market(DET, E_NEXT, "Pistons win?", "0.6800", "0.7000", "0.6900", close8)
    settled = {"status": "finalized", "settlement_ts": "2026-03-07T03:05:00Z"}
    d.markets[NYK] = _legacy_market(
        NYK, E_PREV, "Knicks win?", 0, 100, 99, "2026-03-07T03:00:00Z", result="yes", **settled
    )
    d.markets[MIA] = _legacy_market(
        MIA, E_PREV, "Heat win?", 0, 100, 1, "2026-03-07T03:00:00Z", result="no", **settled
    )
    d.historical_tickers = {NYK, MIA}
    d.cutoff = {
        "market_settled_ts": "2026-03-07T12:00:00Z",
        "trades_created_ts": "2026-03-07T12:00:00Z",
        "orders_updated_ts": "2026-03-07T12:00:00Z",
    }

    # Books: bids only, deliberately not sorted. E_FIXED mirrors E_LEGACY exactly.
    d.orderbooks[GSW] = {"orderbook": {"yes": [[42, 100], [40, 500], [41, 250]], "no": [[55, 300], [56, 80]]}}
    d.orderbooks[OKC] = {"orderbook": {"yes": [[55, 300], [56, 80]], "no": [[42, 100], [41, 250], [40, 500]]}}
    d.orderbooks[LAL] = {"orderbook_fp": {
        "yes_dollars": [["0.4200", "100.00"], ["0.4000", "500.00"], ["0.4100", "250.00"]],
        "no_dollars": [["0.5500", "300.00"], ["0.5600", "80.00"]],
    }}
    d.orderbooks[BOS] = {"orderbook_fp": {
        "yes_dollars": [["0.5500", "300.00"], ["0.5600", "80.00"]],
        "no_dollars": [["0.4200", "100.00"], ["0.4100", "250.00"], ["0.4000", "500.00"]],
    }}
    d.orderbooks[DEN] = {"orderbook_fp": {
        "yes_dollars": [["0.0450", "1000.00"], ["0.0440", "2000.00"]],
        "no_dollars": [["0.9530", "700.00"]],
    }}
    d.orderbooks[PHX] = {"orderbook_fp": {
        "yes_dollars": [["0.9530", "700.00"]],
        "no_dollars": [["0.0450", "1000.00"], ["0.0440", "2000.00"]],
    }}
    d.orderbooks[CHI] = {
        "orderbook_fp": {"yes_dollars": [["0.3000", "50.00"]], "no_dollars": [["0.6800", "40.00"]]}
    }
    d.orderbooks[DET] = {
        "orderbook_fp": {"yes_dollars": [["0.6800", "40.00"]], "no_dollars": [["0.3000", "50.00"]]}
    }
    for t in (NYK, MIA):
        d.orderbooks[t] = {"orderbook_fp": {"yes_dollars": [], "no_dollars": []}}

    game = utc("2026-03-08T00:31:00Z")
    trades = _legacy_trades(GSW, "t-gsw", game, 7) + _fixed_trades(LAL, "t-lal", game, 7)
    trades.append({  # afternoon of the same trading day
        "trade_id": "t-gsw-early", "ticker": GSW, "count": 2, "yes_price": 45, "no_price": 55,
        "taker_side": "yes", "created_time": "2026-03-07T18:00:00Z",
    })
    trades.append({  # past midnight New York time: the next trading day
        "trade_id": "t-gsw-late", "ticker": GSW, "count": 1, "yes_price": 99, "no_price": 1,
        "taker_side": "yes", "created_time": "2026-03-08T05:30:00Z",
    })
    trades.append({
        "trade_id": "t-den-0", "ticker": DEN, "count_fp": "100.00", "yes_price_dollars": "0.0450",
        "no_price_dollars": "0.9550", "taker_side": "no", "created_time": "2026-03-08T03:10:00Z",
    })
    trades.append({
        "trade_id": "t-chi-0", "ticker": CHI, "count_fp": "3.00", "yes_price_dollars": "0.3100",
        "no_price_dollars": "0.6900", "taker_side": "yes", "created_time": "2026-03-09T00:10:00Z",
    })
    trades.append({
        "trade_id": "t-nyk-0", "ticker": NYK, "count": 4, "yes_price": 61, "no_price": 39,
        "taker_side": "yes", "created_time": "2026-03-07T00:40:00Z",
    })
    for k in range(2):
        trades.append({
            "trade_id": f"t-combo1-{k}", "ticker": COMBO_1, "count_fp": "10.00",
            "yes_price_dollars": "0.1600", "no_price_dollars": "0.8400", "taker_side": "yes",
            "created_time": iso(game + timedelta(minutes=3 + k)),
        })
    d.trades = trades

    d.candles[(GSW, 1)] = _legacy_candles(game, 5)
    d.candles[(LAL, 1)] = _fixed_candles(game, 5)
    d.historical_candles[(NYK, 1)] = _historical_candles(utc("2026-03-07T00:31:00Z"), 3)

    d.collections = [{
        "collection_ticker": COLLECTION,
        "series_ticker": MVE_SERIES,
        "title": "Multi-game sports combos",
        "description": "Combos across NBA games",
        "open_date": "2026-03-01T00:00:00Z",
        "close_date": "2026-04-30T00:00:00Z",
        "associated_events": [{"ticker": SERIES, "is_yes_only": False, "size_min": 2, "size_max": 10}],
        "is_ordered": False,
        "is_single_market_per_event": True,
        "is_all_yes": False,
        "size_min": 2,
        "size_max": 10,
    }]
    d.mve_events[MVE_EVENT_A] = {
        "event_ticker": MVE_EVENT_A, "series_ticker": MVE_SERIES, "title": "Combo A",
        "mutually_exclusive": False, "collection_ticker": COLLECTION,
    }
    d.mve_events[MVE_EVENT_B] = {
        "event_ticker": MVE_EVENT_B, "series_ticker": MVE_SERIES, "title": "Combo B",
        "mutually_exclusive": False, "collection_ticker": COLLECTION,
    }
    d.combo_markets[COMBO_1] = _combo(
        COMBO_1, MVE_EVENT_A, [(E_LEGACY, GSW, "yes"), (E_FIXED, LAL, "yes")], "2026-03-08T04:30:00Z"
    )
    d.combo_markets[COMBO_2] = _combo(
        COMBO_2, MVE_EVENT_A, [(E_LEGACY, OKC, "yes"), (E_FIXED, BOS, "no"), (E_DECI, DEN, "yes")],
        "2026-03-08T04:30:00Z",
    )
    d.combo_markets[COMBO_3] = _combo(
        COMBO_3, MVE_EVENT_B, [(E_PREV, NYK, "yes"), (E_PREV, MIA, "no")], "2026-03-07T03:00:00Z",
        status="finalized", result="yes",
    )
    d.combo_markets[COMBO_4] = _combo(
        COMBO_4, MVE_EVENT_B, [(E_NEXT, CHI, "yes"), (E_LEGACY, GSW, "no")], "2026-03-09T03:30:00Z"
    )

    d.balance = {"balance": 100_000, "portfolio_value": 2_500, "updated_ts": epoch("2026-03-07T20:00:00Z")}
    d.positions = [
        {"ticker": GSW, "position": 10, "market_exposure": 420, "realized_pnl": 0, "total_traded": 420,
         "fees_paid": 7, "resting_orders_count": 1},
        {"ticker": LAL, "position_fp": "-5.00", "market_exposure_dollars": "2.9000",
         "realized_pnl_dollars": "0.1200", "total_traded_dollars": "2.9000", "fees_paid_dollars": "0.0400",
         "resting_orders_count": 0},
    ]
    d.event_positions = [
        {"event_ticker": E_LEGACY, "total_cost_dollars": "4.2000", "event_exposure_dollars": "4.2000"}
    ]
    d.fills = [
        {"fill_id": "f-1", "trade_id": "f-1", "order_id": "fake-order-old-1", "ticker": GSW, "side": "yes",
         "action": "buy", "count": 10, "yes_price": 42, "no_price": 58, "is_taker": True,
         "created_time": "2026-03-07T19:00:00Z"},
        {"fill_id": "f-2", "trade_id": "f-2", "order_id": "fake-order-old-2", "ticker": LAL,
         "market_ticker": LAL, "side": "no", "action": "buy", "count_fp": "5.00",
         "yes_price_dollars": "0.4200", "no_price_dollars": "0.5800", "is_taker": False, "fee_cost": "0.0400",
         "created_time": "2026-03-07T19:05:00Z"},
        {"fill_id": "f-3", "trade_id": "f-3", "order_id": "fake-order-old-3", "ticker": DEN, "side": "yes",
         "action": "buy", "count_fp": "100.00", "yes_price_fixed": "0.0450", "no_price_fixed": "0.9550",
         "is_taker": True, "created_time": "2026-03-07T19:10:00Z"},
    ]
    d.orders[SEED_ORDER_ID] = {
        "order_id": SEED_ORDER_ID, "user_id": "fake-user", "client_order_id": SEED_CLIENT_ORDER_ID,
        "ticker": GSW, "side": "yes", "action": "buy", "type": "limit", "status": "resting",
        "yes_price": 40, "no_price": 60, "initial_count": 5, "fill_count": 0, "remaining_count": 5,
        "created_time": "2026-03-07T20:00:00Z", "last_update_time": "2026-03-07T20:00:00Z",
    }
    return d


# --------------------------------------------------------------------------- server


@dataclass
class Fault:
    kind: str  # status | delay | delay_after | malformed | drop | stuck_cursor
    pattern: str
    method: str | None
    remaining: int
    status: int = 500
    delay: float = 0.0
    body: bytes | None = None
    skip: int = 0  # matching requests to let through untouched before the fault starts

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and fnmatch.fnmatchcase(path, self.pattern)


@dataclass
class LoggedRequest:
    method: str
    path: str  # below /trade-api/v2, no query
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int | None = None  # None: the connection was dropped without an answer
    fault: str | None = None
    auth_error: str | None = None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class _HTTPError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _q(query: dict[str, list[str]], name: str) -> str | None:
    v = query.get(name)
    return v[0] if v else None


def _qint(query: dict[str, list[str]], name: str) -> int | None:
    v = _q(query, name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise _HTTPError(400, "invalid_parameters", f"{name} must be an integer") from None


class FakeKalshi:
    """The fake exchange. ``public_key`` verifies ``/portfolio`` signatures made with ``key_id``."""

    def __init__(
        self,
        public_key: rsa.RSAPublicKey,
        *,
        key_id: str = FAKE_KEY_ID,
        data: FakeData | None = None,
        page_size: int | None = None,
        max_clock_skew_ms: int | None = None,
    ) -> None:
        self.public_key = public_key
        self.key_id = key_id
        self.data = data or default_data()
        self.page_size = page_size
        self.max_clock_skew_ms = max_clock_skew_ms
        self.lock = threading.RLock()
        self._faults: list[Fault] = []
        self._log: list[LoggedRequest] = []
        self._order_seq = 0
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., tuple[int, Any]]]] = [
            ("GET", re.compile(r"^/series/(?P<series>[^/]+)$"), self._get_series),
            ("GET", re.compile(r"^/series/(?P<series>[^/]+)/markets/(?P<ticker>[^/]+)/candlesticks$"),
             self._get_candles),
            ("GET", re.compile(r"^/events$"), self._list_events),
            ("GET", re.compile(r"^/events/multivariate$"), self._list_mve_events),
            ("GET", re.compile(r"^/events/(?P<event>[^/]+)$"), self._get_event),
            ("GET", re.compile(r"^/markets$"), self._list_markets),
            ("GET", re.compile(r"^/markets/trades$"), self._list_trades),
            ("GET", re.compile(r"^/markets/(?P<ticker>[^/]+)$"), self._get_market),
            ("GET", re.compile(r"^/markets/(?P<ticker>[^/]+)/orderbook$"), self._get_orderbook),
            ("GET", re.compile(r"^/historical/cutoff$"), self._get_cutoff),
            ("GET", re.compile(r"^/historical/trades$"), self._list_historical_trades),
            ("GET", re.compile(r"^/historical/markets/(?P<ticker>[^/]+)$"), self._get_historical_market),
            ("GET", re.compile(r"^/historical/markets/(?P<ticker>[^/]+)/candlesticks$"),
             self._get_historical_candles),
            ("GET", re.compile(r"^/multivariate_event_collections$"), self._list_collections),
            ("GET", re.compile(r"^/portfolio/balance$"), self._get_balance),
            ("GET", re.compile(r"^/portfolio/positions$"), self._list_positions),
            ("GET", re.compile(r"^/portfolio/fills$"), self._list_fills),
            ("GET", re.compile(r"^/portfolio/orders$"), self._list_orders),
            ("POST", re.compile(r"^/portfolio/orders$"), self._create_order),
            ("GET", re.compile(r"^/portfolio/orders/(?P<order_id>[^/]+)$"), self._get_order),
            ("DELETE", re.compile(r"^/portfolio/orders/(?P<order_id>[^/]+)$"), self._cancel_order),
        ]

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeKalshi:
        handler = _make_handler(self)
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-kalshi", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeKalshi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    # ------------------------------------------------------------------ faults

    def _add(self, fault: Fault) -> None:
        with self.lock:
            self._faults.append(fault)

    def fail(
        self, pattern: str, status: int, *, times: int = 1, method: str | None = None, body: Any = None,
        skip: int = 0,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (Kalshi error body by default).
        ``skip`` (here and below): let that many matching requests through first."""
        raw = json.dumps(body).encode() if body is not None else None
        self._add(Fault("status", pattern, method, times, status=status, body=raw, skip=skip))

    def rate_limit(self, pattern: str, *, times: int = 1, method: str | None = None, skip: int = 0) -> None:
        self.fail(pattern, 429, times=times, method=method, skip=skip)

    def slow(
        self, pattern: str, delay: float, *, times: int = 1, method: str | None = None,
        after_processing: bool = False, skip: int = 0,
    ) -> None:
        """Wait ``delay`` seconds before processing (or after, so the action takes effect but the
        answer comes too late for the client)."""
        kind = "delay_after" if after_processing else "delay"
        self._add(Fault(kind, pattern, method, times, delay=delay, skip=skip))

    def malformed_json(
        self, pattern: str, *, times: int = 1, method: str | None = None, skip: int = 0
    ) -> None:
        """Answer 200 with a truncated, unparseable body (nothing is processed)."""
        self._add(Fault("malformed", pattern, method, times, skip=skip))

    def drop_after_processing(
        self, pattern: str, *, times: int = 1, method: str | None = None, skip: int = 0
    ) -> None:
        """Process the request, then close the connection without an answer."""
        self._add(Fault("drop", pattern, method, times, skip=skip))

    def stuck_cursor(self, pattern: str, *, times: int = 1_000, method: str | None = "GET") -> None:
        """List answers for ``pattern`` always carry the same non-empty cursor."""
        self._add(Fault("stuck_cursor", pattern, method, times))

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for i, f in enumerate(self._faults):
                if f.matches(method, path):
                    if f.skip > 0:
                        f.skip -= 1
                        continue
                    f.remaining -= 1
                    if f.remaining <= 0:
                        del self._faults[i]
                    return f
        return None

    # ------------------------------------------------------------------ request log

    @property
    def requests(self) -> list[LoggedRequest]:
        with self.lock:
            return list(self._log)

    def calls(self, pattern: str, method: str | None = None) -> list[LoggedRequest]:
        return [
            r for r in self.requests
            if fnmatch.fnmatchcase(r.path, pattern) and (method is None or r.method == method)
        ]

    def orders_with_client_id(self, client_order_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [o for o in self.data.orders.values() if o.get("client_order_id") == client_order_id]

    @property
    def order_count(self) -> int:
        with self.lock:
            return len(self.data.orders)

    # ------------------------------------------------------------------ dispatch

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int | None, bytes]:
        """Serve one request; returns (status, body) or (None, b"") to drop the connection."""
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query, keep_blank_values=True)
        full_path = parts.path
        rel = full_path[len(API_PREFIX):] if full_path.startswith(API_PREFIX) else None
        entry = LoggedRequest(method, rel if rel is not None else full_path, query, dict(headers), body)
        with self.lock:
            self._log.append(entry)
        if rel is None:
            entry.status = 404
            return 404, _error_body("not_found", "unknown API prefix")
        fault = self._take_fault(method, rel)
        entry.fault = fault.kind if fault else None
        if fault is not None and fault.kind == "status":
            entry.status = fault.status
            default = _error_body(_status_code_name(fault.status), "injected failure")
            return fault.status, fault.body or default
        if fault is not None and fault.kind == "delay":
            self._stop.wait(fault.delay)
        if fault is not None and fault.kind == "malformed":
            entry.status = 200
            return 200, b'{"markets": [{"ticker": "KX-BROKEN", '
        if rel.startswith("/portfolio"):
            problem = self._verify(method, full_path, headers)
            if problem is not None:
                entry.status = 401
                entry.auth_error = problem
                return 401, _error_body("authentication_error", problem)
        try:
            status, payload = self._route(method, rel, query, body)
        except _HTTPError as exc:
            status, payload = exc.status, {"error": {"code": exc.code, "message": exc.message}}
        except Exception as exc:  # a bug in the fake: say so instead of dropping the connection
            status = 500
            payload = {"error": {"code": "fake_internal_error", "message": f"{type(exc).__name__}: {exc}"}}
        if fault is not None and fault.kind == "stuck_cursor" and isinstance(payload, dict):
            payload["cursor"] = "stuck-cursor"
        if fault is not None and fault.kind == "drop":
            entry.status = None
            return None, b""
        if fault is not None and fault.kind == "delay_after":
            self._stop.wait(fault.delay)
        entry.status = status
        return status, json.dumps(payload).encode()

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        path_matched = False
        for m, pattern, fn in self._routes:
            match = pattern.match(path)
            if match is None:
                continue
            path_matched = True
            if m != method:
                continue
            with self.lock:
                return fn(query=query, body=body, **match.groupdict())
        if path_matched:
            raise _HTTPError(405, "method_not_allowed", f"{method} not allowed on {path}")
        raise _HTTPError(404, "not_found", f"no route for {path}")

    def _verify(self, method: str, full_path: str, headers: dict[str, str]) -> str | None:
        h = {k.upper(): v for k, v in headers.items()}
        key = h.get("KALSHI-ACCESS-KEY")
        ts = h.get("KALSHI-ACCESS-TIMESTAMP")
        sig = h.get("KALSHI-ACCESS-SIGNATURE")
        if not key or not ts or not sig:
            return "missing authentication headers"
        if key != self.key_id:
            return "unknown API key"
        if not ts.isdigit():
            return "timestamp is not milliseconds"
        if self.max_clock_skew_ms is not None:
            now_ms = int(datetime.now(UTC).timestamp() * 1000)
            if abs(now_ms - int(ts)) > self.max_clock_skew_ms:
                return "timestamp outside the allowed window"
        try:
            raw = base64.b64decode(sig, validate=True)
        except ValueError:
            return "signature is not base64"
        message = f"{ts}{method}{full_path}".encode()
        try:
            self.public_key.verify(
                raw,
                message,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return "signature does not verify"
        return None

    # ------------------------------------------------------------------ helpers

    def _page(self, items: list[Any], query: dict[str, list[str]], key: str, **extra: Any) -> tuple[int, Any]:
        limit = _qint(query, "limit") or 100
        if limit < 1 or limit > 1000:
            raise _HTTPError(400, "invalid_parameters", "limit must be in 1..1000")
        if self.page_size is not None:
            limit = min(limit, self.page_size)
        cursor = _q(query, "cursor") or ""
        offset = 0
        if cursor and cursor != "stuck-cursor":
            try:
                offset = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("offset:"))
            except (ValueError, UnicodeDecodeError):
                raise _HTTPError(400, "invalid_cursor", "cursor not recognised") from None
        chunk = items[offset: offset + limit]
        nxt = offset + limit
        next_cursor = base64.urlsafe_b64encode(f"offset:{nxt}".encode()).decode() if nxt < len(items) else ""
        return 200, {key: copy.deepcopy(chunk), "cursor": next_cursor, **extra}

    def _market_status_ok(self, market: dict[str, Any], status: str | None) -> bool:
        if not status:
            return True
        s = market.get("status")
        wanted = {
            "open": {"active", "open"},
            "closed": {"closed"},
            "settled": {"settled", "finalized", "determined"},
            "unopened": {"initialized", "unopened"},
        }.get(status)
        if wanted is None:
            raise _HTTPError(400, "invalid_parameters", f"unknown status {status}")
        return s in wanted

    def _markets_of(self, event_ticker: str) -> list[dict[str, Any]]:
        return [m for m in self.data.markets.values() if m["event_ticker"] == event_ticker]

    def _combos_of(self, event_ticker: str) -> list[dict[str, Any]]:
        return [m for m in self.data.combo_markets.values() if m["event_ticker"] == event_ticker]

    def _any_market(self, ticker: str) -> dict[str, Any]:
        m = self.data.markets.get(ticker) or self.data.combo_markets.get(ticker)
        if m is None:
            raise _HTTPError(404, "not_found", f"market {ticker} not found")
        return m

    # ------------------------------------------------------------------ market data handlers

    def _get_series(self, query: Any, body: bytes, series: str) -> tuple[int, Any]:
        s = self.data.series.get(series)
        if s is None:
            raise _HTTPError(404, "not_found", f"series {series} not found")
        return 200, {"series": copy.deepcopy(s)}

    def _list_events(self, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        series = _q(query, "series_ticker")
        status = _q(query, "status")
        min_close = _qint(query, "min_close_ts")
        nested = _q(query, "with_nested_markets") == "true"
        out = []
        for ev in self.data.events.values():
            if series and ev["series_ticker"] != series:
                continue
            markets = self._markets_of(ev["event_ticker"])
            if status and not any(self._market_status_ok(m, status) for m in markets):
                continue
            if min_close is not None and not any(
                (_safe_epoch(m.get("close_time")) or 0) >= min_close for m in markets
            ):
                continue
            item = dict(ev)
            if nested:
                item["markets"] = markets
            out.append(item)
        return self._page(out, query, "events")

    def _get_event(self, query: dict[str, list[str]], body: bytes, event: str) -> tuple[int, Any]:
        ev = self.data.events.get(event) or self.data.mve_events.get(event)
        if ev is None:
            raise _HTTPError(404, "not_found", f"event {event} not found")
        markets = self._markets_of(event) or self._combos_of(event)
        item = copy.deepcopy(ev)
        if _q(query, "with_nested_markets") == "true":
            item["markets"] = copy.deepcopy(markets)
            return 200, {"event": item, "markets": []}
        return 200, {"event": item, "markets": copy.deepcopy(markets)}

    def _list_mve_events(self, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        collection = _q(query, "collection_ticker")
        series = _q(query, "series_ticker")
        nested = _q(query, "with_nested_markets") == "true"
        out = []
        for ev in self.data.mve_events.values():
            if collection and ev.get("collection_ticker") != collection:
                continue
            if series and ev.get("series_ticker") != series:
                continue
            item = dict(ev)
            if nested:
                item["markets"] = self._combos_of(ev["event_ticker"])
            out.append(item)
        return self._page(out, query, "events")

    def _list_markets(self, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        event = _q(query, "event_ticker")
        series = _q(query, "series_ticker")
        tickers = set(filter(None, (_q(query, "tickers") or "").split(",")))
        status = _q(query, "status")
        min_close = _qint(query, "min_close_ts")
        max_close = _qint(query, "max_close_ts")
        out = []
        for m in self.data.markets.values():
            ev = self.data.events.get(m["event_ticker"], {})
            if event and m["event_ticker"] != event:
                continue
            if series and ev.get("series_ticker") != series:
                continue
            if tickers and m["ticker"] not in tickers:
                continue
            if not self._market_status_ok(m, status):
                continue
            close = _safe_epoch(m.get("close_time"))
            if min_close is not None and (close is None or close < min_close):
                continue
            if max_close is not None and (close is None or close > max_close):
                continue
            out.append(m)
        return self._page(out, query, "markets")

    def _get_market(self, query: Any, body: bytes, ticker: str) -> tuple[int, Any]:
        return 200, {"market": copy.deepcopy(self._any_market(ticker))}

    def _get_orderbook(self, query: dict[str, list[str]], body: bytes, ticker: str) -> tuple[int, Any]:
        self._any_market(ticker)
        empty: dict[str, Any] = {"orderbook_fp": {"yes_dollars": [], "no_dollars": []}}
        book = copy.deepcopy(self.data.orderbooks.get(ticker) or empty)
        depth = _qint(query, "depth")
        if depth:
            for inner in book.values():
                for side, levels in inner.items():
                    if isinstance(levels, list):
                        inner[side] = sorted(levels, key=lambda lv: Decimal(str(lv[0])), reverse=True)[:depth]
        return 200, book

    def _filter_trades(self, query: dict[str, list[str]], pool: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ticker = _q(query, "ticker")
        min_ts = _qint(query, "min_ts")
        max_ts = _qint(query, "max_ts")
        out = []
        for t in pool:
            ts = _safe_epoch(t.get("created_time"))
            if ticker and t.get("ticker") != ticker:
                continue
            if min_ts is not None and (ts is None or ts < min_ts):
                continue
            if max_ts is not None and (ts is None or ts > max_ts):
                continue
            out.append(t)
        # newest first, like Kalshi
        out.sort(key=lambda t: (str(t.get("created_time")), str(t.get("trade_id"))), reverse=True)
        return out

    def _list_trades(self, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        pool = [t for t in self.data.trades if t["ticker"] not in self.data.historical_tickers]
        return self._page(self._filter_trades(query, pool), query, "trades")

    def _list_historical_trades(self, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        pool = [t for t in self.data.trades if t["ticker"] in self.data.historical_tickers]
        return self._page(self._filter_trades(query, pool), query, "trades")

    def _candles(
        self, store: dict[tuple[str, int], list[dict[str, Any]]], query: dict[str, list[str]], ticker: str
    ) -> tuple[int, Any]:
        start, end = _qint(query, "start_ts"), _qint(query, "end_ts")
        period = _qint(query, "period_interval")
        if start is None or end is None or period is None:
            raise _HTTPError(400, "missing_parameters", "start_ts, end_ts and period_interval are required")
        if period not in (1, 60, 1440):
            raise _HTTPError(400, "invalid_parameters", "period_interval must be 1, 60 or 1440")
        rows = [c for c in store.get((ticker, period), []) if start <= c["end_period_ts"] <= end]
        return 200, {"ticker": ticker, "candlesticks": copy.deepcopy(rows)}

    def _get_candles(
        self, query: dict[str, list[str]], body: bytes, series: str, ticker: str
    ) -> tuple[int, Any]:
        m = self._any_market(ticker)
        if ticker in self.data.historical_tickers:
            raise _HTTPError(404, "not_found", f"{ticker} is archived; use /historical")
        ev = self.data.events.get(m["event_ticker"]) or self.data.mve_events.get(m["event_ticker"], {})
        if ev.get("series_ticker") != series:
            raise _HTTPError(404, "not_found", f"{ticker} is not in series {series}")
        return self._candles(self.data.candles, query, ticker)

    def _get_cutoff(self, query: Any, body: bytes) -> tuple[int, Any]:
        return 200, dict(self.data.cutoff)

    def _get_historical_market(self, query: Any, body: bytes, ticker: str) -> tuple[int, Any]:
        if ticker not in self.data.historical_tickers:
            raise _HTTPError(404, "not_found", f"{ticker} is not archived")
        return 200, {"market": copy.deepcopy(self._any_market(ticker))}

    def _get_historical_candles(
        self, query: dict[str, list[str]], body: bytes, ticker: str
    ) -> tuple[int, Any]:
        if ticker not in self.data.historical_tickers:
            raise _HTTPError(404, "not_found", f"{ticker} is not archived")
        return self._candles(self.data.historical_candles, query, ticker)

    def _list_collections(self, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        series = _q(query, "series_ticker")
        rows = [c for c in self.data.collections if not series or c.get("series_ticker") == series]
        return self._page(rows, query, "multivariate_contracts")

    # ------------------------------------------------------------------ portfolio handlers

    def _get_balance(self, query: Any, body: bytes) -> tuple[int, Any]:
        return 200, dict(self.data.balance)

    def _list_positions(self, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        ticker = _q(query, "ticker")
        event = _q(query, "event_ticker")
        rows = [
            p for p in self.data.positions
            if (not ticker or p["ticker"] == ticker)
            and (not event or self._any_market(p["ticker"])["event_ticker"] == event)
        ]
        events = copy.deepcopy(self.data.event_positions)
        return self._page(rows, query, "market_positions", event_positions=events)

    def _list_fills(self, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        ticker = _q(query, "ticker")
        order_id = _q(query, "order_id")
        min_ts, max_ts = _qint(query, "min_ts"), _qint(query, "max_ts")
        rows = []
        for f in self.data.fills:
            ts = epoch(f["created_time"])
            if ticker and f["ticker"] != ticker:
                continue
            if order_id and f["order_id"] != order_id:
                continue
            if (min_ts is not None and ts < min_ts) or (max_ts is not None and ts > max_ts):
                continue
            rows.append(f)
        return self._page(rows, query, "fills")

    def _list_orders(self, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        ticker = _q(query, "ticker")
        event = _q(query, "event_ticker")
        status = _q(query, "status")
        min_ts, max_ts = _qint(query, "min_ts"), _qint(query, "max_ts")
        rows = []
        for o in reversed(list(self.data.orders.values())):  # newest first
            ts = epoch(o["created_time"])
            if ticker and o["ticker"] != ticker:
                continue
            if event and self._any_market(o["ticker"])["event_ticker"] != event:
                continue
            if status and o["status"] != status:
                continue
            if (min_ts is not None and ts < min_ts) or (max_ts is not None and ts > max_ts):
                continue
            rows.append(o)
        return self._page(rows, query, "orders")

    def _get_order(self, query: Any, body: bytes, order_id: str) -> tuple[int, Any]:
        o = self.data.orders.get(order_id)
        if o is None:
            raise _HTTPError(404, "not_found", f"order {order_id} not found")
        return 200, {"order": copy.deepcopy(o)}

    def _create_order(self, query: Any, body: bytes) -> tuple[int, Any]:
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            raise _HTTPError(400, "bad_request", "body is not JSON") from None
        if not isinstance(req, dict):
            raise _HTTPError(400, "bad_request", "body is not an object")
        ticker = req.get("ticker")
        if not ticker:
            raise _HTTPError(400, "missing_parameters", "ticker is required")
        market = self.data.markets.get(ticker) or self.data.combo_markets.get(ticker)
        if market is None:
            raise _HTTPError(404, "market_not_found", f"market {ticker} not found")
        if market.get("status") not in ("active", "open"):
            raise _HTTPError(400, "market_closed", f"market {ticker} is not open")
        side, action = req.get("side"), req.get("action")
        if side not in ("yes", "no") or action not in ("buy", "sell"):
            raise _HTTPError(400, "invalid_order", "side must be yes|no and action buy|sell")
        count = _count(req)
        price = _side_price(req, side)
        coid = req.get("client_order_id")
        if coid and any(o.get("client_order_id") == coid for o in self.data.orders.values()):
            raise _HTTPError(409, "order_already_exists", "an order with this client_order_id already exists")
        self._order_seq += 1
        order_id = f"fake-order-{self._order_seq:04d}"
        yes = price if side == "yes" else Decimal(1) - price
        now = iso(datetime.now(UTC))
        order = {
            "order_id": order_id,
            "user_id": "fake-user",
            "client_order_id": coid or "",
            "ticker": ticker,
            "side": side,
            "action": action,
            "type": req.get("type") or "limit",
            "status": "resting",
            "yes_price_dollars": f"{yes:.4f}",
            "no_price_dollars": f"{Decimal(1) - yes:.4f}",
            "initial_count_fp": f"{count:.2f}",
            "fill_count_fp": "0.00",
            "remaining_count_fp": f"{count:.2f}",
            "created_time": now,
            "last_update_time": now,
        }
        if req.get("time_in_force"):
            order["time_in_force"] = req["time_in_force"]
        self.data.orders[order_id] = order
        return 201, {"order": copy.deepcopy(order)}

    def _cancel_order(self, query: Any, body: bytes, order_id: str) -> tuple[int, Any]:
        o = self.data.orders.get(order_id)
        if o is None or o.get("status") != "resting":
            raise _HTTPError(404, "not_found", f"no resting order {order_id}")
        remaining = o.get("remaining_count_fp") or f"{o.get('remaining_count', 0)}.00"
        o["status"] = "canceled"
        o["remaining_count_fp"] = "0.00"
        o.pop("remaining_count", None)
        o["last_update_time"] = iso(datetime.now(UTC))
        return 200, {"order": copy.deepcopy(o), "reduced_by_fp": remaining}


def _count(req: dict[str, Any]) -> Decimal:
    c, cfp = req.get("count"), req.get("count_fp")
    if c is None and cfp is None:
        raise _HTTPError(400, "invalid_order", "count or count_fp is required")
    try:
        values = [Decimal(str(v)) for v in (c, cfp) if v is not None]
    except ArithmeticError:
        raise _HTTPError(400, "invalid_order", "count is not a number") from None
    if len(values) == 2 and values[0] != values[1]:
        raise _HTTPError(400, "invalid_order", "count and count_fp differ")
    if values[0] <= 0 or values[0] != values[0].to_integral_value():
        raise _HTTPError(400, "invalid_order", "count must be a positive whole number")
    return values[0]


def _side_price(req: dict[str, Any], side: str) -> Decimal:
    other = "no" if side == "yes" else "yes"
    candidates: list[Decimal] = []
    try:
        if req.get(f"{side}_price_dollars") is not None:
            candidates.append(Decimal(str(req[f"{side}_price_dollars"])))
        if req.get(f"{side}_price") is not None:
            candidates.append(Decimal(int(req[f"{side}_price"])) / 100)
        if not candidates and req.get(f"{other}_price_dollars") is not None:
            candidates.append(Decimal(1) - Decimal(str(req[f"{other}_price_dollars"])))
        if not candidates and req.get(f"{other}_price") is not None:
            candidates.append(Decimal(1) - Decimal(int(req[f"{other}_price"])) / 100)
    except (ArithmeticError, ValueError, TypeError):
        raise _HTTPError(400, "invalid_order", "price is not a number") from None
    if not candidates:
        raise _HTTPError(400, "invalid_order", "a price is required")
    if len(candidates) == 2 and candidates[0] != candidates[1]:
        raise _HTTPError(400, "invalid_order", "price fields disagree")
    price = candidates[0]
    if not Decimal(0) < price < Decimal(1):
        raise _HTTPError(400, "invalid_order", "price outside (0, 1)")
    return price


def _status_code_name(status: int) -> str:
    return {429: "too_many_requests", 500: "internal_server_error", 502: "bad_gateway",
            503: "service_unavailable", 504: "gateway_timeout"}.get(status, "error")


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:  # a client gone after a timeout
        return


def _make_handler(fake: FakeKalshi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "FakeKalshi/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            return

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items()}
            status, payload = fake.handle(self.command, self.path, headers, body)
            if status is None:
                self.close_connection = True
                return
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        do_GET = _serve
        do_POST = _serve
        do_DELETE = _serve
        do_PUT = _serve

    return Handler


# --------------------------------------------------------------------------- keys and fixtures


@functools.cache
def fake_private_key() -> rsa.RSAPrivateKey:
    """One RSA key per test process (generating keys is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def fake_private_key_pem() -> str:
    return fake_private_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def make_signer(key_id: str = FAKE_KEY_ID) -> KalshiSigner:
    """A signer for the fake's key (reuses the parsed key: loading a PEM validates it, which is slow)."""
    return KalshiSigner(key_id, fake_private_key())


def make_client(
    fake: FakeKalshi, *, signed: bool = True, sleeps: list[float] | None = None, **kwargs: Any
) -> KalshiClient:
    """A client wired to ``fake``: no client-side rate limit, seeded jitter, backoff sleeps recorded
    in ``sleeps`` instead of slept."""
    recorded = sleeps if sleeps is not None else []
    kwargs.setdefault("rate_tier", None)
    kwargs.setdefault("timeout", 5.0)
    kwargs.setdefault("retry", RetryPolicy(max_attempts=5, base_delay=0.05, max_delay=1.0))
    kwargs.setdefault("rng", random.Random(7))
    kwargs.setdefault("sleep", recorded.append)
    return KalshiClient(
        "demo", base_url=fake.base_url, signer=make_signer(fake.key_id) if signed else None, **kwargs
    )


@pytest.fixture
def fake_kalshi() -> Iterator[FakeKalshi]:
    """A running fake with a fresh copy of the default dataset."""
    with FakeKalshi(fake_private_key().public_key()) as fake:
        yield fake


@pytest.fixture
def backoff_sleeps() -> list[float]:
    """Backoff sleeps the :func:`kalshi_client` was asked to take (none are really slept)."""
    return []


@pytest.fixture
def kalshi_client(fake_kalshi: FakeKalshi, backoff_sleeps: list[float]) -> Iterator[KalshiClient]:
    """A signed client pointed at :func:`fake_kalshi`."""
    client = make_client(fake_kalshi, sleeps=backoff_sleeps)
    try:
        yield client
    finally:
        client.close()
