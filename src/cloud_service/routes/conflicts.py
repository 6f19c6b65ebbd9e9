"""Reading conflicts, and resolving them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_service import conflicts, reports, resolution
from cloud_service.auth import Analyst, CurrentAnalyst, Forbidden
from cloud_service.db import write_transaction
from cloud_service.errors import (
    ConflictNotFound,
    PreconditionRequired,
    ResolverRequired,
)
from cloud_service.routes.deps import MAX_INT, Session, Sessions
from edgesync.problems import PROBLEM_RESPONSES, problem_responses
from edgesync.tokens import Role
from syncproto import (
    AnalystId,
    ConflictPublic,
    ConflictResolution,
    ConflictsPublic,
    ConflictStatus,
)

router = APIRouter(prefix="/conflicts", tags=["conflicts"])

_ETAG = {
    "ETag": {
        "description": "Send it back in `If-Match` to resolve this conflict.",
        "schema": {"type": "string"},
    }
}
_NOT_FOUND = problem_responses(404, "No such conflict")
_RESOLVE_RESPONSES: dict[int | str, Any] = {
    200: {"description": "The conflict, resolved", "headers": _ETAG},
    **PROBLEM_RESPONSES,
    **_NOT_FOUND,
    **problem_responses(
        409, "Already resolved, or changed since read; the body holds it as it is"
    ),
    **problem_responses(428, "No If-Match header"),
}
_EXAMPLES: dict[str, Any] = {
    "keep": {
        "summary": "Keep one sibling",
        "value": {
            "keep": "00000000-0000-4000-8000-000000000002",
            "reason": "edge-b's analyst had the later field report",
        },
    },
    "fields": {
        "summary": "Give field values",
        "description": "Absent fields keep the report's current value.",
        "value": {
            "fields": {"title": "Bridge at grid 4417 intact"},
            "reason": "confirmed by both teams on the radio",
        },
    },
}


async def current_resolver(
    request: Request,
    analyst: CurrentAnalyst,
    x_analyst: Annotated[
        AnalystId | None,
        Header(description="The resolver, only while authentication is off."),
    ] = None,
) -> str:
    """
    Return the analyst resolving a conflict: the token's ``sub``.

    A resolver needs the ``resolver`` role. With authentication off (a
    development cloud) the ``X-Analyst`` header names the resolver instead.
    """
    if _authentication_on(request):
        if Role.RESOLVER not in analyst.roles:
            raise Forbidden("resolving a conflict needs the resolver role")
        return analyst.sub
    if x_analyst is None:
        raise ResolverRequired()
    return x_analyst


def _authentication_on(request: Request) -> bool:
    return bool(request.app.state.authenticator.enabled)


async def _check_visible(
    session: AsyncSession, report_id: str, analyst: Analyst, conflict_id: uuid.UUID
) -> None:
    # Above the caller's clearance a conflict does not exist for them.
    report = await reports.get_report(session, report_id)
    if not analyst.sees(report.classification):
        raise ConflictNotFound(conflict_id)


Resolver = Annotated[str, Depends(current_resolver)]


@router.get("", responses=PROBLEM_RESPONSES)
async def list_conflicts(
    session: Session,
    analyst: CurrentAnalyst,
    status: ConflictStatus | None = None,
    report_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._:-]{1,128}$")] = None,
    edge_id: Annotated[
        str | None,
        Query(
            pattern=r"^[a-z0-9-]{1,64}$",
            description="Only conflicts with a sibling from this edge.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> ConflictsPublic:
    """
    List conflicts, oldest first, with their siblings and field diffs.

    `count` is the number of conflicts matching the filters in all; conflicts
    on reports above the caller's clearance are left out.
    """
    return await conflicts.list_conflicts(
        session,
        status=status,
        report_id=report_id,
        edge_id=edge_id,
        limit=limit,
        offset=offset,
        visible=analyst.visible,
    )


@router.get(
    "/{conflict_id}",
    responses={
        200: {"description": "The conflict", "headers": _ETAG},
        **PROBLEM_RESPONSES,
        **_NOT_FOUND,
    },
)
async def get_conflict(
    conflict_id: uuid.UUID,
    session: Session,
    response: Response,
    analyst: CurrentAnalyst,
) -> ConflictPublic:
    """
    Return one conflict: its base, siblings and the fields they disagree on.

    Each sibling lists the fields it changed against the base, and `diff`
    shows every conflicting field in the base and in each sibling. While the
    conflict is open the report shows a provisional winner: the sibling with
    the latest `authored_at`, ties broken by the greater `origin`. The `ETag`
    header is what `POST /conflicts/{conflict_id}/resolve` needs in `If-Match`.
    """
    conflict = await conflicts.get_conflict(session, conflict_id)
    await _check_visible(session, conflict.report_id, analyst, conflict_id)
    clock = await resolution.report_clock(session, conflict.report_id)
    response.headers["ETag"] = resolution.conflict_etag(conflict, clock)
    return conflict


@router.post("/{conflict_id}/resolve", responses=_RESOLVE_RESPONSES)
async def resolve_conflict(
    conflict_id: uuid.UUID,
    body: Annotated[ConflictResolution, Body(openapi_examples=_EXAMPLES)],
    sessions: Sessions,
    resolver: Resolver,
    analyst: CurrentAnalyst,
    response: Response,
    if_match: Annotated[
        str | None,
        Header(description="The ETag of `GET /conflicts/{conflict_id}`."),
    ] = None,
) -> ConflictPublic:
    """
    Resolve a conflict: keep one sibling, or give the field values.

    `keep` takes a sibling's `change_id`; `fields` takes any of `title`,
    `content`, `classification` and `deleted`, and the others keep the
    report's current (provisional) value. The resolved version's clock is the
    pointwise max of every sibling and of the current version, plus one for
    `cloud`, so every edge takes it over the conflict through the feed.

    Send the conflict's ETag in `If-Match`: 428 without it, 409 with the
    conflict as it is now when a sibling joined or the report moved on since
    you read it, and 409
    with the existing resolution when it is resolved already.
    """
    if if_match is None:
        raise PreconditionRequired()
    async with write_transaction(sessions) as session:
        shown = await conflicts.get_conflict(session, conflict_id)
        await _check_visible(session, shown.report_id, analyst, conflict_id)
        resolved = await resolution.resolve_conflict(
            session,
            conflict_id,
            body,
            resolver=resolver,
            if_match=if_match,
            now=datetime.now(UTC),
        )
    assert resolved.resolution is not None
    response.headers["ETag"] = resolution.conflict_etag(
        resolved, resolved.resolution.clock
    )
    return resolved
