"""The quote API's documentation works offline: Swagger UI from the service itself, an Authorize button for
``X-API-Key``, and a human summary on every route."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import ServiceSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def client(fresh_database_url: str, tmp_path: Path) -> TestClient:
    cfg = ServiceSettings(database_url=fresh_database_url, storage_url=str(tmp_path), live=False,
                          redis_enabled=False, start_private_redis=False)
    return TestClient(create_app(cfg), raise_server_exceptions=False)


def test_docs_page_loads_every_asset_from_the_service(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert urls, page.text
    outside = [u for u in urls if u.startswith(("http:", "https:", "//"))]
    assert not outside, f"/docs loads from outside the service (blank offline): {outside}"
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts and all(client.get(u).status_code == 200 and len(client.get(u).content) > 100_000
                           for u in scripts), scripts


def test_api_key_is_a_security_scheme_with_an_authorize_button(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemes = spec.get("components", {}).get("securitySchemes", {})
    header = [s for s in schemes.values() if s.get("type") == "apiKey" and s.get("in") == "header"]
    assert header and header[0]["name"] == "X-API-Key", schemes
    for path in ("/quotes", "/bets", "/bets/{bet_id}", "/markets"):
        for op in spec["paths"][path].values():
            assert op.get("security"), (path, op.get("summary"))
    assert not spec["paths"]["/health"]["get"].get("security")  # no key needed there
    params = [p["name"] for op in spec["paths"]["/quotes"].values() for p in op.get("parameters", [])]
    assert "X-API-Key" not in params  # not a plain header parameter any more


def test_every_route_has_a_human_summary(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            summary = op.get("summary", "")  # FastAPI's default is the function name: "Post Quote"
            assert summary and not re.fullmatch(r"(Get|Post|Put|Delete|Health)( [A-Z]\w*)*", summary), (method, path,
                                                                                                     summary)
