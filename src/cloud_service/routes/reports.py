"""Reading reports and their history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cloud_service import audit, reports
from cloud_service.auth import CurrentAnalyst
from cloud_service.errors import ReportNotFound
from cloud_service.routes.deps import ReportIdPath, Session
from edgesync.problems import PROBLEM_RESPONSES, problem_responses
from edgesync.tokens import Role
from syncproto import Classification
from syncproto.audit import MAX_AUDIT_LIMIT, AuditFilter

router = APIRouter(prefix="/reports", tags=["reports"])
_NOT_FOUND = {**PROBLEM_RESPONSES, **problem_responses(404, "No such report")}


@router.get("", responses=PROBLEM_RESPONSES)
async def list_reports(
    session: Session,
    analyst: CurrentAnalyst,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z0-9._:-]{1,128}$",
            description="Return reports with an id above this one.",
        ),
    ] = None,
    classification: Classification | None = None,
    include_deleted: bool = False,
) -> reports.ReportsPublic:
    """
    List reports ordered by report id.

    Pass `next_after` as `after` for the next page; it is null on the last
    page. Deleted reports are left out unless `include_deleted` is true,
    reports above the caller's clearance always.
    """
    return await reports.list_reports(
        session,
        after=after,
        limit=limit,
        classification=classification,
        include_deleted=include_deleted,
        visible=analyst.visible,
    )


@router.get("/{report_id}", responses=_NOT_FOUND)
async def get_report(
    report_id: ReportIdPath, session: Session, analyst: CurrentAnalyst
) -> reports.ReportPublic:
    """Return a report's current version, or 404 (also above your clearance)."""
    report = await reports.get_report(session, report_id)
    if not analyst.sees(report.classification):
        raise ReportNotFound(report_id)
    return report


@router.get("/{report_id}/history", responses=_NOT_FOUND)
async def get_history(
    report_id: ReportIdPath, session: Session, analyst: CurrentAnalyst
) -> reports.ReportHistoryPublic:
    """
    Return every version of a report, oldest first.

    Each received change appears once with its outcome (applied, stale,
    merged, conflict); versions the cloud made itself (merged, provisional)
    appear with the change that triggered them. Versions above the caller's
    clearance are left out. A caller with the auditor role also gets the
    report's audit trail.
    """
    if not analyst.sees((await reports.get_report(session, report_id)).classification):
        raise ReportNotFound(report_id)
    history = await reports.get_history(session, report_id)
    # A report lowered since keeps its earlier, higher versions from view.
    history.versions = [
        v for v in history.versions if analyst.sees(v.fields.classification)
    ]
    if Role.AUDITOR in analyst.roles:
        trail = AuditFilter(report_id=report_id)
        page = await audit.list_records(
            session, trail, 0, MAX_AUDIT_LIMIT, visible=analyst.visible
        )
        history.audit = page.records
    return history
