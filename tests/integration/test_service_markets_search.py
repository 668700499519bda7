"""``GET /markets?search=&event_ticker=`` and CORS for configured browser origins only (real Postgres, Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from models.pricing.ensemble import ClusterModel, EnsemblePricer
from models.pricing.ising import InferenceConfig, IsingModel
from models.pricing.quotes import MarketInfo
from models.pricing.replay import LiteralMap, MarketLiterals
from service.settings import ServiceSettings
from tests.integration.test_service_api import drop_prefix, make_service

pytestmark = pytest.mark.integration

EXTENSION = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"

# two games: (event, away, home) and each game's markets (suffix, title, yes side)
GAMES = {
    "KXNBAGAME-26MAR07GSWOKC": ("Golden State", "Oklahoma City"),
    "KXNBAGAME-26MAR07LACMEM": ("Los Angeles C", "Memphis"),
}


def two_game_pricer() -> EnsemblePricer:
    clusters, rows, info = {}, [], {}
    for event, (away, home) in GAMES.items():
        a, h = event[-6:-3], event[-3:]
        title = f"Pro basketball: {a} at {h}"
        tickers = [(f"{event}-{h}", title, home), (f"{event}-{a}", title, away)]
        model = IsingModel(np.array([0.2]), np.zeros((1, 1)), InferenceConfig())
        clusters[event] = ClusterModel(event, ("v0",), model, None)
        rows.append(MarketLiterals(tickers[0][0], event, ((0, True),), ("v0",), tickers[1][0]))
        rows.append(MarketLiterals(tickers[1][0], event, ((0, False),), ("v0",), tickers[0][0]))
        for t, title, yes in tickers:
            info[t] = MarketInfo(t, event, event, title, yes, f"Not {yes}", 0.5, 0.5, "active")
    return EnsemblePricer(clusters, LiteralMap({r.market_ticker: r for r in rows},
                                               {c: m.variables for c, m in clusters.items()}), info, version="games")


@pytest.fixture
def games(fresh_database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    client, key, _, _, prefix = make_service(fresh_database_url, tmp_path, pricer=two_game_pricer())
    with client:
        yield client, {"X-API-Key": key.api_key}
    drop_prefix(prefix)


def tickers(client: TestClient, headers: dict[str, str], **params: str) -> list[str]:
    r = client.get("/markets", params=params, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == len(body["markets"])
    return [m["ticker"] for m in body["markets"]]


def test_markets_search_matches_ticker_title_and_team_in_any_case(games) -> None:
    client, h = games
    assert len(tickers(client, h)) == 4  # no filter: every market
    assert tickers(client, h, search="golden state") == ["KXNBAGAME-26MAR07GSWOKC-GSW"]  # team (yes side)
    assert tickers(client, h, search="MEM pro BASKETBALL") == ["KXNBAGAME-26MAR07LACMEM-LAC",
                                                               "KXNBAGAME-26MAR07LACMEM-MEM"]  # title words
    assert tickers(client, h, search="kxnbagame-26mar07gswokc-okc") == ["KXNBAGAME-26MAR07GSWOKC-OKC"]  # ticker
    assert tickers(client, h, search="  ") == tickers(client, h)  # blank: no filter
    assert tickers(client, h, search="boston") == []


def test_markets_event_filter_in_any_case(games) -> None:
    client, h = games
    assert tickers(client, h, event_ticker="kxnbagame-26mar07gswokc") == ["KXNBAGAME-26MAR07GSWOKC-GSW",
                                                                          "KXNBAGAME-26MAR07GSWOKC-OKC"]
    assert tickers(client, h, event_ticker="KXNBAGAME-26MAR07LACMEM", search="memphis") == [
        "KXNBAGAME-26MAR07LACMEM-MEM"]
    assert tickers(client, h, event_ticker="KXNBAGAME-26MAR07GSWOKC", search="memphis") == []
    assert tickers(client, h, event_ticker="KXNBAGAME-26MAR07GSWOKC-OKC") == []  # a market ticker is no event
    r = client.get("/markets", params={"search": "x" * 201}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    assert client.get("/markets", params={"search": "okc"}).status_code == 401  # still needs a key


def test_cors_headers_only_for_configured_origins(fresh_database_url: str, tmp_path: Path) -> None:
    client, key, _, _, prefix = make_service(fresh_database_url, tmp_path, cors_origins=(EXTENSION,))
    h = {"X-API-Key": key.api_key}
    with client:
        ok = client.get("/markets", params={"search": "synthetic"}, headers={**h, "Origin": EXTENSION})
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == EXTENSION
        pre = client.options("/quotes", headers={"Origin": EXTENSION, "Access-Control-Request-Method": "POST",
                                                 "Access-Control-Request-Headers": "x-api-key,content-type"})
        assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == EXTENSION
        assert "x-api-key" in pre.headers["access-control-allow-headers"].lower()
        refused = client.get("/markets", headers={"Origin": EXTENSION})  # a refusal carries them too
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == EXTENSION
        foreign = "https://evil.example"
        r = client.get("/markets", headers={**h, "Origin": foreign})
        assert r.status_code == 200 and not any(k.startswith("access-control-") for k in r.headers)
        pre = client.options("/quotes", headers={"Origin": foreign, "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in pre.headers
    drop_prefix(prefix)


def test_no_cors_headers_by_default(fresh_database_url: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("PARLAY_SERVICE_CORS_ORIGINS", raising=False)
    assert ServiceSettings.from_env().cors_origins == ()
    client, _, _, _, prefix = make_service(fresh_database_url, tmp_path)
    with client:
        for origin in (EXTENSION, "https://evil.example"):
            r = client.get("/health", headers={"Origin": origin})
            assert not any(k.startswith("access-control-") for k in r.headers), r.headers
            pre = client.options("/quotes", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
            assert "access-control-allow-origin" not in pre.headers
    drop_prefix(prefix)


def test_cors_origins_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("PARLAY_SERVICE_CORS_ORIGINS", f" {EXTENSION}/ , http://127.0.0.1:5173,")
    assert ServiceSettings.from_env().cors_origins == (EXTENSION, "http://127.0.0.1:5173")
    for bad in ("*", "https://a.example/path", "kalshi.com"):
        monkeypatch.setenv("PARLAY_SERVICE_CORS_ORIGINS", bad)
        with pytest.raises(ValueError, match="CORS origin"):
            ServiceSettings.from_env()
