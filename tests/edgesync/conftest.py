"""Fixtures of the security tests: RSA keys, made once per session."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from edgesync.keys import MIN_RSA_BITS, generate_private_key


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
