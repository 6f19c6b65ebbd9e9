"""The status of every edge, and their registration by an administrator."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, ClassVar

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from cloud_service import audit, edges, feed
from cloud_service.auth import (
    Analyst,
    CurrentAnalyst,
    Forbidden,
    parse_public_key,
    require,
)
from cloud_service.db import write_transaction
from cloud_service.errors import CloudError
from cloud_service.routes.deps import Session, Sessions
from edgesync.problems import PROBLEM_RESPONSES, problem_responses
from edgesync.tokens import Role
from syncproto import Classification, EdgeId
from syncproto.audit import AuditAction, AuditEvent

router = APIRouter(prefix="/edges", tags=["edges"])

Admin = Annotated[Analyst, require(Role.ADMIN)]
EdgeIdPath = Annotated[
    str, Path(pattern=r"^[a-z0-9-]{1,64}$", description="The edge's id.")
]
_NOT_FOUND = {**PROBLEM_RESPONSES, **problem_responses(404, "No such edge")}


class EdgeRegistration(BaseModel):
    """An edge's public key and clearance, as an administrator registers them."""

    model_config = ConfigDict(extra="forbid")

    edge_id: EdgeId
    public_key_pem: str = Field(
        max_length=16_384, description="RSA public key (2048 bits or more), PEM"
    )
    clearance: Classification = Field(
        description="The highest classification the edge may send and receive."
    )


class EdgeNotFound(CloudError):
    """No edge has this id."""

    status: ClassVar[int] = 404
    title: ClassVar[str] = "Edge not found"

    def __init__(self, edge_id: str) -> None:
        super().__init__(f"no registered edge has id {edge_id!r}", edge_id=edge_id)


def key_fingerprint(pem: str) -> str:
    """Return the SHA-256 of a registered key, to name it in the audit log."""
    return hashlib.sha256(pem.strip().encode()).hexdigest()


@router.get("", responses=PROBLEM_RESPONSES)
async def list_edges(session: Session, analyst: CurrentAnalyst) -> edges.EdgesPublic:
    """
    List every edge the cloud knows, with how far its pushes have arrived.

    `gap` is true when a change below `max_seq` never arrived; `lag` is how
    many feed entries the edge has not read yet.
    """
    return await edges.list_edges(session, await feed.feed_head(session))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={**PROBLEM_RESPONSES, **problem_responses(422, "Unusable key")},
)
async def register_edge(
    registration: EdgeRegistration, sessions: Sessions, admin: Admin
) -> edges.EdgePublic:
    """
    Register an edge's public key and clearance (admin role).

    From then on the edge authenticates with tokens it signs with the
    matching private key. Registering again replaces the key and clearance
    and lifts a revocation. An administrator clears an edge at most up to
    their own clearance.
    """
    if not admin.sees(registration.clearance):
        msg = (
            f"an administrator cleared for {admin.clearance} cannot clear an edge "
            f"for {registration.clearance}"
        )
        raise Forbidden(msg)
    parse_public_key(registration.public_key_pem, registration.edge_id)
    now = datetime.now(UTC)
    async with write_transaction(sessions) as session:
        await edges.register_edge(
            session,
            registration.edge_id,
            registration.public_key_pem,
            registration.clearance,
            now,
        )
        event = AuditEvent(
            action=AuditAction.EDGE_REGISTERED,
            actor=admin.sub,
            edge_id=registration.edge_id,
            detail={
                "clearance": registration.clearance.value,
                "key_sha256": key_fingerprint(registration.public_key_pem),
            },
        )
        await audit.append(session, [event])
        public = await edges.get_edge(
            session, registration.edge_id, await feed.feed_head(session)
        )
    assert public is not None
    return public


@router.post("/{edge_id}/revoke", responses=_NOT_FOUND)
async def revoke_edge(
    edge_id: EdgeIdPath, sessions: Sessions, admin: Admin
) -> edges.EdgePublic:
    """Refuse every token of the edge from now on (admin role)."""
    async with write_transaction(sessions) as session:
        if not await edges.revoke_edge(session, edge_id, datetime.now(UTC)):
            raise EdgeNotFound(edge_id)
        event = AuditEvent(
            action=AuditAction.EDGE_REVOKED, actor=admin.sub, edge_id=edge_id
        )
        await audit.append(session, [event])
        public = await edges.get_edge(session, edge_id, await feed.feed_head(session))
    assert public is not None
    return public
