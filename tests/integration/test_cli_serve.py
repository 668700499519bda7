"""`parlay serve` without PARLAY_REDIS_URL starts a private redis-server and stops it again on shutdown."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from parlay import redis_cache

pytestmark = pytest.mark.integration
PARLAY = str(Path(sys.executable).with_name("parlay"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server binary")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_its_private_redis_on_shutdown(fresh_database_url: str, tmp_path: Path, stop: int) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PARLAY_REDIS_URL"}
    env.update(PARLAY_HOME=str(tmp_path), PARLAY_STORAGE_URL=str(tmp_path / "lake"))
    made = subprocess.run([PARLAY, "api-key", "create", "--name", "serve-test", "--database-url", fresh_database_url],
                          env=env, capture_output=True, text=True, check=True)
    api_key = json.loads(made.stdout.strip().splitlines()[-1])["api_key"]
    proc = subprocess.Popen([PARLAY, "serve", "--port", str(port), "--database-url", fresh_database_url], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health/details", headers={"X-API-Key": api_key},
                                   timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert health is not None, proc.stdout.read() if proc.poll() is not None else "no answer"
        assert health["redis"]["mode"] == redis_cache.PRIVATE and health["redis"]["ok"], health
        state = json.loads((tmp_path / ".data" / "redis" / "state.json").read_text())
        url = f"redis://:{state['password']}@127.0.0.1:{state['port']}/0"
        assert redis_cache.ping(url) is None
    finally:
        proc.send_signal(stop)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert redis_cache.ping(url) is not None, "the private redis-server still answers after parlay serve stopped"
    assert not (tmp_path / ".data" / "redis" / "state.json").exists()
