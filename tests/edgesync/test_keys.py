"""RSA key files, thumbprints and JWK sets."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from edgesync.keys import (
    MAX_JWKS_BYTES,
    MIN_RSA_BITS,
    KeyFileError,
    build_jwks,
    check_edge_id,
    generate_private_key,
    load_jwks,
    load_private_key,
    load_public_key,
    load_public_key_pem,
    parse_jwks,
    public_jwk,
    public_key_pem,
    thumbprint,
    write_jwks,
    write_private_file,
    write_private_key,
    write_public_file,
)

# RFC 7638 §3.1: the example key and its SHA-256 thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1"
    "L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4"
    "QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbO"
    "pbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csF"
    "Cur-kEgU8awapJzKnqDKgw"
)
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """Run with umask 0, so only an explicit mode keeps a file private."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("permissive_umask")
def test_private_key_is_written_0600_and_loads_back(
    tmp_path: Path, edge_key: rsa.RSAPrivateKey
) -> None:
    """A written key has mode 0600 whatever the umask, and loads to the same key."""
    path = tmp_path / "edge.key"

    write_private_key(path, edge_key)
    loaded = load_private_key(path)

    assert _mode(path) == 0o600
    assert loaded.private_numbers() == edge_key.private_numbers()


def test_existing_key_is_not_overwritten_by_default(
    tmp_path: Path, edge_key: rsa.RSAPrivateKey
) -> None:
    """Writing over a key in use needs an explicit overwrite."""
    path = tmp_path / "edge.key"
    write_private_key(path, edge_key)

    with pytest.raises(FileExistsError):
        write_private_key(path, edge_key)


def test_overwrite_tightens_an_open_file_to_0600(
    tmp_path: Path, edge_key: rsa.RSAPrivateKey
) -> None:
    """Overwriting a world-readable file leaves it at 0600, not its old mode."""
    path = tmp_path / "edge.key"
    path.write_bytes(b"old")
    path.chmod(0o644)

    write_private_key(path, edge_key, overwrite=True)

    assert _mode(path) == 0o600
    assert load_private_key(path).key_size == edge_key.key_size


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o601])
def test_private_key_open_to_others_is_refused(
    tmp_path: Path, edge_key: rsa.RSAPrivateKey, mode: int
) -> None:
    """A key the group or others can access is refused with a clear message."""
    path = tmp_path / "edge.key"
    write_private_key(path, edge_key)
    path.chmod(mode)

    with pytest.raises(KeyFileError, match="chmod 600") as caught:
        load_private_key(path)

    assert f"{mode:04o}" in str(caught.value)
    assert "PRIVATE KEY" not in str(caught.value)


def test_missing_or_garbage_private_key_is_refused(tmp_path: Path) -> None:
    """A missing file or a file that is not a PEM key is a KeyFileError."""
    garbage = tmp_path / "garbage.key"
    write_private_file(garbage, b"not a key")

    with pytest.raises(KeyFileError, match="cannot read"):
        load_private_key(tmp_path / "absent.key")
    with pytest.raises(KeyFileError, match="not an unencrypted PEM"):
        load_private_key(garbage)


def test_non_rsa_private_key_is_refused(tmp_path: Path) -> None:
    """Only RSA keys sign RS256 tokens."""
    path = tmp_path / "ec.key"
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_private_file(path, pem)

    with pytest.raises(KeyFileError, match="not an RSA key"):
        load_private_key(path)


def test_weak_keys_are_refused(tmp_path: Path, weak_key: rsa.RSAPrivateKey) -> None:
    """RSA below 2048 bits is neither generated nor loaded."""
    weak = weak_key
    path = tmp_path / "weak.key"
    write_private_key(path, weak)

    with pytest.raises(ValueError, match="2048"):
        generate_private_key(1024)
    with pytest.raises(KeyFileError, match="2048"):
        load_private_key(path)
    with pytest.raises(KeyFileError, match="2048"):
        load_public_key_pem(public_key_pem(weak.public_key()))


