"""Reading, verifying and exporting the audit log (auditor role)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Annotated, ClassVar

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import StringConstraints

from cloud_service import audit
from cloud_service.auth import Analyst, require
from cloud_service.db import write_transaction
from cloud_service.errors import CloudError
from cloud_service.routes.deps import MAX_BIGINT, Session, Sessions
from edgesync.auditfile import csv_header, csv_line, ndjson_line
from edgesync.problems import PROBLEM_RESPONSES
from edgesync.tokens import Role
from syncproto import AnalystId, Classification, UtcDatetime
from syncproto.audit import (
    MAX_AUDIT_LIMIT,
    AuditAction,
    AuditEvent,
    AuditFilter,
    AuditPage,
    AuditVerification,
)

router = APIRouter(prefix="/audit", tags=["audit"])

Auditor = Annotated[Analyst, require(Role.AUDITOR)]
Anchor = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,17}:[0-9a-f]{64}$")]


class ExportFormat(StrEnum):
    """The file formats of an export."""

    NDJSON = "ndjson"
    CSV = "csv"


_MEDIA_TYPES = {
    ExportFormat.NDJSON: "application/x-ndjson",
    ExportFormat.CSV: "text/csv",
}


class InvalidAuditQuery(CloudError):
    """Filters that cannot match anything as given."""

    status: ClassVar[int] = 422
    title: ClassVar[str] = "Invalid audit query"


async def audit_filter(
    report_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._:-]{1,128}$")] = None,
    actor: Annotated[
        AnalystId | None, Query(description="Analyst sub or edge id.")
    ] = None,
    edge_id: Annotated[str | None, Query(pattern=r"^[a-z0-9-]{1,64}$")] = None,
    action: AuditAction | None = None,
    since: Annotated[
        UtcDatetime | None,
        Query(description="Records at or after this time, with its UTC offset."),
    ] = None,
    until: Annotated[
        UtcDatetime | None,
        Query(description="Records before this time, with its UTC offset."),
    ] = None,
) -> AuditFilter:
    """Return the filters of a request; a range that ends first is 422."""
    if since is not None and until is not None and since > until:
        raise InvalidAuditQuery("since must not be later than until")
    return AuditFilter(
        report_id=report_id,
        actor=actor,
        edge_id=edge_id,
        action=action,
        since=since,
        until=until,
    )


Filters = Annotated[AuditFilter, Depends(audit_filter)]


@router.get("", responses=PROBLEM_RESPONSES)
async def list_audit(
    session: Session,
    auditor: Auditor,
    filters: Filters,
    after: Annotated[
        int, Query(ge=0, le=MAX_BIGINT, description="Return records above this seq.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_LIMIT)] = 100,
) -> AuditPage:
    """
    List audit records in seq order (auditor role).

    Filter by report, actor, edge, action and time range.
    Pass `next_after` as `after` for the next page. Records about reports
    above the caller's clearance are left out.
    """
    return await audit.list_records(
        session, filters, after, limit, visible=auditor.visible
    )


@router.get("/verify", responses=PROBLEM_RESPONSES)
async def verify_audit(
    sessions: Sessions,
    auditor: Auditor,
    anchor: Annotated[
        list[Anchor] | None,
        Query(
            description="`SEQ:HASH` of a record noted earlier (for instance from an "
            "export's `X-Audit-Head-*` headers); repeat for several.",
        ),
    ] = None,
) -> AuditVerification:
    """
    Check the whole hash chain against its head (auditor role).

    `first_bad_seq` names the first record that was altered, removed or
    inserted; `ok` is true when there is none. An anchor catches a chain that
    was rewritten, hashes and head included, after that record was noted.
    """
    anchors: dict[int, str] = {}
    for given in anchor or []:
        seq, digest = given.split(":")
        if anchors.setdefault(int(seq), digest) != digest:
            msg = f"record {seq} is anchored to two different hashes"
            raise InvalidAuditQuery(msg)
    return await audit.verify(sessions, anchors)


@router.get(
    "/export",
    responses={
        **PROBLEM_RESPONSES,
        200: {
            "description": "The records, one per line.",
            "content": {"application/x-ndjson": {}, "text/csv": {}},
        },
    },
    response_class=StreamingResponse,
)
async def export_audit(
    sessions: Sessions,
    auditor: Auditor,
    filters: Filters,
    format: ExportFormat = ExportFormat.NDJSON,
) -> StreamingResponse:
    """
    Export audit records as NDJSON or CSV, streamed (auditor role).

    The export is itself recorded first, and includes every matching record
    up to that one: `X-Audit-Head-Seq` and `X-Audit-Head-Hash` name it, to
    keep as an anchor for `GET /audit/verify`. `X-Audit-Complete` is true
    when no filter and no clearance left a record out: such an NDJSON export
    is a chain that `edgesync audit verify --file` checks offline.
    """
    # Only a whole log is a chain that verifies offline from its first record.
    complete = not filters.describe() and auditor.visible == frozenset(Classification)
    event = AuditEvent(
        action=AuditAction.AUDIT_EXPORTED,
        actor=auditor.sub,
        detail={"format": format.value, **filters.describe(), "complete": complete},
    )
    async with write_transaction(sessions) as session:
        head_seq, head_hash = await audit.append(session, [event])

    async def lines() -> AsyncIterator[str]:
        if format is ExportFormat.CSV:
            yield csv_header()
        encode = csv_line if format is ExportFormat.CSV else ndjson_line
        visible = auditor.visible
        async for found in audit.stream_records(sessions, filters, head_seq, visible):
            yield encode(found)

    name = f"edgesync-audit-{head_seq}.{format.value}"
    return StreamingResponse(
        lines(),
        media_type=_MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Audit-Head-Seq": str(head_seq),
            "X-Audit-Head-Hash": head_hash,
            "X-Audit-Complete": "true" if complete else "false",
        },
    )
