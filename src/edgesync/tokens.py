"""
RS256 bearer tokens of analysts and edges: signing, parsing and verification.

Analyst tokens come from an identity issuer and are checked against its JWK set
(several keys, chosen by ``kid``), so an edge verifies them offline. Each edge
signs its own short-lived token per sync session, checked against the key an
administrator registered for that edge.

Verification fails closed. :meth:`TokenVerifier.verify` refuses oversized input
and anything that is not exactly three base64url segments before decoding a
byte, so a JWE (five segments, possibly a DEFLATE bomb, CVE-2024-33664) is never
decrypted. Only ``alg`` RS256 is accepted, ``exp`` and ``aud`` are required,
and every failure, python-jose's or ours, surfaces as one
:class:`InvalidTokenError` whose reason never quotes the token.
"""

from __future__ import annotations

import enum
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt
from jose.backends.base import Key
from jose.exceptions import ExpiredSignatureError, JOSEError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edgesync.keys import MIN_RSA_BITS, private_key_pem, public_key_pem, thumbprint
from syncproto import Classification

log = structlog.get_logger()

ALGORITHM = "RS256"
# Real tokens are well under 2 KiB; 8 KiB leaves room for many roles while
# keeping every refused token cheap to refuse.
MAX_TOKEN_BYTES = 8 * 1024
MAX_EDGE_TOKEN_TTL = 300
DEFAULT_LEEWAY = 60
BEARER = "bearer"

# Three non-empty base64url segments (RFC 7515 §7.1 compact form). A JWE has
# five, an unsigned token an empty third: neither matches.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class InvalidTokenError(Exception):
    """A bearer token was refused; ``reason`` is short and never quotes the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthenticationNotConfiguredError(RuntimeError):
    """A service was started with no issuer keys and without opting out."""

    def __init__(self, service: str) -> None:
        super().__init__(
            f"the {service} authenticates every call: set EDGESYNC_ISSUER_JWKS_FILE "
            "to the identity issuer's JWK set, or EDGESYNC_ALLOW_ANONYMOUS=true for "
            "a development service that trusts every caller"
        )


def check_configured(
    issuer_jwks: object | None, allow_anonymous: bool, service: str
) -> None:
    """Refuse to start a service that would trust every caller by accident."""
    if issuer_jwks is None and not allow_anonymous:
        raise AuthenticationNotConfiguredError(service)


class Role(enum.StrEnum):
    """What an analyst may do."""

    ANALYST = "analyst"
    RESOLVER = "resolver"
    AUDITOR = "auditor"
    ADMIN = "admin"


_ROLE_NAMES = frozenset(role.value for role in Role)


class Claims(BaseModel):
    """The verified claims of an analyst or edge token."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sub: str = Field(min_length=1, max_length=256)
    iss: str = Field(min_length=1, max_length=256)
    aud: str | list[str]
    exp: int
    iat: int | None = None
    nbf: int | None = None
    jti: str | None = Field(default=None, max_length=128)
    roles: frozenset[Role] = frozenset()

    @field_validator("roles", mode="before")
    @classmethod
    def _known_roles(cls, value: Any) -> Any:
        # An issuer serves other applications too: roles that are not ours
        # grant nothing here, and must not void the roles that are.
        if isinstance(value, list | tuple | set | frozenset):
            return [r for r in value if isinstance(r, str) and r in _ROLE_NAMES]
        return value

    # Edges carry no clearance in their token: the cloud holds the clearance
    # an administrator registered with the edge's key.
    clearance: Classification | None = None


@dataclass(frozen=True)
class TokenSigner:
    """A private key parsed once, with the ``kid`` its tokens carry."""

    key: Key
    kid: str

    @classmethod
    def from_private_key(cls, private_key: rsa.RSAPrivateKey) -> TokenSigner:
        """Build a signer; parsing the key here keeps each signature near 1 ms."""
        return cls(
            key=jwk.construct(private_key_pem(private_key), ALGORITHM),
            kid=thumbprint(private_key.public_key()),
        )

    def sign(self, claims: dict[str, Any]) -> str:
        """Sign *claims* as a compact RS256 JWS."""
        return jwt.encode(
            claims, self.key, algorithm=ALGORITHM, headers={"kid": self.kid}
        )


