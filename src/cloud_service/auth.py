"""
Who is calling the cloud: analysts with issuer tokens, edges with their own.

Authentication is on when ``issuer_jwks_file`` is configured. Analyst tokens
are checked against the issuer's JWK set, parsed once at start. An edge token
is checked against the key an administrator registered for that edge, read
from the database on every request: a revocation or a new key takes effect at
once on every replica, and only the parsing of a key is cached.

Every refusal is a problem answer (401 with ``WWW-Authenticate: Bearer``, or
403) whose detail never quotes the token.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated, ClassVar

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_service.errors import CloudError
from cloud_service.routes.deps import get_session
from cloud_service.settings import CloudSettings
from cloud_service.tables import edges_table
from edgesync.keys import KeyFileError, load_jwks, load_public_key_pem
from edgesync.tokens import (
    InvalidTokenError,
    Role,
    TokenVerifier,
    check_configured,
    is_edge_token,
    unverified_issuer,
)
from syncproto import Classification

log = structlog.get_logger()

_bearer = HTTPBearer(
    auto_error=False,
    description="An analyst's token from the identity issuer, or an edge's "
    "token signed with its registered key (RS256).",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


class Unauthenticated(CloudError):
    """No valid bearer token."""

    status: ClassVar[int] = 401
    title: ClassVar[str] = "Unauthorized"
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": "Bearer"}


class Forbidden(CloudError):
    """A valid token that does not allow this call."""

    status: ClassVar[int] = 403
    title: ClassVar[str] = "Forbidden"


@dataclass(frozen=True)
class Analyst:
    """A verified analyst: who, what they may do, what they may see."""

    sub: str
    roles: frozenset[Role]
    clearance: Classification

    def sees(self, classification: Classification) -> bool:
        """Whether a report of *classification* is within this analyst's clearance."""
        return classification.rank <= self.clearance.rank

    @property
    def visible(self) -> frozenset[Classification]:
        """Every classification this analyst may read."""
        return frozenset(c for c in Classification if self.sees(c))


@dataclass(frozen=True)
class EdgeCaller:
    """A verified, registered, unrevoked edge and its clearance."""

    edge_id: str
    clearance: Classification

    def sees(self, classification: Classification) -> bool:
        """Whether a report of *classification* is within the edge's clearance."""
        return classification.rank <= self.clearance.rank


# With authentication off (no issuer configured) every caller is this one:
# the development mode the README describes, never a production default.
OPEN_ANALYST = Analyst("anonymous", frozenset(Role), Classification.IL5)


class Authenticator:
    """The verifiers one app uses, built once from its settings."""

    def __init__(self, settings: CloudSettings) -> None:
        check_configured(settings.issuer_jwks_file, settings.allow_anonymous, "cloud")
        self.enabled = settings.issuer_jwks_file is not None
        self.audience = settings.token_audience
        self.leeway = settings.token_leeway
        self._analysts: TokenVerifier | None = None
        if settings.issuer_jwks_file is not None:
            self._analysts = TokenVerifier.for_issuer(
                load_jwks(settings.issuer_jwks_file),
                audience=settings.token_audience,
                issuer=settings.token_issuer,
                leeway=settings.token_leeway,
            )

    def analyst(self, token: str) -> Analyst:
        """Verify an analyst's token, or raise :class:`Unauthenticated`."""
        assert self._analysts is not None
        try:
            claims = self._analysts.verify(token)
        except InvalidTokenError as exc:
            raise Unauthenticated(f"analyst token refused: {exc.reason}") from exc
        if claims.clearance is None:
            raise Unauthenticated("analyst token refused: no clearance claim")
        return Analyst(claims.sub, claims.roles, claims.clearance)

    async def edge(self, session: AsyncSession, token: str) -> EdgeCaller:
        """Verify an edge's token against its registration, or raise."""
        try:
            edge_id = unverified_issuer(token)
        except InvalidTokenError as exc:
            raise Unauthenticated(f"edge token refused: {exc.reason}") from exc
        columns = edges_table.c
        row = (
            await session.execute(
                select(
                    columns.public_key_pem, columns.clearance, columns.revoked_at
                ).where(columns.edge_id == (edge_id or ""))
            )
        ).first()
        if row is None or row.public_key_pem is None or row.clearance is None:
            raise Unauthenticated("edge token refused: edge not registered")
        if row.revoked_at is not None:
            raise Unauthenticated("edge token refused: edge revoked")
        assert edge_id is not None
        verifier = _edge_verifier(
            edge_id, row.public_key_pem, self.audience, self.leeway
        )
        try:
            verifier.verify(token)
        except InvalidTokenError as exc:
            raise Unauthenticated(f"edge token refused: {exc.reason}") from exc
        return EdgeCaller(edge_id, Classification(row.clearance))


