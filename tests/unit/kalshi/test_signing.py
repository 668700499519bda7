"""RSA-PSS request signing: message format, verification with the public key, no leaked key."""

from __future__ import annotations

import base64
import copy
import pickle

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from parlay.kalshi.errors import KalshiConfigError
from parlay.kalshi.signing import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    KalshiSigner,
    signer_from_env,
    signing_message,
    signing_path,
)

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def pem(private_key: rsa.RSAPrivateKey) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def verify(public_key: rsa.RSAPublicKey, signature_b64: str, message: bytes) -> None:
    """Kalshi's exact scheme: PSS, MGF1-SHA256, salt length = digest length (32), SHA-256."""
    public_key.verify(
        base64.b64decode(signature_b64),
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
        hashes.SHA256(),
    )


def test_headers_sign_timestamp_method_path(private_key: rsa.RSAPrivateKey, pem: str) -> None:
    signer = KalshiSigner.from_pem(KEY_ID, pem, clock_ms=lambda: 1_772_929_860_123)
    h = signer.headers("get", "/trade-api/v2/portfolio/balance")
    assert h[HEADER_KEY] == KEY_ID
    assert h[HEADER_TIMESTAMP] == "1772929860123"
    verify(private_key.public_key(), h[HEADER_SIGNATURE], b"1772929860123GET/trade-api/v2/portfolio/balance")


def test_query_string_is_not_signed(private_key: rsa.RSAPrivateKey, pem: str) -> None:
    signer = KalshiSigner.from_pem(KEY_ID, pem)
    url = "https://external-api.demo.kalshi.co/trade-api/v2/portfolio/orders?ticker=X&limit=5"
    h = signer.headers("GET", url, timestamp_ms=1000)
    verify(private_key.public_key(), h[HEADER_SIGNATURE], b"1000GET/trade-api/v2/portfolio/orders")
    with pytest.raises(InvalidSignature):
        with_query = b"1000GET/trade-api/v2/portfolio/orders?ticker=X&limit=5"
        verify(private_key.public_key(), h[HEADER_SIGNATURE], with_query)


def test_other_method_or_time_does_not_verify(private_key: rsa.RSAPrivateKey, pem: str) -> None:
    signer = KalshiSigner.from_pem(KEY_ID, pem)
    sig = signer.headers("POST", "/trade-api/v2/portfolio/orders", timestamp_ms=5)[HEADER_SIGNATURE]
    for wrong in (b"5GET/trade-api/v2/portfolio/orders", b"6POST/trade-api/v2/portfolio/orders"):
        with pytest.raises(InvalidSignature):
            verify(private_key.public_key(), sig, wrong)


@pytest.mark.parametrize("salt", [0, 20, 64, 222])
def test_salt_is_exactly_the_digest_length(private_key: rsa.RSAPrivateKey, pem: str, salt: int) -> None:
    sig = base64.b64decode(KalshiSigner.from_pem(KEY_ID, pem).sign(b"msg"))
    with pytest.raises(InvalidSignature):
        private_key.public_key().verify(
            sig, b"msg", padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt), hashes.SHA256()
        )
    private_key.public_key().verify(
        sig, b"msg", padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
    )


def test_signatures_are_randomized_but_all_verify(private_key: rsa.RSAPrivateKey, pem: str) -> None:
    signer = KalshiSigner.from_pem(KEY_ID, pem)
    a, b = signer.sign(b"m"), signer.sign(b"m")
    assert a != b
    verify(private_key.public_key(), a, b"m")
    verify(private_key.public_key(), b, b"m")


def test_signing_path_and_message() -> None:
    assert signing_path("/portfolio/orders") == "/trade-api/v2/portfolio/orders"
    assert signing_path("portfolio/orders") == "/trade-api/v2/portfolio/orders"
    assert signing_path("http://127.0.0.1:9/trade-api/v2/markets?x=1#f") == "/trade-api/v2/markets"
    expected = b"12DELETE/trade-api/v2/portfolio/orders/abc"
    assert signing_message(12, "delete", "/portfolio/orders/abc") == expected


def test_key_never_shown(pem: str) -> None:
    signer = KalshiSigner.from_pem(KEY_ID, pem)
    body = "".join(pem.strip().splitlines()[1:-1])
    for text in (repr(signer), str(signer), f"{signer}", f"{signer!r}"):
        assert KEY_ID not in text
        assert body[:40] not in text and "PRIVATE" not in text
    assert not hasattr(signer, "__dict__")
    with pytest.raises(TypeError):
        pickle.dumps(signer)
    with pytest.raises(TypeError):
        copy.deepcopy(signer)


def test_bad_key_material_is_a_config_error_without_echo(tmp_path) -> None:
    garbage = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LW5vdC1hLWtleQ==\n-----END PRIVATE KEY-----\n"
    with pytest.raises(KalshiConfigError) as info:
        KalshiSigner.from_pem(KEY_ID, garbage)
    assert "c2VjcmV0" not in str(info.value)
    with pytest.raises(KalshiConfigError):
        KalshiSigner.from_pem_file(KEY_ID, tmp_path / "missing.pem")
    ec_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KalshiConfigError, match="RSA"):
        KalshiSigner.from_pem(KEY_ID, ec_key)
    with pytest.raises(KalshiConfigError):
        KalshiSigner("", rsa.generate_private_key(public_exponent=65537, key_size=1024))


def test_signer_from_env(private_key: rsa.RSAPrivateKey, pem: str, tmp_path) -> None:
    assert signer_from_env({}) is None
    with pytest.raises(KalshiConfigError):
        signer_from_env({"KALSHI_API_KEY_ID": KEY_ID})
    s1 = signer_from_env({"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY_PEM": pem.replace("\n", "\\n")})
    path = tmp_path / "key.pem"
    path.write_text(pem)
    s2 = signer_from_env({"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY_PATH": str(path)})
    for s in (s1, s2):
        assert s is not None and s.key_id == KEY_ID
        verify(private_key.public_key(), s.sign(b"x"), b"x")