def _lifetime(ttl: int, cap: int | None = None) -> dict[str, Any]:
    """Return the claims every token carries: issued now, expiring, unique."""
    if ttl <= 0:
        msg = f"ttl must be positive, not {ttl}"
        raise ValueError(msg)
    now = int(time.time())
    lasts = ttl if cap is None else min(ttl, cap)
    return {"iat": now, "exp": now + lasts, "jti": str(uuid.uuid4())}


def issue_analyst_token(
    signer: TokenSigner,
    *,
    sub: str,
    roles: frozenset[Role],
    clearance: Classification,
    ttl: int,
    audience: str,
    issuer: str,
) -> str:
    """Issue an analyst token as the (development) identity issuer does."""
    claims = _lifetime(ttl)
    claims |= {
        "iss": issuer,
        "sub": sub,
        "aud": audience,
        "nbf": claims["iat"],
        "roles": sorted(roles),
        "clearance": clearance.value,
    }

    return signer.sign(claims)


def sign_edge_token(
    signer: TokenSigner,
    edge_id: str,
    *,
    audience: str,
    ttl: int = MAX_EDGE_TOKEN_TTL,
) -> str:
    """Sign an edge's token for one sync session; *ttl* is capped at 300 s."""
    claims = _lifetime(ttl, cap=MAX_EDGE_TOKEN_TTL)
    claims |= {"iss": edge_id, "sub": edge_id, "aud": audience}

    return signer.sign(claims)


def _construct(public_key: rsa.RSAPublicKey) -> Key:
    if public_key.key_size < MIN_RSA_BITS:
        msg = f"RSA keys need at least {MIN_RSA_BITS} bits, not {public_key.key_size}"
        raise ValueError(msg)
    return jwk.construct(public_key_pem(public_key), ALGORITHM)


def _check_shape(token: str) -> None:
    # Length first: it is O(1), so a megabyte of garbage costs nothing more.
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidTokenError("token too large")
    if not _COMPACT_JWS.fullmatch(token):
        raise InvalidTokenError("not a compact JWS")


def _unverified_header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except JOSEError as exc:
        raise InvalidTokenError("malformed token") from exc


