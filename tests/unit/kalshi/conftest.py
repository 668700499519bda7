"""Fixtures for the Kalshi client tests: a running fake exchange and a client signed for it."""

from tests.fakes.kalshi_server import backoff_sleeps, fake_kalshi, kalshi_client

__all__ = ["backoff_sleeps", "fake_kalshi", "kalshi_client"]
