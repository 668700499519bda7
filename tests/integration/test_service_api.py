"""The quote API end to end: real Postgres, real Redis, a synthetic pricer stored with ``save_pricer``."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient

from models.pricing.ensemble import ClusterModel, EnsemblePricer, synthetic_pricer
from models.pricing.ising import InferenceConfig, IsingModel
from models.pricing.quotes import MarketInfo
from models.pricing.replay import LiteralMap, MarketLiterals
from models.risk import RiskConfig
from parlay import apikeys, redis_cache
from parlay.apikeys import CreatedKey, ScryptParams
from service.app import create_app
from service.bench import seed_database
from service.settings import ServiceSettings

pytestmark = pytest.mark.integration

FAST_SCRYPT = ScryptParams(log2_n=10)


def redis_url() -> str:
    target = redis_cache.resolve_redis(os.environ.get("PARLAY_REDIS_URL"))
    if target.url is None:
        pytest.skip(f"no Redis: {target.reason}")
    return target.url


@dataclass
class Svc:
    client: TestClient
    key: CreatedKey
    url: str
    pricer: EnsemblePricer
    settings: ServiceSettings

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key.api_key}

    def tickers(self) -> list[str]:
        return sorted(self.pricer.markets())

    def count(self, table: str) -> int:
        with psycopg.connect(self.url) as conn:
            return int(conn.execute(f"SELECT count(*) FROM ledger.{table}").fetchone()[0])


def make_service(url: str, storage: Path, *, pricer: EnsemblePricer | None = None, rate_per_min: int = 100_000,
                 **settings: object) -> tuple[TestClient, CreatedKey, EnsemblePricer, ServiceSettings, str]:
    pricer = pricer or synthetic_pricer(1, 30, 6.0, seed=1)
    key = seed_database(url, str(storage), pricer, rate_per_min=rate_per_min, scrypt=FAST_SCRYPT)
    prefix = f"parlay-test-{uuid.uuid4().hex[:8]}:"
    values: dict[str, object] = {"database_url": url, "redis_url": redis_url(), "redis_prefix": prefix,
                                 "storage_url": str(storage), "live": False, "start_private_redis": False}
    values.update(settings)
    cfg = ServiceSettings(**values)  # type: ignore[arg-type]
    return TestClient(create_app(cfg), raise_server_exceptions=False), key, pricer, cfg, prefix


def drop_prefix(prefix: str) -> None:
    c = redis_cache.client(redis_url())
    try:
        redis_cache.delete_prefix(c, prefix)
    finally:
        c.close()


@pytest.fixture
def svc(fresh_database_url: str, tmp_path: Path) -> Iterator[Svc]:
    client, key, pricer, cfg, prefix = make_service(fresh_database_url, tmp_path)
    with client:
        yield Svc(client, key, fresh_database_url, pricer, cfg)
    drop_prefix(prefix)


def legs(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"ticker": t, "side": s} for t, s in pairs]


# ----------------------------------------------------------------------------- happy path


def test_quote_bet_and_read_back(svc: Svc) -> None:
    t = svc.tickers()
    r = svc.client.post("/quotes", json={"legs": legs((t[0], "yes"), (t[1], "no"), (t[2], "yes")), "stake": 10},
                        headers=svc.headers)
    assert r.status_code == 201, r.text
    q = r.json()
    assert {"quote_id", "probability", "uncertainty", "margin", "price", "payout", "max_stake",
            "expires_at", "model_version", "members"} <= set(q)
    assert 0 < q["probability"] < 1 and Decimal(q["price"]) > Decimal(str(q["probability"]))
    assert Decimal(q["payout"]) == (Decimal(10) / Decimal(q["price"])).quantize(Decimal("0.01"), "ROUND_FLOOR")
    assert svc.count("quotes") == 1

    bet = {"quote_id": q["quote_id"], "stake": "10.00", "idempotency_key": "order-1"}
    r1 = svc.client.post("/bets", json=bet, headers=svc.headers)
    assert r1.status_code == 201, r1.text
    placed = r1.json()
    assert placed["created"] is True and Decimal(placed["payout"]) == Decimal(q["payout"])
    r2 = svc.client.post("/bets", json=bet, headers=svc.headers)  # a retry
    assert r2.status_code == 200 and r2.json()["bet_id"] == placed["bet_id"] and r2.json()["created"] is False
    assert svc.count("bets") == 1

    got = svc.client.get(f"/bets/{placed['bet_id']}", headers=svc.headers)
    assert got.status_code == 200 and got.json()["state"] == "open"
    assert [leg["ticker"] for leg in got.json()["legs"]] == t[:3]
    # another key cannot read it
    with psycopg.connect(svc.url) as conn:
        other = apikeys.create_api_key(conn, "other", params=FAST_SCRYPT)
    assert svc.client.get(f"/bets/{placed['bet_id']}", headers={"X-API-Key": other.api_key}).status_code == 404
    # the same key reused for a different bet
    r3 = svc.client.post("/bets", json={**bet, "stake": "5"}, headers=svc.headers)
    assert r3.status_code == 409 and r3.json()["code"] == "idempotency_key_reused"
    # the quote's stake is used up
    r4 = svc.client.post("/bets", json={**bet, "idempotency_key": "order-2"}, headers=svc.headers)
    assert r4.status_code == 409 and r4.json()["code"] == "quote_exhausted"
    with psycopg.connect(svc.url) as conn:
        from parlay import ledger

        assert ledger.trial_balance(conn) == 0


def test_markets_health_and_openapi(svc: Svc) -> None:
    r = svc.client.get("/markets", headers=svc.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 30 and body["model_version"].startswith("ensemble@")
    m = body["markets"][0]
    assert {"ticker", "cluster_id", "yes_sub_title", "no_sub_title", "mid", "model_probability"} <= set(m)
    assert svc.client.get("/health").json() == {"status": "ok"}  # no key needed, nothing more
    h = svc.client.get("/health/details", headers=svc.headers)
    assert h.status_code == 200, h.text
    hb = h.json()
    assert hb["status"] == "ok" and hb["database"]["ok"] and hb["redis"]["ok"]
    assert hb["rate_limiting"] == "on" and hb["features_off"] == []
    assert hb["model"]["version"] == body["model_version"] and hb["model"]["age_s"] >= 0
    spec = svc.client.get("/openapi.json")
    assert spec.status_code == 200 and "/quotes" in spec.json()["paths"]
    assert svc.client.get("/docs").status_code == 200


def test_bearer_header_works(svc: Svc) -> None:
    r = svc.client.get("/markets", headers={"Authorization": f"Bearer {svc.key.api_key}"})
    assert r.status_code == 200


# ----------------------------------------------------------------------------- refusals write nothing


def test_bad_quote_requests_are_refused_and_write_nothing(svc: Svc) -> None:
    t = svc.tickers()
    ok = legs((t[0], "yes"), (t[1], "yes"))
    cases = [
        ({"legs": legs(("NOPE-123", "yes"), (t[1], "yes")), "stake": 10}, 422, "unknown_market"),
        ({"legs": legs((t[0], "yes"), (t[0], "yes")), "stake": 10}, 422, "duplicate_legs"),
        ({"legs": legs((t[0], "yes"), (t[0], "no")), "stake": 10}, 422, "conflicting_sides"),
        ({"legs": ok, "stake": 0}, 422, "invalid_stake"),
        ({"legs": ok, "stake": -5}, 422, "invalid_stake"),
        ({"legs": ok, "stake": "10.001"}, 422, "invalid_stake"),
        ({"legs": ok, "stake": "1e12"}, 422, "invalid_stake"),
        ({"legs": ok, "stake": 5000}, 422, "stake_above_max"),
        ({"legs": ok, "stake": "0.5"}, 422, "stake_too_small"),
        ({"legs": legs(*[(x, "yes") for x in t[:11]]), "stake": 10}, 422, "too_many_legs"),
        ({"legs": legs((t[0], "yes")), "stake": 10}, 422, "too_few_legs"),
        ({"legs": [{"ticker": t[0], "side": "maybe"}, {"ticker": t[1], "side": "yes"}], "stake": 10}, 422,
         "invalid_side"),
        ({"legs": ok, "stake": 10, "extra": 1}, 422, "invalid_request"),
        ({"legs": [{"ticker": "bad ticker!", "side": "yes"}, {"ticker": t[1], "side": "yes"}], "stake": 10}, 422,
         "invalid_ticker"),
    ]
    for body, status, code in cases:
        r = svc.client.post("/quotes", json=body, headers=svc.headers)
        assert (r.status_code, r.json().get("code")) == (status, code), (body, r.text)
        assert r.json()["reason"] and r.json()["request_id"]
    r = svc.client.post("/quotes", content=b'{"legs": [', headers={**svc.headers, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "malformed_json"
    r = svc.client.post("/quotes", json={"legs": ok, "stake": 10})
    assert r.status_code == 401 and r.json()["code"] == "missing_api_key"
    r = svc.client.post("/quotes", json={"legs": ok, "stake": 10},
                        headers={"X-API-Key": svc.key.key_id + "." + "A" * 43})
    assert r.status_code == 401 and r.json()["code"] == "invalid_api_key"
    r = svc.client.post("/quotes", json={"legs": ok, "stake": 10}, headers={"X-API-Key": "garbage"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_api_key"
    assert svc.count("quotes") == 0 and svc.count("bets") == 0


def test_bad_bet_requests_are_refused_and_write_nothing(svc: Svc) -> None:
    t = svc.tickers()
    q = svc.client.post("/quotes", json={"legs": legs((t[0], "yes"), (t[1], "yes")), "stake": 10},
                        headers=svc.headers).json()
    cases = [
        ({"quote_id": "q_nope", "stake": 10, "idempotency_key": "a"}, 404, "unknown_quote"),
        ({"quote_id": q["quote_id"], "stake": 11, "idempotency_key": "a"}, 422, "stake_exceeds_quote"),
        ({"quote_id": q["quote_id"], "stake": 0, "idempotency_key": "a"}, 422, "invalid_stake"),
        ({"quote_id": q["quote_id"], "stake": 10, "idempotency_key": ""}, 422, "invalid_idempotency_key"),
        ({"quote_id": q["quote_id"], "stake": 10}, 422, "invalid_idempotency_key"),  # missing
    ]
    for body, status, code in cases:
        r = svc.client.post("/bets", json=body, headers=svc.headers)
        assert (r.status_code, r.json().get("code")) == (status, code), (body, r.text)
    assert svc.client.get("/bets/bet_nope", headers=svc.headers).json()["code"] == "unknown_bet"
    with psycopg.connect(svc.url) as conn:  # expire the quote
        conn.execute("UPDATE ledger.quotes SET expires_at = now() - interval '1 second'")
    r = svc.client.post("/bets", json={"quote_id": q["quote_id"], "stake": 10, "idempotency_key": "late"},
                        headers=svc.headers)
    assert r.status_code == 410 and r.json()["code"] == "quote_expired"
    assert svc.count("bets") == 0 and svc.count("quotes") == 1


def test_impossible_combo_and_closed_market(fresh_database_url: str, tmp_path: Path) -> None:
    # one cluster: HOME wins (v0), AWAY = not v0 (the complement), OVER (v1), and a closed market (v2)
    model = IsingModel(np.array([0.1, -0.2, 0.0]), np.zeros((3, 3)), InferenceConfig())
    cm = ClusterModel("G1", ("v0", "v1", "v2"), model, None)
    rows = [MarketLiterals("G1-HOME", "G1", ((0, True),), ("v0",), "G1-AWAY"),
            MarketLiterals("G1-AWAY", "G1", ((0, False),), ("v0",), "G1-HOME"),
            MarketLiterals("G1-OVER", "G1", ((1, True),), ("v1",)),
            MarketLiterals("G1-SHUT", "G1", ((2, True),), ("v2",))]
    info = {r.market_ticker: MarketInfo(r.market_ticker, "G1", "G1", r.market_ticker, "Yes", "No", 0.5, 0.5,
                                        "closed" if r.market_ticker == "G1-SHUT" else "active") for r in rows}
    pricer = EnsemblePricer({"G1": cm}, LiteralMap({r.market_ticker: r for r in rows}, {"G1": cm.variables}), info,
                            version="g1")
    client, key, _, _, prefix = make_service(fresh_database_url, tmp_path, pricer=pricer)
    h = {"X-API-Key": key.api_key}
    with client:
        r = client.post("/quotes", json={"legs": legs(("G1-HOME", "yes"), ("G1-AWAY", "yes")), "stake": 10},
                        headers=h)
        assert r.status_code == 422 and r.json()["code"] == "impossible_combo", r.text
        r = client.post("/quotes", json={"legs": legs(("G1-HOME", "yes"), ("G1-SHUT", "yes")), "stake": 10},
                        headers=h)
        assert r.status_code == 409 and r.json()["code"] == "market_closed", r.text
        r = client.post("/quotes", json={"legs": legs(("G1-HOME", "yes"), ("G1-OVER", "no")), "stake": 10},
                        headers=h)
        assert r.status_code == 201, r.text
    drop_prefix(prefix)
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM ledger.quotes").fetchone()[0] == 1


def test_limit_breach_names_the_rule(fresh_database_url: str, tmp_path: Path) -> None:
    risk = RiskConfig(max_market_exposure=Decimal(30))
    client, key, pricer, _, prefix = make_service(fresh_database_url, tmp_path, risk=risk)
    t = sorted(pricer.markets())
    with client:
        r = client.post("/quotes", json={"legs": legs((t[0], "yes"), (t[1], "yes")), "stake": 100},
                        headers={"X-API-Key": key.api_key})
    drop_prefix(prefix)
    assert r.status_code == 409 and r.json()["code"] == "market_exposure_limit", r.text
    assert r.json()["details"]["rule"] == "market_exposure_limit" and Decimal(r.json()["details"]["max_stake"]) < 100


def test_rate_limit_returns_429_with_retry_after(fresh_database_url: str, tmp_path: Path) -> None:
    client, key, pricer, _, prefix = make_service(fresh_database_url, tmp_path, rate_per_min=6)  # burst: 1
    t = sorted(pricer.markets())
    body = {"legs": legs((t[0], "yes"), (t[1], "yes")), "stake": 10}
    with client:
        first = client.post("/quotes", json=body, headers={"X-API-Key": key.api_key})
        second = client.post("/quotes", json=body, headers={"X-API-Key": key.api_key})
    drop_prefix(prefix)
    assert first.status_code == 201
    assert second.status_code == 429 and second.json()["code"] == "rate_limited"
    assert 1 <= int(second.headers["Retry-After"]) <= 10
    with psycopg.connect(fresh_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM ledger.quotes").fetchone()[0] == 1


def test_stale_model_is_503_with_what_to_do(fresh_database_url: str, tmp_path: Path) -> None:
    client, key, pricer, _, prefix = make_service(fresh_database_url, tmp_path, live=True, max_model_age_s=0.0)
    t = sorted(pricer.markets())
    with client:
        r = client.post("/quotes", json={"legs": legs((t[0], "yes"), (t[1], "yes")), "stake": 10},
                        headers={"X-API-Key": key.api_key})
    drop_prefix(prefix)
    assert r.status_code == 503 and r.json()["code"] == "stale_model" and "parlay run" in r.json()["reason"]


def test_stale_market_data_is_503(fresh_database_url: str, tmp_path: Path) -> None:
    client, key, pricer, _, prefix = make_service(fresh_database_url, tmp_path, live=True)
    t = sorted(pricer.markets())
    with client:
        r = client.post("/quotes", json={"legs": legs((t[0], "yes"), (t[1], "yes")), "stake": 10},
                        headers={"X-API-Key": key.api_key})
    drop_prefix(prefix)
    assert r.status_code == 503 and r.json()["code"] == "stale_market_data", r.text


def test_no_models_is_503_with_the_loader_message(fresh_database_url: str, tmp_path: Path) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        key = apikeys.create_api_key(conn, "k", params=FAST_SCRYPT)
    cfg = ServiceSettings(database_url=fresh_database_url, redis_url=redis_url(), storage_url=str(tmp_path),
                          redis_prefix=f"parlay-test-{uuid.uuid4().hex[:8]}:")
    with TestClient(create_app(cfg)) as client:
        r = client.post("/quotes", json={"legs": legs(("A-1", "yes"), ("B-1", "yes")), "stake": 10},
                        headers={"X-API-Key": key.api_key})
        health = client.get("/health/details", headers={"X-API-Key": key.api_key}).json()
    drop_prefix(cfg.redis_prefix)
    assert r.status_code == 503 and r.json()["code"] == "pricer_unavailable" and "parlay run" in r.json()["reason"]
    assert health["status"] == "degraded" and health["model"]["loaded"] is False

