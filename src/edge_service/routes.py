"""The edge's HTTP API: reports, outbox, sync status and health."""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edge_service import outbox, reports
from edge_service.auth import Principal, authenticate
from edge_service.models import (
    Health,
    OutboxPublic,
    OutboxState,
    Readiness,
    ReportCreate,
    ReportPublic,
    ReportsPublic,
    ReportUpdate,
    SyncState,
    SyncStatus,
)
from edge_service.reports import Author
from edge_service.runtime import EdgeRuntime, utc_now
from edge_service.status import build_status
from edgesync.migrate import current_revision, head_revision
from edgesync.problems import PROBLEM_RESPONSES, problem_responses
from edgesync.tokens import Role
from syncproto import AnalystId, Classification, ReportId

router = APIRouter(responses=PROBLEM_RESPONSES)

# Declared for OpenAPI, so Swagger UI offers "Authorize"; auto_error off
# because the header is optional when auth is off, and parsed by bearer_token.
bearer_scheme = HTTPBearer(
    auto_error=False,
    description="RS256 token of the identity issuer, when the edge requires one",
)
_AUTH_RESPONSES = problem_responses(
    401, "Bearer token missing or invalid"
) | problem_responses(403, "Role or clearance missing")


# Dependencies are coroutines on purpose: FastAPI runs a plain ``def`` one in a
# worker thread, and two thread hops per request cost more than the write.
async def get_runtime(request: Request) -> EdgeRuntime:
    """Return the running edge of this app."""
    runtime: EdgeRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[EdgeRuntime, Depends(get_runtime)]


async def current_principal(
    request: Request,
    runtime: RuntimeDep,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    x_analyst: Annotated[AnalystId, Header()] = "analyst",
) -> Principal:
    """
    Return who makes the request: a verified token's analyst, or X-Analyst.

    The raw header is parsed again by ``bearer_token``, which refuses an
    oversized one before splitting it; HTTPBearer only documents the scheme.
    """
    verifier = runtime.analyst_verifier
    if verifier is None:
        return Principal(name=x_analyst)
    return authenticate(verifier, request.headers.get("authorization"))


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def current_analyst(principal: PrincipalDep) -> Principal:
    """Return the caller if they may write reports (the ``analyst`` role)."""
    principal.require(Role.ANALYST)
    return principal


AnalystDep = Annotated[Principal, Depends(current_analyst)]


def _author(runtime: EdgeRuntime, analyst: Principal) -> Author:
    return Author(
        edge_id=runtime.settings.edge_id,
        analyst=analyst.name,
        at=utc_now(),
        clearance=analyst.clearance,
    )


def _written(report: ReportPublic, status_code: int = 200) -> Response:
    # The writer built this model from validated data; encoding it directly
    # spares the write path FastAPI's second validation of the response.
    return Response(
        report.model_dump_json(), status_code=status_code, media_type="application/json"
    )


@router.post(
    "/reports",
    status_code=status.HTTP_201_CREATED,
    response_model=ReportPublic,
    responses=_AUTH_RESPONSES,
)
async def create_report(
    body: ReportCreate, runtime: RuntimeDep, analyst: AnalystDep
) -> Response:
    """Create a report and queue its change for the cloud; 409 if the id exists."""
    job = partial(reports.create_report, author=_author(runtime, analyst), new=body)
    return _written(await runtime.writer.run(job), status.HTTP_201_CREATED)


@router.get("/reports", responses=_AUTH_RESPONSES, response_model=ReportsPublic)
async def list_reports(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[ReportId | None, Query()] = None,
    classification: Classification | None = None,
    sync_state: SyncState | None = None,
    include_deleted: bool = False,
) -> ReportsPublic:
    """List reports by id; pass the answer's ``next_after`` to get the next page."""
    query = partial(
        reports.list_reports,
        limit=limit,
        after=after,
        classification=classification,
        sync_state=sync_state,
        include_deleted=include_deleted,
        clearance=principal.clearance,
    )
    return await runtime.reader.run(query)


@router.get(
    "/reports/{report_id}", responses=_AUTH_RESPONSES, response_model=ReportPublic
)
async def get_report(
    report_id: ReportId,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    include_deleted: bool = False,
) -> ReportPublic:
    """Return a report with its clock, sync state and, in conflict, the cloud's."""
    query = partial(
        reports.get_report,
        report_id=report_id,
        include_deleted=include_deleted,
        clearance=principal.clearance,
    )
    return await runtime.reader.run(query)


@router.patch(
    "/reports/{report_id}", responses=_AUTH_RESPONSES, response_model=ReportPublic
)
async def update_report(
    report_id: ReportId, body: ReportUpdate, runtime: RuntimeDep, analyst: AnalystDep
) -> Response:
    """Edit some fields; with ``base_clock``, 409 if someone else edited first."""
    job = partial(
        reports.update_report,
        author=_author(runtime, analyst),
        report_id=report_id,
        patch=body,
    )
    return _written(await runtime.writer.run(job))


@router.delete(
    "/reports/{report_id}", responses=_AUTH_RESPONSES, response_model=ReportPublic
)
async def delete_report(
    report_id: ReportId, runtime: RuntimeDep, analyst: AnalystDep
) -> Response:
    """Delete a report; it stays readable with ``include_deleted``."""
    job = partial(
        reports.delete_report, author=_author(runtime, analyst), report_id=report_id
    )
    return _written(await runtime.writer.run(job))


@router.get("/outbox", response_model=OutboxPublic, responses=_AUTH_RESPONSES)
async def list_outbox(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    state: OutboxState | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
) -> OutboxPublic:
    """List changes in ``origin_seq`` order, without content; none above clearance."""
    query = partial(
        outbox.list_outbox,
        limit=limit,
        after=after,
        state=state,
        clearance=principal.clearance,
    )
    return await runtime.reader.run(query)


@router.get(
    "/sync/status",
    response_model=SyncStatus,
    dependencies=[Depends(current_principal)],
    responses=_AUTH_RESPONSES,
)
async def sync_status(runtime: RuntimeDep) -> SyncStatus:
    """Say how far this edge is from the cloud and how its sync loop is doing."""
    return await _status(runtime)


@router.post(
    "/sync/run",
    response_model=SyncStatus,
    dependencies=[Depends(current_principal)],
    responses=_AUTH_RESPONSES,
)
async def sync_run(runtime: RuntimeDep) -> SyncStatus:
    """Run a sync cycle now, wait for it (within a bound) and return the status."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(runtime.settings.sync_run_timeout):
            await runtime.sync_loop.run_now()
    return await _status(runtime)


@router.get("/healthz", response_model=Health)
async def healthz(runtime: RuntimeDep, response: Response) -> Health:
    """Say whether the sync loop runs; 503 if its task has died."""
    if not runtime.loop_alive:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(
        loop_alive=runtime.loop_alive,
        last_success_at=runtime.sync_loop.last_success_at,
    )


@router.get("/readyz", response_model=Readiness)
async def readyz(runtime: RuntimeDep, response: Response) -> Readiness:
    """Say whether the database answers and is migrated to the newest revision."""
    head = head_revision("edge")
    try:
        revision = await current_revision(runtime.engine)
    except Exception:
        revision = None
        reachable = False
    else:
        reachable = True
    if not reachable or revision != head:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(database=reachable, revision=revision, head=head)


async def _status(runtime: EdgeRuntime) -> SyncStatus:
    query = partial(
        build_status,
        edge_id=runtime.settings.edge_id,
        loop_alive=runtime.loop_alive,
        now=utc_now(),
    )
    return await runtime.reader.run(query)
