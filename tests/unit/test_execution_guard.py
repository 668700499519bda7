"""The production guard of the execution venue: whether real money can move depends on the host that
requests actually go to, after normalization, never on how the URL is spelled."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from models.hedging import HedgeOrder
from parlay.execution import ExecutionConfigError, KalshiVenue, execution_target, venue_from_env
from tests.fakes.kalshi_server import FAKE_KEY_ID, fake_private_key_pem

PRODUCTION_SPELLINGS = [
    "https://external-api.kalshi.com/trade-api/v2",
    "https://EXTERNAL-API.KALSHI.COM/trade-api/v2",
    "https://External-Api.Kalshi.Com/trade-api/v2",
    "https://external-api.kalshi.com:443/trade-api/v2",
    "https://external-api.kalshi.com./trade-api/v2",
    "https://external-api.kalshi.com/trade-api/v2 ",
    " https://external-api.kalshi.com/trade-api/v2",
    "https://external-api.kalshi.com/trade-api/v2/",
    "HTTPS://external-api.kalshi.com.:443/trade-api/v2",
    "https://api.elections.kalshi.com/trade-api/v2",
    "https://API.ELECTIONS.KALSHI.COM.:443/trade-api/v2 ",
    "https://trading-api.kalshi.com/trade-api/v2",
    "http://external-api.kalshi.com/trade-api/v2",
    "https://user@external-api.kalshi.com/trade-api/v2",
    "https://127.0.0.1@external-api.kalshi.com/trade-api/v2",
    "https://localhost.kalshi.com/trade-api/v2",
    "https://external-api.demo.kalshi.co.evil.example/trade-api/v2",
    "https://some-proxy.internal/trade-api/v2",
    "ftp://127.0.0.1/trade-api/v2",
    "external-api.kalshi.com/trade-api/v2",
]
SAFE_SPELLINGS = [
    ("https://external-api.demo.kalshi.co/trade-api/v2", "demo"),
    ("HTTPS://External-API.Demo.Kalshi.Co.:443/trade-api/v2 ", "demo"),
    ("https://demo-api.kalshi.co/trade-api/v2", "demo"),
    ("http://127.0.0.1:8123/trade-api/v2", "local"),
    ("http://localhost:8123", "local"),
    ("http://[::1]:8123/trade-api/v2", "local"),
]


def _demo_env(base_url: str) -> dict[str, str]:
    return {
        "PARLAY_EXECUTION_VENUE": "demo",
        "KALSHI_API_KEY_ID": FAKE_KEY_ID,
        "KALSHI_PRIVATE_KEY_PEM": fake_private_key_pem(),
        "PARLAY_KALSHI_BASE_URL": base_url,
    }


def _order(count: int = 100_000) -> HedgeOrder:
    return HedgeOrder(
        "pmm-guard-1", "KXNBAGAME-26MAR07GSWOKC-OKC", "yes", "buy", count, Decimal("0.50"), Decimal(count), "test"
    )


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(
            201,
            json={
                "order": {
                    "order_id": "o-1",
                    "client_order_id": "pmm-guard-1",
                    "ticker": "KXNBAGAME-26MAR07GSWOKC-OKC",
                    "side": "yes",
                    "action": "buy",
                    "status": "executed",
                    "initial_count": 100000,
                    "fill_count": 100000,
                    "yes_price_dollars": "0.50",
                }
            },
        )


@pytest.mark.parametrize("base_url", PRODUCTION_SPELLINGS)
def test_demo_venue_refuses_every_spelling_of_a_production_host(base_url: str) -> None:
    rec = Recorder()
    assert execution_target(base_url) == "production"
    with pytest.raises(ExecutionConfigError, match="production") as info:
        venue = venue_from_env(environ=_demo_env(base_url), transport=httpx.MockTransport(rec), rate_tier=None)
        venue.submit(_order())  # only reached when the guard let it through
    assert "PRIVATE KEY" not in str(info.value)
    assert rec.requests == []


@pytest.mark.parametrize("base_url", PRODUCTION_SPELLINGS[:11])
def test_production_host_needs_every_opt_in_and_both_limits(base_url: str) -> None:
    rec = Recorder()
    base = _demo_env(base_url) | {"PARLAY_EXECUTION_VENUE": "prod"}
    for missing in (
        {},
        {"PARLAY_ALLOW_PROD_TRADING": "1"},
        {"PARLAY_ALLOW_PROD_TRADING": "1", "PARLAY_PROD_MAX_ORDER_CONTRACTS": "50"},
        {"PARLAY_ALLOW_PROD_TRADING": "1", "PARLAY_PROD_MAX_NOTIONAL": "200"},
        {"PARLAY_PROD_MAX_ORDER_CONTRACTS": "50", "PARLAY_PROD_MAX_NOTIONAL": "200"},
    ):
        with pytest.raises(ExecutionConfigError):
            venue_from_env(environ=base | missing, transport=httpx.MockTransport(rec), rate_tier=None)
    venue = venue_from_env(
        environ=base
        | {
            "PARLAY_ALLOW_PROD_TRADING": "1",
            "PARLAY_PROD_MAX_ORDER_CONTRACTS": "50",
            "PARLAY_PROD_MAX_NOTIONAL": "200",
        },
        transport=httpx.MockTransport(rec),
        rate_tier=None,
    )
    try:
        result = venue.submit(_order(100_000))
        assert result.state == "rejected" and "per-order limit 50" in (result.reason or "")
        assert rec.requests == []
    finally:
        assert isinstance(venue, KalshiVenue)
        venue.client.close()


@pytest.mark.parametrize(("base_url", "target"), SAFE_SPELLINGS)
def test_demo_hosts_and_local_test_urls_stay_on_the_demo_venue(base_url: str, target: str) -> None:
    assert execution_target(base_url) == target
    rec = Recorder()
    venue = venue_from_env(environ=_demo_env(base_url), transport=httpx.MockTransport(rec), rate_tier=None)
    try:
        assert isinstance(venue, KalshiVenue) and venue.name == "demo"
        venue.submit(_order(10))
        assert len(rec.requests) == 1
        host = rec.requests[0].url.host.lower().rstrip(".")
        assert host in ("external-api.demo.kalshi.co", "demo-api.kalshi.co", "127.0.0.1", "localhost", "::1")
    finally:
        venue.client.close()


def test_an_empty_or_unparseable_url_counts_as_production() -> None:
    for url in ("", "   ", "https://", "https://exa mple.com/x", "//external-api.kalshi.com"):
        assert execution_target(url) == "production", url


def test_a_demo_venue_built_by_hand_refuses_a_production_client() -> None:
    from parlay.kalshi.client import KalshiClient

    client = KalshiClient(
        "demo",
        base_url="https://EXTERNAL-API.kalshi.com.:443/trade-api/v2",
        rate_tier=None,
        transport=httpx.MockTransport(Recorder()),
    )
    try:
        with pytest.raises(ExecutionConfigError, match=r"production|not a known demo host"):
            KalshiVenue(client, "demo")
    finally:
        client.close()
