"""``parlay bench quote``: the quote API's latency and throughput over real HTTP.

The service runs in its own process (uvicorn) on a free port against a temporary database and storage
folder holding one pricer: the project's newest stored ensemble when there is one (copied, read-only),
else a synthetic 135-market cluster (mean degree 10). The bench funds the pool, creates an API key,
then POSTs quotes of 2, 5 and 10 legs over keep-alive connections (httpx) and prints p50/p99 latency
per size and quotes/s with two concurrent clients. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg

from models.pricing.ensemble import EnsemblePricer, synthetic_pricer
from parlay import apikeys, ledger
from parlay.apikeys import CreatedKey
from parlay.db.migrate import migrate
from parlay.pricing_store import NoFittedModels, load_pricer, save_pricer
from service.server import free_port

REPO = Path(__file__).resolve().parent.parent


def seed_database(url: str, storage_url: str, pricer: EnsemblePricer, *, lp_capital: Decimal = Decimal(1_000_000),
                  rate_per_min: int = 1_000_000, day: date | None = None, key_name: str = "bench",
                  scrypt: apikeys.ScryptParams | None = None, snapshot_at: datetime | None = None) -> CreatedKey:
    """Migrate ``url``, store ``pricer`` under ``storage_url``, fund the pool, and create an API key.
    ``snapshot_at``: store the models as fitted by that instant too (for replays; see ``save_pricer``)."""
    with psycopg.connect(url) as conn:
        migrate(conn)
        save_pricer(conn, storage_url, day or date.today(), pricer, snapshot_at)
        conn.commit()
        if lp_capital > 0:
            ledger.deposit(conn, lp_capital, f"seed:{uuid.uuid4().hex}")
        return apikeys.create_api_key(conn, key_name, rate_per_min, scrypt)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def _pick_legs(rng: random.Random, clusters: dict[str, list[str]], n: int) -> list[dict[str, str]]:
    """``n`` distinct markets, from one cluster when it is big enough (the hard case), else across clusters."""
    big = [c for c, ts in clusters.items() if len(ts) >= n]
    pool = clusters[rng.choice(big)] if big else [t for ts in clusters.values() for t in ts]
    return [{"ticker": t, "side": rng.choice(("yes", "no"))} for t in rng.sample(pool, min(n, len(pool)))]


SYNTHETIC = "synthetic cluster: 135 markets, mean degree 10"


def _source_pricer(url: str, log: Callable[[str], None]) -> tuple[EnsemblePricer, str]:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            pricer = load_pricer(conn)
        return pricer, f"project ensemble {pricer.version}"
    except (NoFittedModels, psycopg.Error) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log(f"[bench] no stored models to copy ({first}): using a synthetic cluster")
    return synthetic_pricer(1, 135, 10.0, seed=0), SYNTHETIC


def quote_benchmark(database_url: str | None = None, requests_per_size: int = 300, concurrent_s: float = 5.0,
                    synthetic: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the bench (see the module docstring); returns the figures."""
    from parlay.db.connection import resolve_database_url, temporary_database

    server_url = resolve_database_url(database_url)
    if synthetic:
        pricer, what = synthetic_pricer(1, 135, 10.0, seed=0), SYNTHETIC
    else:
        pricer, what = _source_pricer(server_url, log)
    clusters: dict[str, list[str]] = {}
    for t, m in pricer.markets().items():
        clusters.setdefault(m.cluster_id, []).append(t)
    prefix = f"parlay-bench-{uuid.uuid4().hex[:8]}:"
    with temporary_database(server_url, prefix="parlay_bench") as url, \
            tempfile.TemporaryDirectory(prefix="parlay-bench-") as storage:
        log(f"[bench] pricer: {what}; temporary database and storage")
        key = seed_database(url, storage, pricer)
        port = free_port()
        env = {**os.environ, "PARLAY_DATABASE_URL": url, "PARLAY_STORAGE_URL": storage, "PARLAY_REDIS_PREFIX": prefix,
               "PARLAY_SERVICE_LIVE": "false", "PYTHONPATH": str(REPO)}
        env.pop("PARLAY_SERVICE_DATE", None)
        cmd = [sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", "--no-access-log"]
        proc = subprocess.Popen(cmd, env=env, cwd=str(REPO), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        base = f"http://127.0.0.1:{port}"
        try:
            health = _wait_healthy(base, proc, api_key=key.api_key)
            log(f"[bench] service pid {proc.pid} on {base}; redis {health['redis']['mode']}, rate limiting "
                f"{health['rate_limiting']}")
            figures = _measure(base, key.api_key, clusters, requests_per_size, concurrent_s, log)
            figures.update(pricer=what, markets=len(pricer.markets()), redis=health["redis"]["mode"],
                           rate_limiting=health["rate_limiting"])
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
            _drop_redis_prefix(prefix)
    return figures


def _wait_healthy(base: str, proc: subprocess.Popen, timeout_s: float = 60.0,
                  api_key: str | None = None) -> dict[str, Any]:
    """Wait until the public ``/health`` says ok (a model is loaded); then the ``/health/details`` body when
    ``api_key`` is given, else the public body."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=base, timeout=5.0) as c:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = (proc.stderr.read() if proc.stderr else "")[-2000:]
                raise RuntimeError(f"the service exited ({proc.returncode}): {tail}")
            pause = 0.25
            try:
                r = c.get("/health")
                if r.status_code == 200 and r.json().get("status") == "ok":
                    if api_key is None:
                        return dict(r.json())
                    d = c.get("/health/details", headers={"X-API-Key": api_key})
                    if d.status_code == 200:
                        return dict(d.json())
                if r.status_code == 429:
                    pause = float(r.headers.get("Retry-After", "1"))
            except httpx.HTTPError:
                pass
            time.sleep(pause)
    raise RuntimeError("the service did not become healthy in time")


def _measure(base: str, api_key: str, clusters: dict[str, list[str]], n_requests: int, concurrent_s: float,
             log: Callable[[str], None]) -> dict[str, Any]:
    headers = {"X-API-Key": api_key}
    rng = random.Random(7)
    out: dict[str, Any] = {"latency_ms": {}}
    with httpx.Client(base_url=base, headers=headers, timeout=30.0) as c:
        for _ in range(30):  # warm up: connection, auth cache, pricer, snapshot
            c.post("/quotes", json={"legs": _pick_legs(rng, clusters, 5), "stake": "10"})
        for n in (2, 5, 10):
            times: list[float] = []
            statuses: Counter[int] = Counter()
            for _ in range(n_requests):
                body = {"legs": _pick_legs(rng, clusters, n), "stake": "10"}
                t0 = time.perf_counter()
                r = c.post("/quotes", json=body)
                times.append((time.perf_counter() - t0) * 1000)
                statuses[r.status_code] += 1
            fig = {"p50": round(statistics.median(times), 2), "p99": round(_percentile(times, 0.99), 2),
                   "mean": round(statistics.fmean(times), 2), "n": len(times),
                   "statuses": {str(k): v for k, v in sorted(statuses.items())}}
            out["latency_ms"][f"{n}_legs"] = fig
            log(f"[bench] {n:>2} legs: p50 {fig['p50']:.2f} ms  p99 {fig['p99']:.2f} ms  "
                f"(n={len(times)}, statuses {fig['statuses']})")
    counts = [0, 0]
    statuses_c: Counter[int] = Counter()
    lock = threading.Lock()
    stop_at = time.monotonic() + concurrent_s

    def client(i: int) -> None:
        r_ = random.Random(100 + i)
        with httpx.Client(base_url=base, headers=headers, timeout=30.0) as c2:
            while time.monotonic() < stop_at:
                n = r_.choice((2, 5, 10))
                r = c2.post("/quotes", json={"legs": _pick_legs(r_, clusters, n), "stake": "10"})
                counts[i] += 1
                with lock:
                    statuses_c[r.status_code] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    qps = sum(counts) / elapsed
    out["concurrent"] = {"clients": 2, "seconds": round(elapsed, 2), "requests": sum(counts),
                         "quotes_per_s": round(qps, 1), "statuses": {str(k): v for k, v in sorted(statuses_c.items())}}
    log(f"[bench] 2 concurrent clients (mixed 2/5/10 legs): {qps:.0f} quotes/s over {elapsed:.1f} s "
        f"(statuses {out['concurrent']['statuses']})")
    return out


def _drop_redis_prefix(prefix: str) -> None:
    from parlay import redis_cache

    url = redis_cache.configured_redis_url() or redis_cache.private_redis_url()
    if not url:
        return
    c = redis_cache.client(url)
    try:
        redis_cache.delete_prefix(c, prefix)
    except Exception:  # the cache keys expire on their own anyway
        pass
    finally:
        c.close()
