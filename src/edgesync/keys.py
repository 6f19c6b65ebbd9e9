"""
RSA keys of edges and of the identity issuer: files, JWKs and JWK sets.

Private keys are written with mode 0600 from the moment the file exists, and a
private key file that the group or others can read is refused when loaded: a
key that has been readable by others must be treated as leaked. A JWK's ``kid``
is its RFC 7638 thumbprint, so edge and cloud derive the same id from the key.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import TypeAdapter, ValidationError

from syncproto import EdgeId

# NIST SP 800-131A: RSA below 2048 bits is disallowed for signatures.
MIN_RSA_BITS = 2048
DEFAULT_RSA_BITS = 3072
PUBLIC_EXPONENT = 65537
PRIVATE_KEY_MODE = 0o600
PUBLIC_FILE_MODE = 0o644
# JWK sets are configuration, not input: a cap keeps a wrong path (a log, a
# disk image) from being read whole into memory.
MAX_JWKS_BYTES = 1024 * 1024
_EDGE_ID: TypeAdapter[str] = TypeAdapter(EdgeId)


class KeyFileError(Exception):
    """A key file is missing, unsafe, malformed or too weak; the message says which."""


def check_edge_id(edge_id: str) -> str:
    """
    Return *edge_id* if valid (1..64 of ``a-z0-9-``), else raise ValueError.

    Edge ids name key and certificate files, so this also keeps paths inside
    the output directory.
    """
    try:
        return _EDGE_ID.validate_python(edge_id)
    except ValidationError as exc:
        msg = f"invalid edge id {edge_id!r}: use 1 to 64 of a-z, 0-9 and -"
        raise ValueError(msg) from exc


def generate_private_key(bits: int = DEFAULT_RSA_BITS) -> rsa.RSAPrivateKey:
    """Generate a new RSA private key of *bits* bits (at least 2048)."""
    if bits < MIN_RSA_BITS:
        msg = f"RSA keys need at least {MIN_RSA_BITS} bits, not {bits}"
        raise ValueError(msg)
    return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits)


def private_key_pem(key: rsa.RSAPrivateKey) -> bytes:
    """Serialise *key* as an unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(key: rsa.RSAPublicKey) -> bytes:
    """Serialise *key* as a SubjectPublicKeyInfo PEM."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_private_file(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """
    Write secret *data* to *path* with mode 0600.

    The mode is given to ``os.open`` so the file is never readable by others,
    not even between creation and a later chmod. An existing file is refused
    unless *overwrite*, so a rerun cannot silently replace a key in use.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(path, flags, PRIVATE_KEY_MODE)
    with os.fdopen(fd, "wb") as file:
        # An overwritten file keeps its old mode; O_CREAT's mode applies only
        # to new files.
        os.fchmod(file.fileno(), PRIVATE_KEY_MODE)
        file.write(data)


def refuse_existing(paths: Iterable[Path]) -> None:
    """
    Raise FileExistsError if any of *paths* exists.

    Commands that write a set of files check them all first, so a refused
    rerun leaves the earlier set whole instead of half replaced.
    """
    for path in paths:
        if path.exists():
            raise FileExistsError(errno.EEXIST, "file exists", str(path))


def write_public_file(path: Path, data: bytes) -> None:
    """Write non-secret *data* (a public key, a certificate, a JWKS) to *path*."""
    path.write_bytes(data)
    path.chmod(PUBLIC_FILE_MODE)


def write_private_key(
    path: Path, key: rsa.RSAPrivateKey, *, overwrite: bool = False
) -> None:
    """Write *key* as PEM to *path* with mode 0600."""
    write_private_file(path, private_key_pem(key), overwrite=overwrite)


