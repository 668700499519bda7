"""The quote API under concurrency and degraded dependencies, over real HTTP (uvicorn in a thread)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from models.pricing.ensemble import synthetic_pricer
from models.risk import RiskConfig
from parlay import apikeys, ledger
from parlay.pricing_store import save_pricer
from service.app import create_app
from service.server import serve_in_thread
from tests.integration.test_service_api import drop_prefix, legs, make_service

pytestmark = pytest.mark.integration


def test_200_concurrent_bets_never_exceed_the_limit(fresh_database_url: str, tmp_path: Path) -> None:
    limit = Decimal(1000)
    risk = RiskConfig(max_market_exposure=limit)
    client, key, pricer, _, prefix = make_service(fresh_database_url, tmp_path, risk=risk, db_pool_size=20)
    t = sorted(pricer.markets())
    headers = {"X-API-Key": key.api_key}
    body = {"legs": legs((t[0], "yes"), (t[1], "yes")), "stake": "10"}
    with serve_in_thread(client.app) as base:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            quotes, refused_quotes = [], Counter()
            for _ in range(200):  # open quotes reserve the limit: once it is reserved, quotes are refused
                r = c.post("/quotes", json=body)
                if r.status_code == 201:
                    quotes.append(r.json()["quote_id"])
                else:
                    refused_quotes[r.json()["code"]] += 1
        assert quotes and set(refused_quotes) == {"market_exposure_limit"}, refused_quotes
        local = threading.local()

        def place(i: int) -> tuple[int, dict]:
            if not hasattr(local, "c"):
                local.c = httpx.Client(base_url=base, headers=headers, timeout=60)
            q = quotes[i % len(quotes)]  # several bets race for each quote: one takes it, the rest are refused
            r = local.c.post("/bets", json={"quote_id": q, "stake": "10", "idempotency_key": f"k{i % 200}"})
            return r.status_code, r.json()

        # 200 bets plus 20 retries of the first 20 (same idempotency keys), all racing
        with ThreadPoolExecutor(max_workers=50) as pool:
            results = list(pool.map(place, [*range(200), *range(20)], timeout=300))
    drop_prefix(prefix)
    statuses = Counter(s for s, _ in results)
    placed = {b["bet_id"]: Decimal(b["payout"]) for s, b in results if s in (200, 201)}
    rejected = Counter(b["code"] for s, b in results if s not in (200, 201))
    with psycopg.connect(fresh_database_url) as conn:
        exposure = conn.execute("SELECT coalesce(sum(payout), 0) FROM ledger.bets").fetchone()[0]
        n_bets = conn.execute("SELECT count(*) FROM ledger.bets").fetchone()[0]
        balance = ledger.trial_balance(conn)
        unbalanced = ledger.unbalanced_transactions(conn)
    figures = (f"accepted {n_bets} bets, rejected {sum(rejected.values())} {dict(rejected)}, statuses "
               f"{dict(statuses)}; exposure {exposure} vs limit {limit}; trial balance {balance}")
    print(figures)
    assert exposure <= limit, figures
    assert n_bets == len(placed) > 0, figures
    assert n_bets == len(quotes) and set(rejected) == {"quote_exhausted"}, figures  # every quote was taken once
    assert exposure > limit - max(placed.values()), figures  # the limit was actually used up
    assert balance == 0 and unbalanced == [], figures


def test_secrets_never_reach_logs_or_responses(fresh_database_url: str, tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pem_secret = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC" + uuid.uuid4().hex
    monkeypatch.setenv("KALSHI_API_KEY_ID", "kalshi-key-id-" + uuid.uuid4().hex[:6])
    pem = f"-----BEGIN PRIVATE KEY-----\n{pem_secret}\n-----END PRIVATE KEY-----"
    monkeypatch.setenv("KALSHI_PRIVATE_KEY_PEM", pem)
    caplog.set_level(logging.DEBUG)
    client, key, pricer, _, prefix = make_service(fresh_database_url, tmp_path, rate_per_min=6)
    secret = key.api_key.split(".", 1)[1]
    t = sorted(pricer.markets())
    bodies: list[str] = []
    with client:
        h = {"X-API-Key": key.api_key}
        for r in (
            client.get("/health"),
            client.post("/quotes", json={"legs": legs((t[0], "yes"), (t[1], "no")), "stake": 10}, headers=h),
            client.post("/quotes", json={"legs": legs((t[0], "yes"), (t[1], "no")), "stake": 10}, headers=h),  # 429
            client.post("/quotes", json={"legs": [], "stake": 10, "api_key": key.api_key}, headers=h),
            client.post("/quotes", json={"legs": legs((t[0], "yes")), "stake": 10},
                        headers={"X-API-Key": key.key_id + "." + secret[::-1]}),
            client.post("/quotes", content=key.api_key.encode(), headers={**h, "Content-Type": "application/json"}),
            client.get("/markets", headers={"Authorization": f"Bearer {key.api_key}"}),
            client.get("/openapi.json"),
        ):
            bodies.append(r.text + " " + " ".join(f"{k}: {v}" for k, v in r.headers.items()))
    drop_prefix(prefix)
    out = capsys.readouterr()
    captured = caplog.text + out.out + out.err + "\n".join(bodies)
    assert any("rate_limited" in b for b in bodies)
    assert secret not in captured and key.api_key not in captured
    assert pem_secret not in captured


def test_without_redis_rate_limiting_is_off_and_health_says_so(fresh_database_url: str, tmp_path: Path) -> None:
    client, key, pricer, _, _ = make_service(fresh_database_url, tmp_path, rate_per_min=6, redis_enabled=False)
    t = sorted(pricer.markets())
    with client:
        health = client.get("/health/details", headers={"X-API-Key": key.api_key}).json()
        codes = [client.post("/quotes", json={"legs": legs((t[0], "yes"), (t[1], "yes")), "stake": 10},
                             headers={"X-API-Key": key.api_key}).status_code for _ in range(4)]
    assert health["rate_limiting"] == "off" and "rate_limiting" in health["features_off"]
    assert health["redis"]["mode"] == "off" and health["status"] == "ok"
    assert codes == [201] * 4  # a 6/min key would be limited after one request with Redis


def test_redis_down_refuses_keyed_requests_with_503(fresh_database_url: str, tmp_path: Path) -> None:
    client, key, pricer, _, _ = make_service(fresh_database_url, tmp_path, redis_url="redis://127.0.0.1:1/0")
    t = sorted(pricer.markets())
    with client:
        public = client.get("/health")
        health = client.get("/health/details", headers={"X-API-Key": key.api_key})
        r = client.post("/quotes", json={"legs": legs((t[0], "yes"), (t[1], "yes")), "stake": 10},
                        headers={"X-API-Key": key.api_key})
    assert public.status_code == 200 and public.json() == {"status": "degraded"}
    assert health.status_code == 200 and health.json()["status"] == "degraded" and not health.json()["redis"]["ok"]
    assert r.status_code == 503 and r.json()["code"] == "rate_limiter_unavailable" and "Retry-After" in r.headers


def test_newer_ensemble_is_picked_up(fresh_database_url: str, tmp_path: Path) -> None:
    client, key, _, _, prefix = make_service(fresh_database_url, tmp_path, pricer_refresh_s=0.2)
    h = {"X-API-Key": key.api_key}
    with client:
        first = client.get("/markets", headers=h).json()
        newer = synthetic_pricer(1, 40, 5.0, seed=9)
        with psycopg.connect(fresh_database_url) as conn:
            save_pricer(conn, str(tmp_path), date.today(), newer)
        deadline = time.monotonic() + 15
        now = first
        while time.monotonic() < deadline and now["model_version"] == first["model_version"]:
            time.sleep(0.2)
            now = client.get("/markets", headers=h).json()
    drop_prefix(prefix)
    assert now["model_version"] != first["model_version"] and now["count"] == 40 and first["count"] == 30


def test_revoked_key_stops_working(fresh_database_url: str, tmp_path: Path) -> None:
    client, key, _, _, prefix = make_service(fresh_database_url, tmp_path, auth_cache_ttl_s=0.0)
    with client:
        assert client.get("/markets", headers={"X-API-Key": key.api_key}).status_code == 200
        with psycopg.connect(fresh_database_url) as conn:
            assert apikeys.revoke(conn, key.key_id)
        r = client.get("/markets", headers={"X-API-Key": key.api_key})
    drop_prefix(prefix)
    assert r.status_code == 401 and r.json()["code"] == "invalid_api_key"


def test_database_down_is_503(tmp_path: Path) -> None:
    from service.settings import ServiceSettings

    cfg = ServiceSettings(database_url="postgresql://postgres@127.0.0.1:1/nope", redis_enabled=False,
                          db_timeout_s=1.0)
    with TestClient(create_app(cfg), raise_server_exceptions=False) as client:
        health = client.get("/health")
        r = client.get("/markets", headers={"X-API-Key": "pk_000000000000." + "A" * 43})
    assert health.status_code == 503 and health.json()["status"] == "down"
    assert r.status_code == 503 and r.json()["code"] == "database_unavailable"
