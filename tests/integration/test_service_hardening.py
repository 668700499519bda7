"""The quote API against hostile input and attack patterns: real Postgres, real Redis, real HTTP where the
transport matters (uvicorn in a thread)."""

from __future__ import annotations

import io
import json
import logging
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from parlay import apikeys
from service.server import serve_in_thread
from tests.integration.test_service_api import FAST_SCRYPT, Svc, drop_prefix, legs, make_service

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


# ----------------------------------------------------------------------------- key lifecycle


def test_a_revoked_key_stops_working_at_once(fresh_database_url: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from parlay.cli import app as cli

    client, key, _, cfg, prefix = make_service(fresh_database_url, tmp_path)
    assert cfg.auth_cache_ttl_s >= 5  # the verification cache is on
    with client:
        h = {"X-API-Key": key.api_key}
        assert client.get("/markets", headers=h).status_code == 200
        assert client.get("/markets", headers=h).status_code == 200  # now from the cache
        result = CliRunner().invoke(cli, ["api-key", "revoke", key.key_id, "--database-url", fresh_database_url])
        assert result.exit_code == 0, result.output
        r = client.get("/markets", headers=h)
        assert (r.status_code, r.json()["code"]) == (401, "invalid_api_key"), r.text
    drop_prefix(prefix)


def test_api_key_list_and_revoke_commands(fresh_database_url: str) -> None:
    from typer.testing import CliRunner

    from parlay.cli import app as cli

    runner = CliRunner()
    db = ["--database-url", fresh_database_url]
    made = [
        json.loads(runner.invoke(cli, ["api-key", "create", "--name", n, *db]).stdout.strip().splitlines()[-1])
        for n in ("alpha", "beta")
    ]
    listed = runner.invoke(cli, ["api-key", "list", *db])
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.strip().splitlines()]
    assert [r["key_id"] for r in rows] == [m["key_id"] for m in made]
    assert all(r["revoked_at"] is None and r["name"] in ("alpha", "beta") for r in rows)
    for m in made:  # neither the secret nor its hash is ever listed
        assert m["api_key"].split(".", 1)[1] not in listed.output and "scrypt$" not in listed.output
    revoked = runner.invoke(cli, ["api-key", "revoke", made[0]["key_id"], *db])
    assert revoked.exit_code == 0, revoked.output
    again = runner.invoke(cli, ["api-key", "revoke", made[0]["key_id"], *db])
    assert again.exit_code != 0 and "already revoked" in again.output
    unknown = runner.invoke(cli, ["api-key", "revoke", "pk_000000000000", *db])
    assert unknown.exit_code != 0 and "no key pk_000000000000" in unknown.output
    rows = [json.loads(line) for line in runner.invoke(cli, ["api-key", "list", *db]).stdout.strip().splitlines()]
    assert [r["revoked_at"] is not None for r in rows] == [True, False]
    active = runner.invoke(cli, ["api-key", "list", "--active", *db]).stdout.strip().splitlines()
    assert [json.loads(line)["key_id"] for line in active] == [made[1]["key_id"]]


def test_two_api_key_headers_are_refused(svc: Svc) -> None:
    with psycopg.connect(svc.url) as conn:
        other = apikeys.create_api_key(conn, "other", params=FAST_SCRYPT)
    for pairs in (
        [("X-API-Key", svc.key.api_key), ("X-API-Key", other.api_key)],
        [("X-API-Key", svc.key.api_key), ("X-API-Key", svc.key.api_key)],
        [("X-API-Key", svc.key.api_key), ("X-API-Key", "garbage")],
        [("Authorization", f"Bearer {svc.key.api_key}"), ("Authorization", f"Bearer {other.api_key}")],
        [("X-API-Key", svc.key.api_key), ("Authorization", f"Bearer {other.api_key}")],
    ):
        r = svc.client.get("/markets", headers=httpx.Headers(pairs))
        assert (r.status_code, r.json()["code"]) == (401, "invalid_api_key"), (pairs, r.text)
    assert svc.client.get("/markets", headers=svc.headers).status_code == 200


