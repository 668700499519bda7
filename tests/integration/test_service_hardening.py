"""The quote API against hostile input and attack patterns: real Postgres, real Redis, real HTTP where the
transport matters (uvicorn in a thread)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_service_api import Svc, drop_prefix, legs, make_service

pytestmark = pytest.mark.integration


@pytest.fixture
def svc(fresh_database_url: str, tmp_path: Path) -> Iterator[Svc]:
    client, key, pricer, cfg, prefix = make_service(fresh_database_url, tmp_path)
    with client:
        yield Svc(client, key, fresh_database_url, pricer, cfg)
    drop_prefix(prefix)


# ----------------------------------------------------------------------------- lenient input


def test_non_ascii_tickers_are_refused_not_upper_cased(svc: Svc) -> None:
    t = svc.tickers()
    target = t[0]
    # spellings that upper-case onto a real ticker: ſ → S, ı → I; and other look-alikes
    spoofs = [
        target.lower().replace("s", "\u017f").replace("i", "\u0131"),
        "\u017f" + target[1:],
        "\u0131" + target[1:],
        "\u212a" + target[1:],
        "\uff21" + target[1:],
        "\ufeff" + target,
    ]
    assert any(s.upper() == target or s.upper() == target.upper() for s in spoofs)
    for spoofed in spoofs:
        r = svc.client.post(
            "/quotes", json={"legs": legs((spoofed, "yes"), (t[-1], "yes")), "stake": 10}, headers=svc.headers
        )
        assert (r.status_code, r.json()["code"]) == (422, "invalid_ticker"), (spoofed, r.text)
    assert svc.count("quotes") == 0
    r = svc.client.post(
        "/quotes", json={"legs": legs((target.lower(), "yes"), (t[-1], "yes")), "stake": 10}, headers=svc.headers
    )
    assert r.status_code == 201, r.text  # ASCII lower case is still fine


BAD_STAKES = [
    "1_0",
    "1_000",
    " 10",
    "10 ",
    "+10",
    "1e1",
    "10.",
    ".5",
    "0x10",
    "\uff11\uff10",
    "\u0661\u0660",
    "10\n",
    "Infinity",
    "NaN",
    "--10",
    "",
    True,
]


def test_stake_strings_follow_a_strict_decimal_grammar(svc: Svc) -> None:
    t = svc.tickers()
    for stake in BAD_STAKES:
        r = svc.client.post(
            "/quotes", json={"legs": legs((t[0], "yes"), (t[1], "yes")), "stake": stake}, headers=svc.headers
        )
        assert (r.status_code, r.json()["code"]) == (422, "invalid_stake"), (stake, r.text)
    assert svc.count("quotes") == 0
    for stake in (10, 10.5, "10", "10.25", "0010.00"):
        r = svc.client.post(
            "/quotes", json={"legs": legs((t[0], "yes"), (t[1], "yes")), "stake": stake}, headers=svc.headers
        )
        assert r.status_code == 201, (stake, r.text)


def test_whitespace_only_idempotency_key_is_refused(svc: Svc) -> None:
    t = svc.tickers()
    q = svc.client.post(
        "/quotes", json={"legs": legs((t[0], "yes"), (t[1], "yes")), "stake": 10}, headers=svc.headers
    ).json()
    for key in (" ", "   ", "\t", "\u3000", " \u00a0 ", "\u2003"):
        r = svc.client.post(
            "/bets", json={"quote_id": q["quote_id"], "stake": 10, "idempotency_key": key}, headers=svc.headers
        )
        assert (r.status_code, r.json()["code"]) == (422, "invalid_idempotency_key"), (key, r.text)
    r = svc.client.post(
        "/bets", json={"quote_id": q["quote_id"], "stake": "1_0", "idempotency_key": "k1"}, headers=svc.headers
    )
    assert (r.status_code, r.json()["code"]) == (422, "invalid_stake"), r.text
    assert svc.count("bets") == 0


def test_a_leading_bom_is_refused(svc: Svc) -> None:
    t = svc.tickers()
    body = json.dumps({"legs": legs((t[0], "yes"), (t[1], "yes")), "stake": 10}).encode()
    for prefix in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        r = svc.client.post(
            "/quotes", content=prefix + body, headers={**svc.headers, "Content-Type": "application/json"}
        )
        assert (r.status_code, r.json()["code"]) == (400, "malformed_json"), r.text
    assert svc.count("quotes") == 0
    r = svc.client.post("/quotes", content=body, headers={**svc.headers, "Content-Type": "application/json"})
    assert r.status_code == 201, r.text
