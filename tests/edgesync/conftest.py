"""Fixtures of the security and command tests: RSA keys, an authenticating cloud."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from cloud_service.settings import CloudSettings
from edgesync.keys import MIN_RSA_BITS, generate_private_key, write_jwks
from edgesync.tokens import TokenSigner
from tests.edgesync.clouds import AuthCloud, running_cloud


@pytest.fixture(scope="session")
def issuer_key() -> rsa.RSAPrivateKey:
    """The identity issuer's signing key."""
    return generate_private_key(MIN_RSA_BITS)


@pytest.fixture(scope="session")
def edge_key() -> rsa.RSAPrivateKey:
    """The key pair of edge-a."""
    return generate_private_key(MIN_RSA_BITS)


@pytest.fixture(scope="session")
def stranger_key() -> rsa.RSAPrivateKey:
    """A key nobody registered."""
    return generate_private_key(MIN_RSA_BITS)


@pytest.fixture(scope="session")
def weak_key() -> rsa.RSAPrivateKey:
    """A 1024-bit key, which everything must refuse."""
    # Deliberately breakable: refusing it is what the tests check.
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505


@pytest.fixture
def auth_cloud(tmp_path: Path, issuer_key: rsa.RSAPrivateKey) -> Iterator[AuthCloud]:
    """A cloud on SQLite with authentication on."""
    jwks = tmp_path / "issuer.jwks.json"
    write_jwks(jwks, [issuer_key.public_key()])
    settings = CloudSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}",
        issuer_jwks_file=jwks,
    )
    with running_cloud(settings) as url:
        yield AuthCloud(url, TokenSigner.from_private_key(issuer_key))
