"""
Who is asking: analysts' bearer tokens, and the keys read once at start.

With ``EDGESYNC_ISSUER_JWKS_FILE`` set, every API call but health and docs
needs an RS256 token of the identity issuer, verified offline against its JWK
set; the token's ``sub`` authors writes, its roles allow them and its
``clearance`` bounds which reports exist for the caller. Without it, the
``X-Analyst`` header names the author and nothing is restricted, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import TypeAdapter, ValidationError

from edge_service.credentials import EdgeCredentials
from edge_service.errors import ForbiddenError, NotAuthenticatedError
from edge_service.settings import EdgeSettings
from edgesync.keys import load_jwks, load_private_key
from edgesync.tokens import (
    InvalidTokenError,
    Role,
    TokenSigner,
    TokenVerifier,
    bearer_token,
    check_configured,
)
from syncproto import AnalystId, Classification

_ANALYST_ID: TypeAdapter[str] = TypeAdapter(AnalystId)


@dataclass(frozen=True)
class Principal:
    """
    The caller of one request.

    ``roles`` and ``clearance`` are None when authentication is off: the
    caller may then do and see everything, as before authentication existed.
    """

    name: str
    roles: frozenset[Role] | None = None
    clearance: Classification | None = None

    def require(self, role: Role) -> None:
        """Raise :class:`ForbiddenError` unless the caller holds *role*."""
        if self.roles is not None and role not in self.roles:
            msg = f"the {role.value!r} role is required"
            raise ForbiddenError(msg)


def authenticate(verifier: TokenVerifier, authorization: str | None) -> Principal:
    """Return the analyst of an ``Authorization`` header value, or raise 401."""
    try:
        claims = verifier.verify(bearer_token(authorization))
        if claims.clearance is None:
            # Fail closed: a token that states no clearance grants none.
            raise InvalidTokenError("token has no clearance")
        name = _ANALYST_ID.validate_python(claims.sub)
    except InvalidTokenError as exc:
        raise NotAuthenticatedError(
            exc.reason, presented=authorization is not None
        ) from exc
    except ValidationError as exc:
        # The sub becomes the change's author, which the protocol bounds.
        raise NotAuthenticatedError(
            "subject is not a valid analyst id", presented=True
        ) from exc

    return Principal(name=name, roles=claims.roles, clearance=claims.clearance)


def load_analyst_verifier(settings: EdgeSettings) -> TokenVerifier | None:
    """Return the verifier of analyst tokens, or None when auth is off."""
    check_configured(settings.issuer_jwks_file, settings.allow_anonymous, "edge")
    if settings.issuer_jwks_file is None:
        return None
    return TokenVerifier.for_issuer(
        load_jwks(settings.issuer_jwks_file),
        audience=settings.token_audience,
        issuer=settings.token_issuer,
        leeway=settings.token_leeway,
    )


class EdgeKeyNotConfiguredError(RuntimeError):
    """Analyst auth is on, so the cloud requires edge tokens, but no edge key is set."""

    def __init__(self) -> None:
        super().__init__(
            "the edge authenticates analysts (EDGESYNC_ISSUER_JWKS_FILE is set) "
            "but has no key of its own: set EDGESYNC_EDGE_KEY_FILE to this edge's "
            "RSA private key, or every sync with the cloud is refused with 401"
        )


def load_edge_credentials(settings: EdgeSettings) -> EdgeCredentials | None:
    """
    Return the signer of this edge's tokens, or None without an edge key.

    With analyst auth on, an edge key is required: raise
    :class:`EdgeKeyNotConfiguredError` rather than start an edge whose every
    sync would be refused.
    """
    if settings.edge_key_file is None:
        if settings.issuer_jwks_file is not None:
            raise EdgeKeyNotConfiguredError
        return None
    signer = TokenSigner.from_private_key(load_private_key(settings.edge_key_file))
    return EdgeCredentials(signer, settings.edge_id, audience=settings.token_audience)
