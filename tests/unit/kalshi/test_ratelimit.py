"""Token buckets with a fake clock: tier figures, bursts, sustained rate, threads, 429 draining."""

from __future__ import annotations

import threading

import pytest

from parlay.kalshi.ratelimit import (
    ADVANCED,
    BASIC,
    PREMIER,
    PRIME,
    TIERS,
    RateLimiter,
    RateTier,
    TokenBucket,
    request_kind,
    tier,
)


class FakeClock:
    """Time that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_documented_tiers() -> None:
    assert (BASIC.reads_per_second, BASIC.writes_per_second) == (20, 10)
    assert (ADVANCED.reads_per_second, ADVANCED.writes_per_second) == (30, 30)
    assert (PREMIER.reads_per_second, PRIME.reads_per_second) == (100, 400)
    assert BASIC.tokens_per_call == 10
    assert BASIC.token_rate("read") == 200 and BASIC.token_rate("write") == 100
    assert BASIC.capacity("read") == 200
    assert tier(" Basic ") is BASIC and set(TIERS) == {"basic", "advanced", "premier", "prime"}
    with pytest.raises(ValueError):
        tier("platinum")
    with pytest.raises(ValueError):
        RateTier("x", 0, 1)
    with pytest.raises(ValueError):
        RateTier("x", 1, 1, burst_seconds=0)


def test_burst_then_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter(BASIC, clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire("read") for _ in range(20)]
    assert waits == [0.0] * 20 and clock.now == 0.0
    assert limiter.acquire("read") == pytest.approx(0.05)  # 10 tokens at 200 tokens/s
    assert clock.now == pytest.approx(0.05)


def test_sustained_rate_matches_tier() -> None:
    clock = FakeClock()
    limiter = RateLimiter(BASIC, clock=clock, sleep=clock.sleep)
    for _ in range(120):
        limiter.acquire("read")
    # 20 calls from the initial burst, the other 100 at 20 per second
    assert clock.now == pytest.approx(5.0)
    clock2 = FakeClock()
    writes = RateLimiter(BASIC, clock=clock2, sleep=clock2.sleep)
    for _ in range(40):
        writes.acquire("write")
    assert clock2.now == pytest.approx(3.0)  # 10 burst + 30 at 10 per second


def test_read_and_write_budgets_are_separate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(BASIC, clock=clock, sleep=clock.sleep)
    for _ in range(20):
        limiter.acquire("read")
    assert limiter.acquire("write") == 0.0
    assert limiter.bucket("read").available() == pytest.approx(0.0)
    assert limiter.bucket("write").available() == pytest.approx(90.0)


def test_refill_is_capped_and_try_acquire_never_waits() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, capacity=30, clock=clock, sleep=clock.sleep)
    assert bucket.try_acquire(30)
    assert not bucket.try_acquire(1)
    clock.now += 1.0
    assert bucket.available() == pytest.approx(10)
    clock.now += 100.0
    assert bucket.available() == pytest.approx(30)
    assert clock.sleeps == []
    with pytest.raises(ValueError):
        bucket.reserve(-1)


def test_custom_cost_and_throttle_drain() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateTier("t", 2, 1, tokens_per_call=10), clock=clock, sleep=clock.sleep)
    assert limiter.acquire("read", cost=5) == 0.0
    assert limiter.bucket("read").available() == pytest.approx(15)
    limiter.throttled("read")
    assert limiter.bucket("read").available() == pytest.approx(0)
    assert limiter.acquire("read") == pytest.approx(0.5)


def test_concurrent_reservations_are_exact() -> None:
    """No lost updates: with time frozen, 8 threads x 50 calls reserve exactly 400 x 10 tokens and the
    waits handed out are exactly the queue positions' debts, whatever the interleaving."""
    waits: list[float] = []
    lock = threading.Lock()

    def record(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    bucket = TokenBucket(rate=200, capacity=200, clock=lambda: 0.0, sleep=record)
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(50):
            bucket.acquire(10)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bucket.available() == pytest.approx(200 - 4000)
    expected = [(10 * k - 200) / 200 for k in range(21, 401)]
    assert sorted(waits) == pytest.approx(expected)


def test_request_kind() -> None:
    assert request_kind("POST", "/portfolio/orders") == "write"
    assert request_kind("DELETE", "/portfolio/orders/abc") == "write"
    assert request_kind("POST", "/portfolio/events/orders") == "write"
    assert request_kind("GET", "/portfolio/orders") == "read"
    assert request_kind("GET", "/markets") == "read"
    assert request_kind("POST", "/communications/rfqs") == "read"
