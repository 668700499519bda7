"""The Redis token bucket against a real Redis (PARLAY_REDIS_URL, else the private server)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from parlay import redis_cache
from service.ratelimit import TokenBucket, burst_for


@pytest.fixture
def bucket() -> Iterator[TokenBucket]:
    target = redis_cache.resolve_redis(os.environ.get("PARLAY_REDIS_URL"))
    if target.url is None:
        pytest.skip(f"no Redis: {target.reason}")
    conn = redis_cache.client(target.url)
    prefix = f"parlay-test-rl-{uuid.uuid4().hex[:8]}:"
    try:
        yield TokenBucket(conn, prefix)
    finally:
        redis_cache.delete_prefix(conn, prefix)
        conn.close()


def test_burst_then_refused_with_retry_after(bucket: TokenBucket) -> None:
    results = [bucket.take("k", rate_per_min=60, burst=5) for _ in range(7)]  # 1 token/s, 5 at once
    assert [r.allowed for r in results] == [True] * 5 + [False] * 2
    assert results[4].remaining == pytest.approx(0, abs=0.05)
    refused = results[5]
    assert 0.9 <= refused.retry_after_s <= 1.0 and refused.retry_after_header == "1"


def test_refill_over_time(bucket: TokenBucket) -> None:
    rate = 600  # 10 tokens/s
    for _ in range(2):
        assert bucket.take("k", rate, burst=2).allowed
    assert not bucket.take("k", rate, burst=2).allowed
    time.sleep(0.25)  # 2.5 tokens' worth, capped at the burst of 2
    assert bucket.take("k", rate, burst=2).allowed
    assert bucket.take("k", rate, burst=2).allowed
    assert not bucket.take("k", rate, burst=2).allowed


def test_keys_are_isolated(bucket: TokenBucket) -> None:
    assert bucket.take("a", 60, burst=1).allowed
    assert not bucket.take("a", 60, burst=1).allowed
    assert bucket.take("b", 60, burst=1).allowed  # another key has its own bucket
    bucket.reset("a")
    assert bucket.take("a", 60, burst=1).allowed


def test_state_lives_in_redis_with_an_expiry(bucket: TokenBucket) -> None:
    bucket.take("k", 60, burst=3)
    conn: redis.Redis = bucket._r
    ttl = conn.pttl(bucket.key("k"))
    assert 0 < ttl <= 2_000  # one token to refill (1 s) plus a second of slack
    tokens = float(conn.hget(bucket.key("k"), "tokens"))
    assert tokens == pytest.approx(2, abs=0.05)


def test_concurrent_takers_never_overdraw(bucket: TokenBucket) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=16) as pool:
        allowed = sum(pool.map(lambda _: bucket.take("k", 1, burst=25).allowed, range(200)))
    assert allowed == 25


def test_burst_for_and_bad_arguments(bucket: TokenBucket) -> None:
    assert burst_for(6, 10.0) == 1.0 and burst_for(120, 10.0) == 20.0
    with pytest.raises(ValueError):
        bucket.take("k", 0, burst=1)