def test_public_key_round_trips(tmp_path: Path, edge_key: rsa.RSAPrivateKey) -> None:
    """A public key file is world-readable and loads to the same key."""
    path = tmp_path / "edge.pub"

    write_public_file(path, public_key_pem(edge_key.public_key()))

    assert _mode(path) == 0o644
    assert load_public_key(path).public_numbers() == (
        edge_key.public_key().public_numbers()
    )


def test_public_key_pem_garbage_is_refused() -> None:
    """Registering something that is not a PEM public key is a KeyFileError."""
    with pytest.raises(KeyFileError, match="not a PEM public key"):
        load_public_key_pem(
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"
        )


def test_thumbprint_matches_rfc7638_example() -> None:
    """The kid of the RFC 7638 example key is the thumbprint the RFC gives."""
    numbers = parse_jwks({"keys": [{"kty": "RSA", "n": RFC7638_N, "e": "AQAB"}]})
    (key,) = numbers.values()

    assert thumbprint(key) == RFC7638_THUMBPRINT
    assert list(numbers) == [RFC7638_THUMBPRINT]


def test_jwks_holds_several_keys_by_thumbprint(
    tmp_path: Path, issuer_key: rsa.RSAPrivateKey, stranger_key: rsa.RSAPrivateKey
) -> None:
    """A JWK set written with two keys loads both, each under its thumbprint."""
    path = tmp_path / "jwks.json"
    keys = [issuer_key.public_key(), stranger_key.public_key()]

    write_jwks(path, keys)
    loaded = load_jwks(path)

    assert list(loaded) == [thumbprint(k) for k in keys]
    assert [k.public_numbers() for k in loaded.values()] == [
        k.public_numbers() for k in keys
    ]
    assert all(jwk["alg"] == "RS256" for jwk in build_jwks(keys)["keys"])


def test_jwks_skips_other_keys_and_refuses_duplicates(
    issuer_key: rsa.RSAPrivateKey,
) -> None:
    """Encryption and non-RSA keys are skipped; a repeated kid spoils the set."""
    jwk = public_jwk(issuer_key.public_key())
    others = [
        {**jwk, "use": "enc"},
        {**jwk, "alg": "RS512"},
        {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
    ]

    assert list(parse_jwks({"keys": [*others, jwk]})) == [jwk["kid"]]
    with pytest.raises(KeyFileError, match="duplicate kid"):
        parse_jwks({"keys": [jwk, jwk]})
    with pytest.raises(KeyFileError, match="no RSA signature key"):
        parse_jwks({"keys": others})


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"keys": "x"},
        {"keys": [{"kty": "RSA", "n": 5, "e": "AQAB"}]},
        {"keys": [{"kty": "RSA", "n": RFC7638_N, "e": "AA"}]},
    ],
)
def test_malformed_jwks_is_refused(document: dict[str, object]) -> None:
    """A set without keys, or with unusable RSA members, is a KeyFileError."""
    with pytest.raises(KeyFileError):
        parse_jwks(document)


def test_jwks_file_that_is_not_a_set_is_refused(tmp_path: Path) -> None:
    """Non-JSON, a JSON array and an oversized file are refused before parsing keys."""
    cases = {
        "text.json": b"not json",
        "array.json": b"[]",
        "huge.json": b" " * (MAX_JWKS_BYTES + 1),
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)

        with pytest.raises(KeyFileError):
            load_jwks(tmp_path / name)


def test_jwks_with_weak_key_is_refused(weak_key: rsa.RSAPrivateKey) -> None:
    """A 1024-bit key in the issuer's set makes the set invalid."""
    document = json.loads(json.dumps(build_jwks([weak_key.public_key()])))

    with pytest.raises(KeyFileError, match=str(MIN_RSA_BITS)):
        parse_jwks(document)


@pytest.mark.parametrize("edge_id", ["", "../etc", "Edge-A", "a" * 65, "edge_a"])
def test_invalid_edge_id_is_refused(edge_id: str) -> None:
    """Edge ids name files, so anything outside 1..64 of a-z0-9- is refused."""
    with pytest.raises(ValueError, match="invalid edge id"):
        check_edge_id(edge_id)
