"""Reading capture bytes: gzip members, truncation and corruption keep the readable prefix."""

from __future__ import annotations

import gzip
import os

from parlay.sources.recorded import decode_capture

TEXT = b"".join(b'{"n": %d}\n\n' % i for i in range(20_000))


def test_plain_and_multi_member_gzip_read_whole() -> None:
    assert decode_capture(TEXT).data == TEXT
    two = gzip.compress(TEXT[:1000]) + gzip.compress(TEXT[1000:]) + b"\x00" * 8
    got = decode_capture(two)
    assert (got.data, got.stopped_at, got.error) == (TEXT, None, None)


def test_truncated_gzip_keeps_its_prefix_and_says_where() -> None:
    whole = gzip.compress(TEXT)
    cut = whole[: len(whole) // 2]
    got = decode_capture(cut)
    assert got.stopped_at == len(cut)
    assert "truncated" in (got.error or "")
    assert got.data and TEXT.startswith(got.data)


def test_corrupt_gzip_stops_where_the_fault_is_found() -> None:
    """Deflate may decode damaged bytes into garbage; the fault shows at the latest at the CRC check. The
    garbage lines are then quarantined as malformed, the intact part before them loads."""
    whole = bytearray(gzip.compress(TEXT + os.urandom(50_000).hex().encode(), compresslevel=1))
    at = len(whole) // 3
    whole[at : at + 64] = bytes(64)
    got = decode_capture(bytes(whole))
    assert got.stopped_at is not None and at <= got.stopped_at <= len(whole)
    assert f"byte {got.stopped_at}" in (got.error or "")
    assert got.data[:10_000] == TEXT[:10_000]
