"""Reading conflicts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from cloud_service import conflicts
from cloud_service.routes.deps import MAX_INT, Session
from edgesync.problems import PROBLEM_RESPONSES, problem_responses
from syncproto import ConflictPublic, ConflictsPublic, ConflictStatus

router = APIRouter(prefix="/conflicts", tags=["conflicts"])


@router.get("", responses=PROBLEM_RESPONSES)
async def list_conflicts(
    session: Session,
    status: ConflictStatus | None = None,
    report_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._:-]{1,128}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> ConflictsPublic:
    """
    List conflicts, oldest first, with their siblings.

    `count` is the number of conflicts matching the filters in all.
    """
    return await conflicts.list_conflicts(
        session, status=status, report_id=report_id, limit=limit, offset=offset
    )


@router.get(
    "/{conflict_id}",
    responses={**PROBLEM_RESPONSES, **problem_responses(404, "No such conflict")},
)
async def get_conflict(conflict_id: uuid.UUID, session: Session) -> ConflictPublic:
    """
    Return one conflict: its base, siblings and the fields they disagree on.

    While it is open the report shows a provisional winner: the sibling with
    the latest `authored_at`, ties broken by the greater `origin`.
    """
    return await conflicts.get_conflict(session, conflict_id)