def check_private_file(path: Path) -> None:
    """Raise :class:`KeyFileError` unless *path* is a file only its owner can read."""
    try:
        info = path.stat()
    except OSError as exc:
        msg = f"cannot read private key file {path}: {exc.strerror}"
        raise KeyFileError(msg) from exc
    if not stat.S_ISREG(info.st_mode):
        msg = f"private key {path} is not a regular file"
        raise KeyFileError(msg)
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        mode = stat.S_IMODE(info.st_mode)
        msg = (
            f"private key {path} has mode {mode:04o}, open to group or others; "
            f"treat it as leaked, or run `chmod 600 {path}` if it never was shared"
        )
        raise KeyFileError(msg)


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    """Load an RSA private key PEM, refusing unsafe file modes and weak keys."""
    check_private_file(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        # The parser's message never quotes key material, but keep it out anyway.
        msg = f"{path} is not an unencrypted PEM private key"
        raise KeyFileError(msg) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        msg = f"{path} holds a {type(key).__name__}, not an RSA key"
        raise KeyFileError(msg)
    _check_strength(key.public_key(), str(path))

    return key


def load_public_key_pem(pem: bytes, *, source: str = "public key") -> rsa.RSAPublicKey:
    """Parse an RSA public key PEM (as an administrator registers it)."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        msg = f"{source} is not a PEM public key"
        raise KeyFileError(msg) from exc
    if not isinstance(key, rsa.RSAPublicKey):
        msg = f"{source} is a {type(key).__name__}, not an RSA key"
        raise KeyFileError(msg)
    _check_strength(key, source)

    return key


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    """Load an RSA public key PEM file."""
    return load_public_key_pem(path.read_bytes(), source=str(path))


def _check_strength(key: rsa.RSAPublicKey, source: str) -> None:
    if key.key_size < MIN_RSA_BITS:
        msg = f"{source} has {key.key_size} bits; at least {MIN_RSA_BITS} required"
        raise KeyFileError(msg)


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _uint_from_b64url(text: str) -> int:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return int.from_bytes(raw, "big")


def thumbprint(key: rsa.RSAPublicKey) -> str:
    """Return the RFC 7638 SHA-256 thumbprint of *key*, base64url without padding."""
    numbers = key.public_numbers()
    # RFC 7638 §3.2: the required members only, in lexicographic order, no spaces.
    members = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def public_jwk(key: rsa.RSAPublicKey) -> dict[str, str]:
    """Return *key* as an RS256 signature JWK whose ``kid`` is its thumbprint."""
    numbers = key.public_numbers()
    return {
        "kty": "RSA",
        "kid": thumbprint(key),
        "use": "sig",
        "alg": "RS256",
        "n": _b64url_uint(numbers.n),
        "e": _b64url_uint(numbers.e),
    }


def build_jwks(keys: Iterable[rsa.RSAPublicKey]) -> dict[str, list[dict[str, str]]]:
    """Return a JWK set of *keys*; several keys let the issuer rotate."""
    return {"keys": [public_jwk(key) for key in keys]}


def write_jwks(path: Path, keys: Iterable[rsa.RSAPublicKey]) -> None:
    """Write the JWK set of *keys* to *path*."""
    document = json.dumps(build_jwks(keys), indent=2) + "\n"
    write_public_file(path, document.encode("ascii"))


def parse_jwks(document: Mapping[str, Any]) -> dict[str, rsa.RSAPublicKey]:
    """
    Return the RSA signature keys of a JWK set by ``kid``.

    Keys for other uses or algorithms are skipped, since an issuer may publish
    them alongside. A usable key without a ``kid`` is indexed by its thumbprint;
    a duplicate ``kid`` or a weak key makes the whole set invalid.
    """
    entries = document.get("keys")
    if not isinstance(entries, list):
        msg = "a JWK set needs a `keys` list"
        raise KeyFileError(msg)
    keys: dict[str, rsa.RSAPublicKey] = {}
    for entry in entries:
        if not _is_rs256_signature_jwk(entry):
            continue
        key = _rsa_from_jwk(entry)
        kid = entry.get("kid") or thumbprint(key)
        if not isinstance(kid, str) or kid in keys:
            msg = f"JWK set has a missing or duplicate kid {kid!r}"
            raise KeyFileError(msg)
        keys[kid] = key
    if not keys:
        msg = "JWK set holds no RSA signature key"
        raise KeyFileError(msg)

    return keys


def _is_rs256_signature_jwk(entry: Any) -> bool:
    return (
        isinstance(entry, Mapping)
        and entry.get("kty") == "RSA"
        and entry.get("use", "sig") == "sig"
        and entry.get("alg", "RS256") == "RS256"
    )


def _rsa_from_jwk(entry: Mapping[str, Any]) -> rsa.RSAPublicKey:
    n, e = entry.get("n"), entry.get("e")
    if not isinstance(n, str) or not isinstance(e, str):
        msg = "RSA JWK needs string members n and e"
        raise KeyFileError(msg)
    try:
        key = rsa.RSAPublicNumbers(_uint_from_b64url(e), _uint_from_b64url(n))
        public = key.public_key()
    except ValueError as exc:
        msg = "RSA JWK has an invalid modulus or exponent"
        raise KeyFileError(msg) from exc
    _check_strength(public, f"JWK {entry.get('kid', '(no kid)')}")

    return public


def load_jwks(path: Path) -> dict[str, rsa.RSAPublicKey]:
    """Load a JWK set file and return its RSA signature keys by ``kid``."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_JWKS_BYTES + 1)
    except OSError as exc:
        msg = f"cannot read JWK set {path}: {exc.strerror}"
        raise KeyFileError(msg) from exc
    if len(raw) > MAX_JWKS_BYTES:
        msg = f"JWK set {path} is larger than {MAX_JWKS_BYTES} bytes"
        raise KeyFileError(msg)
    try:
        document = json.loads(raw)
    except ValueError as exc:
        msg = f"JWK set {path} is not JSON"
        raise KeyFileError(msg) from exc
    if not isinstance(document, dict):
        msg = f"JWK set {path} is not a JSON object"
        raise KeyFileError(msg)

    return parse_jwks(document)
