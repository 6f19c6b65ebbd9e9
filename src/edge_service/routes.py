"""The edge's HTTP API: reports, outbox, sync status, audit log, health, metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import StringConstraints

from edge_service import audit, outbox, reports
from edge_service.auth import Principal, authenticate
from edge_service.errors import AuditQueryError
from edge_service.metrics import EdgeMetrics, status_gauges
from edge_service.models import (
    AuditFormat,
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
from edgesync.auditfile import csv_header, csv_line, ndjson_line
from edgesync.metrics import metrics_response
from edgesync.migrate import current_revision, head_revision
from edgesync.problems import PROBLEM_RESPONSES, problem_responses
from edgesync.requestlog import current_request_id
from edgesync.tokens import Role
from syncproto import AnalystId, Classification, EdgeId, ReportId, UtcDatetime
from syncproto.audit import (
    MAX_AUDIT_LIMIT,
    AuditAction,
    AuditEvent,
    AuditFilter,
    AuditPage,
    AuditRecord,
    AuditVerification,
)

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


async def current_auditor(principal: PrincipalDep) -> Principal:
    """Return the caller if they may read the audit log (the ``auditor`` role)."""
    principal.require(Role.AUDITOR)
    return principal


AuditorDep = Annotated[Principal, Depends(current_auditor)]


async def audit_filter(
    report_id: Annotated[ReportId | None, Query()] = None,
    actor: Annotated[
        AnalystId | None, Query(description="Analyst sub or edge id")
    ] = None,
    edge_id: Annotated[EdgeId | None, Query()] = None,
    action: AuditAction | None = None,
    since: Annotated[
        UtcDatetime | None,
        Query(description="Records at or after this time, with its UTC offset"),
    ] = None,
    until: Annotated[
        UtcDatetime | None,
        Query(description="Records before this time, with its UTC offset"),
    ] = None,
) -> AuditFilter:
    """Return the audit filters of a request; a range that ends first is 422."""
    if since is not None and until is not None and since > until:
        raise AuditQueryError("since must not be later than until")
    return AuditFilter(
        report_id=report_id,
        actor=actor,
        edge_id=edge_id,
        action=action,
        since=since,
        until=until,
    )


AuditFilterDep = Annotated[AuditFilter, Depends(audit_filter)]
AfterSeq = Annotated[int, Query(ge=0, le=2**63 - 1, description="Records after seq")]
# SEQ:HASH, as the X-Audit-Head-* headers of an export name its last record.
Anchor = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,17}:[0-9a-f]{64}$")]


def _anchors(given: list[str]) -> dict[int, str]:
    anchors: dict[int, str] = {}
    for anchor in given:
        seq, digest = anchor.split(":")
        if anchors.setdefault(int(seq), digest) != digest:
            msg = f"record {int(seq)} is anchored to two different hashes"
            raise AuditQueryError(msg)
    return anchors


def _author(runtime: EdgeRuntime, analyst: Principal) -> Author:
    return Author(
        edge_id=runtime.settings.edge_id,
        analyst=analyst.name,
        at=utc_now(),
        clearance=_lowest(analyst.clearance, runtime.settings.clearance),
        request_id=current_request_id(),
    )


def _lowest(*clearances: Classification | None) -> Classification | None:
    """Return the lowest of the clearances given; None when none is."""
    given = [c for c in clearances if c is not None]
    return min(given, key=lambda c: c.rank) if given else None


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


@router.get("/audit", response_model=AuditPage, responses=_AUTH_RESPONSES)
async def list_audit(
    runtime: RuntimeDep,
    auditor: AuditorDep,
    filters: AuditFilterDep,
    after: AfterSeq = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_LIMIT)] = 100,
) -> AuditPage:
    """
    List audit records in ``seq`` order; pass ``next_after`` for the next page.

    Needs the ``auditor`` role. Records about a report above the caller's
    clearance are left out.
    """
    query = partial(
        audit.list_records,
        filters=filters,
        after=after,
        limit=limit,
        clearance=auditor.clearance,
    )
    return await runtime.reader.run(query)


@router.get(
    "/audit/verify",
    response_model=AuditVerification,
    dependencies=[Depends(current_auditor)],
    responses=_AUTH_RESPONSES,
)
async def verify_audit(
    runtime: RuntimeDep,
    anchor: Annotated[
        list[Anchor] | None,
        Query(
            description="SEQ:HASH of a record noted earlier, such as an export's "
            "X-Audit-Head-* headers; repeat for several"
        ),
    ] = None,
) -> AuditVerification:
    """
    Check the whole audit chain; name the first bad ``seq`` if it is broken.

    Needs the ``auditor`` role. A record altered, removed or inserted in the
    database behind the service's back breaks the chain at that record; an
    anchor also catches a chain rewritten, hashes and head included, after
    that record was noted.
    """
    query = partial(audit.verify, anchors=_anchors(anchor or []))
    return await runtime.reader.run(query)


_EXPORT_CONTENT = {
    fmt.media_type: {"schema": {"type": "string"}} for fmt in AuditFormat
}


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses=_AUTH_RESPONSES
    | {200: {"description": "One record a line", "content": _EXPORT_CONTENT}},
)
async def export_audit(
    runtime: RuntimeDep,
    auditor: AuditorDep,
    filters: AuditFilterDep,
    export_format: Annotated[AuditFormat, Query(alias="format")] = AuditFormat.NDJSON,
    after: AfterSeq = 0,
) -> StreamingResponse:
    """
    Stream the audit records as NDJSON (to verify) or CSV, in ``seq`` order.

    Needs the ``auditor`` role. The export is itself recorded first, as an
    ``audit.exported`` record, and holds every matching record up to that
    one, which ``X-Audit-Head-Seq`` and ``X-Audit-Head-Hash`` name: keep them
    as an anchor for ``GET /audit/verify``. ``X-Audit-Complete`` is true when
    no filter and no clearance left a record out, so that the file is a chain
    that verifies offline. NDJSON lines are the records of
    ``GET /audit``; CSV has a header line and ``detail`` as a JSON cell.
    """
    # Flat, as the cloud's: {"format": "csv", "report_id": "rpt-042", ...}.
    detail: dict[str, Any] = {"format": export_format.value, **filters.describe()}
    if after:
        detail["after"] = after
    # Only a whole log is a chain that verifies offline from its first record.
    complete = not filters.describe() and not after and _sees_all(auditor.clearance)
    detail["complete"] = complete
    exported = AuditEvent(
        action=AuditAction.AUDIT_EXPORTED,
        actor=auditor.name,
        edge_id=runtime.settings.edge_id,
        request_id=current_request_id(),
        detail=detail,
    )
    job = partial(audit.append, events=[exported], at=utc_now())
    (record,) = await runtime.writer.run(job)
    pages = _audit_pages(runtime, filters, after, record.seq, auditor.clearance)
    name = f"audit-{runtime.settings.edge_id}-{record.seq}.{export_format.value}"
    return StreamingResponse(
        _encoded(pages, export_format),
        media_type=export_format.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Audit-Head-Seq": str(record.seq),
            "X-Audit-Head-Hash": record.hash,
            "X-Audit-Complete": "true" if complete else "false",
        },
    )


def _sees_all(clearance: Classification | None) -> bool:
    return clearance is None or all(c.rank <= clearance.rank for c in Classification)


async def _audit_pages(
    runtime: EdgeRuntime,
    filters: AuditFilter,
    after: int,
    through: int,
    clearance: Classification | None,
) -> AsyncIterator[list[AuditRecord]]:
    # One page per reader job: memory stays at a page however long the log,
    # and no reader connection is held while the client is slow to read.
    while True:
        query = partial(
            audit.list_records,
            filters=filters,
            after=after,
            limit=MAX_AUDIT_LIMIT,
            through=through,
            clearance=clearance,
        )
        page = await runtime.reader.run(query)
        yield page.records
        if page.next_after is None:
            return
        after = page.next_after


async def _encoded(
    pages: AsyncIterator[list[AuditRecord]], export_format: AuditFormat
) -> AsyncIterator[str]:
    line: Callable[[AuditRecord], str] = ndjson_line
    if export_format is AuditFormat.CSV:
        line = csv_line
        yield csv_header()
    async for records in pages:
        yield "".join(line(record) for record in records)


@router.get("/healthz", response_model=Health)
async def healthz(runtime: RuntimeDep, response: Response) -> Health:
    """Say whether the sync loop runs; 503 if its task has died."""
    if not runtime.loop_alive:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(
        loop_alive=runtime.loop_alive,
        last_success_at=runtime.sync_loop.last_success_at,
    )


# Left out of the OpenAPI document: it is for Prometheus, not for API
# clients. It needs no token, as /healthz does: it holds counts, ages and
# route templates, never a report's content or a credential.
@router.get("/metrics", include_in_schema=False)
async def metrics(runtime: RuntimeDep, request: Request) -> Response:
    """Answer a scrape in the Prometheus text format."""
    edge_metrics: EdgeMetrics = request.app.state.metrics
    gauges = status_gauges(await _status(runtime))
    return metrics_response(edge_metrics.registry, gauges)


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