@functools.lru_cache(maxsize=1024)
def _edge_verifier(edge_id: str, pem: str, audience: str, leeway: int) -> TokenVerifier:
    # Keyed by the PEM itself: a re-registered key is a new entry, never a
    # stale one, so the cache can only save time.
    key = load_public_key_pem(pem.encode(), source=f"key of {edge_id}")
    return TokenVerifier.for_edge(edge_id, key, audience=audience, leeway=leeway)


def parse_public_key(pem: str, edge_id: str) -> None:
    """Check that *pem* is a usable RSA public key, or raise a 422 problem."""
    try:
        load_public_key_pem(pem.encode(), source="public_key_pem")
    except KeyFileError as exc:
        raise InvalidPublicKey(str(exc), edge_id) from exc


class InvalidPublicKey(CloudError):
    """A registration's key is not an RSA public key of 2048 bits or more."""

    status: ClassVar[int] = 422
    title: ClassVar[str] = "Invalid public key"

    def __init__(self, detail: str, edge_id: str) -> None:
        super().__init__(detail, edge_id=edge_id)


def _authenticator(request: Request) -> Authenticator:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None:
        raise Unauthenticated("this call needs an Authorization: Bearer token")
    return credentials.credentials


async def current_analyst(request: Request, credentials: Credentials) -> Analyst:
    """Return the calling analyst (everyone, with authentication off)."""
    authenticator = _authenticator(request)
    if not authenticator.enabled:
        return OPEN_ANALYST
    analyst = authenticator.analyst(_token(credentials))
    request.state.actor = analyst.sub
    return analyst


async def current_edge(
    request: Request,
    credentials: Credentials,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> EdgeCaller | None:
    """Return the calling edge, or None with authentication off."""
    authenticator = _authenticator(request)
    if not authenticator.enabled:
        return None
    edge = await authenticator.edge(session, _token(credentials))
    request.state.actor = edge.edge_id
    return edge


async def current_caller(
    request: Request,
    credentials: Credentials,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Analyst | EdgeCaller | None:
    """Return the calling analyst or edge, for calls open to both."""
    authenticator = _authenticator(request)
    if not authenticator.enabled:
        return None
    token = _token(credentials)
    try:
        by_edge = is_edge_token(token)
    except InvalidTokenError as exc:
        raise Unauthenticated(f"token refused: {exc.reason}") from exc
    if by_edge:
        return await authenticator.edge(session, token)
    return authenticator.analyst(token)


def require(role: Role) -> object:
    """A dependency that lets in analysts holding *role*."""

    async def check(analyst: CurrentAnalyst) -> Analyst:
        if role not in analyst.roles:
            log.info("authorization_refused", sub=analyst.sub, role=role.value)
            raise Forbidden(f"this call needs the {role.value} role")
        return analyst

    return Depends(check)


CurrentAnalyst = Annotated[Analyst, Depends(current_analyst)]
CurrentEdge = Annotated[EdgeCaller | None, Depends(current_edge)]
CurrentCaller = Annotated[Analyst | EdgeCaller | None, Depends(current_caller)]
