"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.exc import SQLAlchemyError

from cloud_service.errors import NotReady
from edgesync.migrate import current_revision, head_revision
from edgesync.problems import problem_responses

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Answer as long as the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", responses=problem_responses(503, "Not ready"))
async def readyz(request: Request) -> dict[str, str]:
    """Answer 200 when the database answers and is at the newest migration."""
    try:
        revision = await current_revision(request.app.state.engine)
    except (SQLAlchemyError, OSError) as exc:
        raise NotReady("the database does not answer") from exc
    head = head_revision("cloud")
    if revision != head:
        raise NotReady(f"the database is at revision {revision}, not {head}")
    return {"status": "ready"}