def _unverified_claims(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_claims(token)
    except JOSEError as exc:
        raise InvalidTokenError("malformed token") from exc


def unverified_issuer(token: str) -> str | None:
    """
    Return the ``iss`` of a well-shaped token, unverified, to choose its key.

    Raises :class:`InvalidTokenError` on anything that is not a compact JWS.
    """
    _check_shape(token)
    issuer = _unverified_claims(token).get("iss")
    return issuer if isinstance(issuer, str) else None


def verified_expiry(token: str) -> int:
    """
    Return the ``exp`` of *token*, which a :class:`TokenVerifier` accepted.

    It checks nothing itself: a web session reads it after verification, to
    keep its cookie no longer than the token inside it lives.
    """
    _check_shape(token)
    expiry = _unverified_claims(token).get("exp")
    if not isinstance(expiry, int):
        raise InvalidTokenError("no exp claim")
    return expiry


def is_edge_token(token: str) -> bool:
    """
    Whether *token* claims to be an edge's own (``iss`` = ``sub``), unverified.

    Only picks which verifier to try; that verifier then decides.
    """
    _check_shape(token)
    claims = _unverified_claims(token)
    return bool(claims.get("iss")) and claims.get("iss") == claims.get("sub")


def _jose_reason(exc: JOSEError) -> str:
    # python-jose's messages are fixed texts ("Invalid audience", "Signature
    # verification failed.") or JSON parser positions; the one header value
    # it quotes, alg, was pinned to RS256 first. The cap guards the log line.
    return str(exc).rstrip(".")[:100] or type(exc).__name__


class TokenVerifier:
    """
    Verify RS256 tokens against keys parsed once.

    Build one with :meth:`for_issuer` (a JWK set, ``kid`` required) or
    :meth:`for_edge` (one registered key, ``iss`` = ``sub`` = the edge id,
    lifetime at most 300 s), then call :meth:`verify` per request. *keys* maps
    each ``kid`` to a key parsed once; without *require_kid* a token with no
    ``kid`` is checked against the only key.
    """

    def __init__(
        self,
        keys: Mapping[str, Key],
        *,
        audience: str,
        leeway: int = DEFAULT_LEEWAY,
        issuer: str | None = None,
        subject: str | None = None,
        max_lifetime: int | None = None,
        require_kid: bool = True,
    ) -> None:
        if not keys or (not require_kid and len(keys) != 1):
            msg = "a verifier needs keys, and exactly one when kid is optional"
            raise ValueError(msg)
        self._keys = dict(keys)
        self._require_kid = require_kid
        self.audience = audience
        self.leeway = leeway
        self.issuer = issuer
        self.subject = subject
        self.max_lifetime = max_lifetime

    @classmethod
    def for_issuer(
        cls,
        jwks: Mapping[str, rsa.RSAPublicKey],
        *,
        audience: str,
        issuer: str | None = None,
        leeway: int = DEFAULT_LEEWAY,
    ) -> TokenVerifier:
        """Verify analyst tokens against the issuer's keys, selected by ``kid``."""
        keys = {kid: _construct(key) for kid, key in jwks.items()}
        return cls(keys, audience=audience, issuer=issuer, leeway=leeway)

    @classmethod
    def for_edge(
        cls,
        edge_id: str,
        public_key: rsa.RSAPublicKey,
        *,
        audience: str,
        leeway: int = DEFAULT_LEEWAY,
    ) -> TokenVerifier:
        """Verify the tokens one edge signs with its registered key."""
        return cls(
            {thumbprint(public_key): _construct(public_key)},
            require_kid=False,
            audience=audience,
            issuer=edge_id,
            subject=edge_id,
            leeway=leeway,
            max_lifetime=MAX_EDGE_TOKEN_TTL,
        )

    def verify(self, token: str) -> Claims:
        """Return the claims of *token*, or raise :class:`InvalidTokenError`."""
        try:
            claims = self._verify(token)
        except InvalidTokenError as exc:
            log.debug("token_rejected", reason=exc.reason)
            raise
        log.debug("token_verified", sub=claims.sub, iss=claims.iss)

        return claims

    def _verify(self, token: str) -> Claims:
        _check_shape(token)
        key = self._select_key(_unverified_header(token))
        options = {
            "require_exp": True,
            "require_aud": True,
            "require_iss": self.issuer is not None,
            "require_sub": True,
            "leeway": self.leeway,
        }
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                subject=self.subject,
                options=options,
            )
        except ExpiredSignatureError as exc:
            raise InvalidTokenError("token expired") from exc
        except JOSEError as exc:
            # JWKError is not a JWTError; JOSEError covers both (STACK.md §2).
            raise InvalidTokenError(_jose_reason(exc)) from exc
        try:
            claims = Claims.model_validate(payload)
        except ValidationError as exc:
            raise InvalidTokenError("claims malformed") from exc
        self._check_lifetime(claims)

        return claims

    def _select_key(self, header: dict[str, Any]) -> Key:
        if header.get("alg") != ALGORITHM:
            raise InvalidTokenError("alg not allowed")
        if "crit" in header:
            # RFC 7515 §4.1.11: extensions we do not understand must be refused.
            raise InvalidTokenError("critical header not supported")
        kid = header.get("kid")
        if kid is None and not self._require_kid:
            return next(iter(self._keys.values()))
        if not isinstance(kid, str) or kid not in self._keys:
            raise InvalidTokenError("unknown kid")

        return self._keys[kid]

    def _check_lifetime(self, claims: Claims) -> None:
        if self.max_lifetime is None:
            return
        if claims.exp > time.time() + self.max_lifetime + self.leeway:
            raise InvalidTokenError("token lifetime above the limit")


def bearer_token(authorization: str | None) -> str:
    """
    Return the token of an ``Authorization: Bearer <token>`` header value.

    The scheme is case-insensitive (RFC 7235 §2.1); anything else, including a
    missing header, raises :class:`InvalidTokenError`.
    """
    if authorization is None:
        raise InvalidTokenError("missing Authorization header")
    # Refuse before splitting, so a huge header is never copied.
    if len(authorization) > MAX_TOKEN_BYTES + len(BEARER) + 1:
        raise InvalidTokenError("token too large")
    parts = authorization.split()
    if len(parts) != 2 or parts[0].lower() != BEARER:
        raise InvalidTokenError("not a bearer token")

    return parts[1]