def test_access_log_redacts_secrets_wherever_they_appear(fresh_database_url: str, tmp_path: Path) -> None:
    client, key, _, _, prefix = make_service(fresh_database_url, tmp_path)
    secret = key.api_key.split(".", 1)[1]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access = logging.getLogger("uvicorn.access")
    try:
        with serve_in_thread(client.app, access_log=True) as base:
            access.addHandler(handler)
            with httpx.Client(base_url=base, timeout=30) as c:
                for path in (
                    f"/markets?api_key={key.api_key}",
                    f"/markets?key={secret}&x=1",
                    f"/markets?token={key.api_key.replace('.', '%2E')}",
                    f"/bets/{key.api_key}",
                    f"/health?X-API-Key={key.api_key}",
                    f"/markets?search=a&apikey={key.api_key}",
                ):
                    c.get(path)
    finally:
        access.removeHandler(handler)
        drop_prefix(prefix)
    logged = stream.getvalue()
    assert logged.count("\n") >= 6, logged
    assert secret not in logged and secret[:20] not in logged, logged
    assert key.key_id in logged and "redacted" in logged  # the public id stays for tracing


# ----------------------------------------------------------------------------- failed authentication


class CountingScrypt:
    """Counts every scrypt computation of the key checks."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = apikeys._scrypt

        def counted(*args: object, **kwargs: object) -> bytes:
            self.calls += 1
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(apikeys, "_scrypt", counted)


def test_failed_authentication_is_throttled_per_key_before_any_hashing(
    fresh_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, key, _, cfg, prefix = make_service(fresh_database_url, tmp_path)
    scrypt = CountingScrypt(monkeypatch)
    limit = getattr(cfg, "auth_max_failures_per_key", 10)
    assert 1 <= limit <= 20
    wrong = {"X-API-Key": key.key_id + "." + "A" * 43}
    with client:
        codes = [client.get("/markets", headers=wrong).status_code for _ in range(limit)]
        assert codes == [401] * limit and scrypt.calls == limit
        hashed = scrypt.calls
        throttled = [client.get("/markets", headers=wrong) for _ in range(20)]
        assert {r.status_code for r in throttled} == {429}, throttled[0].text
        assert throttled[0].json()["code"] == "rate_limited" and int(throttled[0].headers["Retry-After"]) >= 1
        assert scrypt.calls == hashed, "a throttled request still ran scrypt"
        # the right secret is throttled too while the key is locked (no hashing at all) ...
        r = client.get("/markets", headers={"X-API-Key": key.api_key})
        assert r.status_code == 429 and scrypt.calls == hashed
    drop_prefix(prefix)


def test_failed_authentication_is_throttled_per_client_address(
    fresh_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _key, _, cfg, prefix = make_service(fresh_database_url, tmp_path)
    scrypt = CountingScrypt(monkeypatch)
    limit = getattr(cfg, "auth_max_failures_per_client", 30)
    assert 1 <= limit <= 100
    with client:
        # a different made-up key id every time: only the address ties them together
        codes = [
            client.get("/markets", headers={"X-API-Key": f"pk_{i:012x}." + "B" * 43}).status_code for i in range(limit)
        ]
        assert codes == [401] * limit
        hashed = scrypt.calls
        r = client.get("/markets", headers={"X-API-Key": f"pk_{limit + 1:012x}." + "B" * 43})
        assert (r.status_code, r.json()["code"]) == (429, "rate_limited"), r.text
        assert scrypt.calls == hashed
        # malformed keys count against the address as well
        r = client.get("/markets", headers={"X-API-Key": "garbage"})
        assert r.status_code == 429
    drop_prefix(prefix)


def test_unknown_and_revoked_key_ids_cost_a_hash_like_real_ones(
    fresh_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, key, _, _, prefix = make_service(fresh_database_url, tmp_path)
    with psycopg.connect(fresh_database_url) as conn:
        revoked = apikeys.create_api_key(conn, "old", params=FAST_SCRYPT)
        apikeys.revoke(conn, revoked.key_id)
    scrypt = CountingScrypt(monkeypatch)
    with client:
        r = client.get("/markets", headers={"X-API-Key": "pk_0123456789ab." + "C" * 43})
        assert r.status_code == 401 and scrypt.calls == 1, "an unknown key id is rejected without a hash"
        r = client.get("/markets", headers={"X-API-Key": revoked.api_key})
        assert r.status_code == 401 and scrypt.calls == 2, "a revoked key is rejected without a hash"
        r = client.get("/markets", headers={"X-API-Key": key.key_id + "." + "D" * 43})
        assert r.status_code == 401 and scrypt.calls == 3
        # a successful verification is cached briefly: the second request hashes nothing
        assert client.get("/markets", headers={"X-API-Key": key.api_key}).status_code == 200
        assert scrypt.calls == 4
        assert client.get("/markets", headers={"X-API-Key": key.api_key}).status_code == 200
        assert scrypt.calls == 4
    drop_prefix(prefix)


# ----------------------------------------------------------------------------- health


def test_public_health_is_minimal_and_rate_limited(svc: Svc) -> None:
    r = svc.client.get("/health")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok"}
    db = psycopg.conninfo.conninfo_to_dict(svc.url)
    for internal in (str(db["dbname"]), "postgres", "127.0.0.1", "5432", "6379", "redis", "ensemble@", "version"):
        assert internal not in r.text, (internal, r.text)
    answers = [svc.client.get("/health") for _ in range(80)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, "80 health checks in a row were all answered"
    assert limited[0].json()["code"] == "rate_limited" and int(limited[0].headers["Retry-After"]) >= 1
    assert svc.client.get("/markets", headers=svc.headers).status_code == 200  # keyed routes are unaffected


def test_health_details_need_a_key(svc: Svc) -> None:
    r = svc.client.get("/health/details")
    assert (r.status_code, r.json()["code"]) == (401, "missing_api_key")
    r = svc.client.get("/health/details", headers=svc.headers)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["status"] == "ok" and d["database"]["ok"] and d["redis"]["ok"] and d["rate_limiting"] == "on"
    assert d["model"]["loaded"] and d["model"]["version"].startswith("ensemble@")
    spec = svc.client.get("/openapi.json").json()
    assert spec["paths"]["/health/details"]["get"].get("security")


# ----------------------------------------------------------------------------- a database that does not answer


class TableLock:
    """Another session holding ``tables`` in ACCESS EXCLUSIVE mode: every statement touching them blocks."""

    def __init__(self, url: str, *tables: str) -> None:
        self.conn = psycopg.connect(url)
        self.conn.execute("SELECT 1")
        for t in tables:
            self.conn.execute(f"LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE")

    def __enter__(self) -> TableLock:
        return self

    def __exit__(self, *_: object) -> None:
        self.conn.rollback()
        self.conn.close()


def _timed(c: httpx.Client, method: str, path: str, **kw: object) -> tuple[float, httpx.Response | None]:
    t0 = time.monotonic()
    try:
        r = c.request(method, path, **kw)  # type: ignore[arg-type]
    except httpx.TimeoutException:
        r = None
    return time.monotonic() - t0, r


def test_blocked_database_answers_503_within_the_bound(fresh_database_url: str, tmp_path: Path) -> None:
    client, key, pricer, cfg, prefix = make_service(fresh_database_url, tmp_path)
    bound = getattr(cfg, "quote_timeout_s", 2.0)
    assert bound <= 2.0
    t = sorted(pricer.markets())
    body = {"legs": legs((t[0], "yes"), (t[1], "yes")), "stake": 10}
    h = {"X-API-Key": key.api_key}
    slack = 1.5  # a loaded test machine
    try:
        with serve_in_thread(client.app) as base, httpx.Client(base_url=base, headers=h, timeout=15) as c:
            assert c.post("/quotes", json=body).status_code == 201  # warm: pricer, risk state, key cached
            with TableLock(fresh_database_url, "ledger.quotes"):
                took, r = _timed(c, "POST", "/quotes", json=body)
            assert r is not None, f"no answer in {took:.1f} s"
            assert (r.status_code, r.json()["code"]) == (503, "database_unavailable"), r.text
            assert took <= bound + slack, f"{took:.2f} s"
            with TableLock(fresh_database_url, "ledger.api_keys", "ledger.quotes"):
                results = [
                    _timed(c, m, p, **kw)
                    for m, p, kw in (
                        ("POST", "/quotes", {"json": body}),
                        ("GET", "/markets", {}),
                        ("GET", "/health/details", {}),
                        ("GET", "/bets/bet_nope", {}),
                    )
                ]
            for took, r in results:
                assert r is not None and r.status_code == 503 and r.json()["code"] == "database_unavailable", r
                assert took <= bound + slack, f"{took:.2f} s"
            assert c.post("/quotes", json=body).status_code == 201  # and it recovers
    finally:
        drop_prefix(prefix)


def test_statement_timeout_cancels_a_blocked_statement(fresh_database_url: str, tmp_path: Path) -> None:
    client, key, pricer, _, prefix = make_service(
        fresh_database_url, tmp_path, db_statement_timeout_s=0.5, quote_timeout_s=30.0
    )
    t = sorted(pricer.markets())
    body = {"legs": legs((t[0], "yes"), (t[1], "yes")), "stake": 10}
    try:
        with (
            serve_in_thread(client.app) as base,
            httpx.Client(base_url=base, headers={"X-API-Key": key.api_key}, timeout=15) as c,
        ):
            assert c.post("/quotes", json=body).status_code == 201
            with TableLock(fresh_database_url, "ledger.quotes"):
                took, r = _timed(c, "POST", "/quotes", json=body)
            assert r is not None and (r.status_code, r.json()["code"]) == (503, "database_unavailable"), r
            assert took < 5.0, f"{took:.2f} s"
    finally:
        drop_prefix(prefix)


def test_pool_acquisition_is_bounded(fresh_database_url: str, tmp_path: Path) -> None:
    client, key, pricer, _, prefix = make_service(
        fresh_database_url,
        tmp_path,
        db_pool_size=1,
        db_timeout_s=0.5,
        db_statement_timeout_s=30.0,
        quote_timeout_s=30.0,
    )
    t = sorted(pricer.markets())
    body = {"legs": legs((t[0], "yes"), (t[1], "yes")), "stake": 10}
    try:
        with (
            serve_in_thread(client.app) as base,
            httpx.Client(base_url=base, headers={"X-API-Key": key.api_key}, timeout=15) as c,
            ThreadPoolExecutor(1) as pool,
        ):
            assert c.post("/quotes", json=body).status_code == 201
            with TableLock(fresh_database_url, "ledger.quotes"):
                stuck = pool.submit(
                    _timed,
                    httpx.Client(base_url=base, headers={"X-API-Key": key.api_key}, timeout=15),
                    "POST",
                    "/quotes",
                    json=body,
                )
                time.sleep(1.0)  # it holds the only connection, blocked on the lock
                took, r = _timed(c, "GET", "/markets")
            assert r is not None and (r.status_code, r.json()["code"]) == (503, "database_unavailable"), r
            assert took < 2.0, f"{took:.2f} s"
            assert stuck.result(timeout=30)[1] is not None
    finally:
        drop_prefix(prefix)


# ----------------------------------------------------------------------------- size limits while streaming


def _read_response(sock: socket.socket, timeout_s: float) -> bytes:
    sock.settimeout(timeout_s)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def _status(raw: bytes) -> int | None:
    parts = raw.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def _address(base: str) -> tuple[str, int]:
    url = httpx.URL(base)
    return url.host, int(url.port or 80)


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(svc: Svc) -> None:
    limit = svc.settings.max_body_bytes
    head = (
        f"POST /quotes HTTP/1.1\r\nHost: test\r\nX-API-Key: {svc.key.api_key}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    piece = b"[" + b"1," * 8191 + b"1]"  # 16 KiB of valid JSON-ish bytes
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    with serve_in_thread(svc.client.app) as base, socket.create_connection(_address(base), timeout=10) as sock:
        sock.sendall(head)
        sent = 0
        raw = b""
        # stream up to 96 MiB, but look for the answer after every piece: it must come near the limit
        while sent < 96 * 2**20:
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
            if sent > limit:
                raw = _read_response(sock, 0.5)
                if raw:
                    break
            if sent > 4 * limit:
                break
        if not raw:
            raw = _read_response(sock, 5.0)
    assert _status(raw) == 413, (sent, raw[:200])
    assert b"payload_too_large" in raw or b"content-length" in raw.lower()
    assert sent <= 4 * limit, f"the server read {sent} bytes before refusing"


@pytest.mark.parametrize("shape", ["one_huge_header", "many_headers"])
def test_headers_over_the_limit_are_refused_with_431_while_they_stream(svc: Svc, shape: str) -> None:
    limit = getattr(svc.settings, "max_header_bytes", 16_384)
    with serve_in_thread(svc.client.app) as base:
        sock = socket.create_connection(_address(base), timeout=10)
        sock.sendall(b"GET /markets HTTP/1.1\r\nHost: test\r\n")
        sent = 0
        raw = b""
        while sent < 8 * 2**20:
            if shape == "one_huge_header":
                piece = (b"X-Big: " if sent == 0 else b"") + b"a" * 4096
            else:
                piece = f"X-H{sent}: {'b' * 100}\r\n".encode()
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
            if sent > 2 * limit:
                raw = _read_response(sock, 1.0)
                break
        if not raw:
            raw = _read_response(sock, 3.0)
        sock.close()
        assert _status(raw) == 431, (sent, raw[:300])
        # a request with ordinary headers still works
        r = httpx.get(base + "/markets", headers={**svc.headers, "X-Fine": "c" * 4000}, timeout=10)
        assert r.status_code == 200
