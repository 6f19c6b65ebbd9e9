"""
The cloud's dashboard pages: edges at ``/``, reports and conflicts below.

Each page reads through the API's own route functions, or the domain calls
behind them with the same filters, as the signed-in analyst: a page shows
exactly what the API answers that analyst (nothing above their clearance,
the audit trail only for auditors), and a resolution made here goes through
``POST /conflicts/{id}/resolve`` itself, its ETag precondition included.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Form, Query, Request, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_service import conflicts, edges, feed, reports
from cloud_service.auth import OPEN_ANALYST, Analyst, Authenticator
from cloud_service.dashboard import views
from cloud_service.errors import (
    ConflictAlreadyResolved,
    ConflictChanged,
    NotASibling,
    ResolverRequired,
)
from cloud_service.refusals import record_refusal
from cloud_service.routes import conflicts as conflict_routes
from cloud_service.routes import reports as report_routes
from cloud_service.routes.deps import MAX_INT, Session, Sessions
from edgesync.tokens import Role
from edgesync.webpages import (
    InvalidPageInput,
    PageNotFound,
    PageRedirect,
    WebUI,
    asset_router,
    page_router,
)
from edgesync.websession import (
    WebAuth,
    WebSession,
    check_form,
    open_session,
    sign_in_router,
)
from syncproto import (
    AnalystId,
    Classification,
    ConflictsPublic,
    ConflictStatus,
    ReportId,
)

COOKIE = "__Host-edgesync-cloud"
HOME = "/"
REPORTS = "/dashboard/reports"
CONFLICTS = "/dashboard/conflicts"
PAGE_SIZE = 100
RECENTLY_RESOLVED = 20
# Seconds between live refreshes of a page's main region.
LIVE = 5

UI = WebUI.create(
    Path(__file__).parent,
    service="edgesync cloud",
    nav=(("Edges", HOME), ("Reports", REPORTS), ("Conflicts", CONFLICTS)),
    refused=record_refusal,
)
_REPORT_ID: TypeAdapter[str] = TypeAdapter(ReportId)
_ANALYST_ID: TypeAdapter[str] = TypeAdapter(AnalystId)


def _web_auth(request: Request) -> WebAuth[Analyst]:
    authenticator: Authenticator = request.app.state.authenticator
    return WebAuth(
        cookie=COOKIE,
        verify=authenticator.analyst if authenticator.enabled else None,
        anonymous=OPEN_ANALYST,
        name=_analyst_name,
    )


def _analyst_name(analyst: Analyst) -> str:
    return analyst.sub


async def current_viewer(request: Request) -> WebSession[Analyst]:
    """Return the signed-in analyst, or send the browser to the sign-in form."""
    viewer = await open_session(request, UI, _web_auth(request))
    # A refusal recorded later names the analyst, as the API's records do.
    request.state.actor = viewer.principal.sub
    return viewer


Viewer = Annotated[WebSession[Analyst], Depends(current_viewer)]

router = page_router(UI)
router.include_router(asset_router(UI))
router.include_router(sign_in_router(UI, _web_auth))


@router.get(HOME)
async def edges_page(request: Request, db: Session, viewer: Viewer) -> Response:
    """Every edge: clearance, last push and pull, what it sent, how far behind."""
    head = await feed.feed_head(db)
    listed = await edges.list_edges(db, head)
    waiting = await conflicts.list_conflicts(
        db,
        status=ConflictStatus.OPEN,
        report_id=None,
        edge_id=None,
        limit=1,
        offset=0,
        visible=viewer.principal.visible,
    )
    return UI.render(
        request,
        "edges.html",
        edges=listed.edges,
        head=head,
        open_conflicts=waiting.count,
        live=LIVE,
    )


@router.get(REPORTS)
async def reports_page(
    request: Request,
    db: Session,
    viewer: Viewer,
    classification: str = "",
    q: Annotated[str, Query(max_length=200)] = "",
    after: str = "",
    deleted: bool = False,
) -> Response:
    """The reports' current versions, filtered, with sync and conflict badges."""
    marking = _classification(classification)
    if after:
        _report_id(after, InvalidPageInput(f"{after!r} is not a report id"))
    page = await reports.list_reports(
        db,
        after=after or None,
        limit=PAGE_SIZE,
        classification=marking,
        include_deleted=deleted,
        visible=viewer.principal.visible,
        search=q.strip() or None,
    )
    known = (await edges.list_edges(db, await feed.feed_head(db))).edges
    filters = {"classification": classification, "q": q} | (
        {"deleted": "on"} if deleted else {}
    )
    more = None
    if page.next_after is not None:
        more = f"{REPORTS}?{urlencode(filters | {'after': page.next_after})}"
    return UI.render(
        request,
        "reports.html",
        rows=[(report, views.reach(report, known)) for report in page.reports],
        classifications=list(Classification),
        chosen=classification,
        q=q,
        deleted=deleted,
        more=more,
        live=LIVE,
    )


@router.get(REPORTS + "/{report_id}")
async def report_page(
    request: Request, report_id: str, db: Session, viewer: Viewer
) -> Response:
    """One report: its current version, which edges hold it, its history."""
    _report_id(report_id, PageNotFound(f"no report has id {report_id!r}"))
    analyst = viewer.principal
    report = await report_routes.get_report(report_id, db, analyst)
    history = await report_routes.get_history(report_id, db, analyst)
    known = (await edges.list_edges(db, await feed.feed_head(db))).edges
    return UI.render(
        request,
        "report.html",
        report=report,
        versions=list(reversed(history.versions)),
        audit=history.audit,
        reach=views.reach(report, known),
        live=LIVE,
    )


@router.get(CONFLICTS)
async def conflicts_page(
    request: Request,
    db: Session,
    viewer: Viewer,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> Response:
    """Open conflicts first, oldest first; then the latest resolved ones."""
    visible = viewer.principal.visible
    waiting = await _conflicts(db, ConflictStatus.OPEN, visible, PAGE_SIZE, offset)
    total = (await _conflicts(db, ConflictStatus.RESOLVED, visible, 1, 0)).count
    latest = await _conflicts(
        db,
        ConflictStatus.RESOLVED,
        visible,
        RECENTLY_RESOLVED,
        max(total - RECENTLY_RESOLVED, 0),
    )
    more = offset + PAGE_SIZE if waiting.count > offset + PAGE_SIZE else None
    return UI.render(
        request,
        "conflicts.html",
        waiting=waiting,
        resolved=list(reversed(latest.conflicts)),
        resolved_count=total,
        offset=offset,
        more=more,
        live=LIVE,
    )


@router.get(CONFLICTS + "/{conflict_id}")
async def conflict_page(
    request: Request,
    conflict_id: str,
    sessions: Sessions,
    viewer: Viewer,
    resolved: bool = False,
) -> Response:
    """A conflict's siblings against their base, field by field, and its form."""
    notice = "The conflict is resolved; the edges take it on their next pull."
    return await _conflict_view(
        request,
        sessions,
        viewer,
        _conflict_id(conflict_id),
        notice=notice if resolved else None,
    )


@router.post(CONFLICTS + "/{conflict_id}/resolve")
async def resolve(
    request: Request,
    conflict_id: str,
    sessions: Sessions,
    viewer: Viewer,
    csrf: Annotated[str | None, Form()] = None,
    etag: Annotated[str | None, Form()] = None,
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    content: Annotated[str, Form()] = "",
    classification: Annotated[str, Form()] = "",
    deleted: Annotated[bool, Form()] = False,
    resolver: Annotated[str, Form()] = "",
) -> Response:
    """
    Resolve the conflict through the API's route, as the signed-in resolver.

    A conflict that changed since its page was rendered (the form's ETag is
    no longer its own), or was resolved meanwhile, comes back as its page
    with a 409 and what happened; a form the API cannot take as a 422.
    """
    check_form(request, viewer, csrf)
    form = views.ResolveForm(
        decision, reason, title, content, classification, deleted, resolver
    )
    chosen = _conflict_id(conflict_id)
    try:
        name = await conflict_routes.current_resolver(
            request, viewer.principal, _named(resolver)
        )
        async with sessions() as db:
            shown = await conflict_routes.get_conflict(
                chosen, db, Response(), viewer.principal
            )
            current = await reports.get_report(db, shown.report_id)
        await conflict_routes.resolve_conflict(
            conflict_id=chosen,
            body=views.resolution(form, views.fields_of(current)),
            sessions=sessions,
            resolver=name,
            analyst=viewer.principal,
            response=Response(),
            if_match=etag,
        )
    except views.FormError as invalid:
        return await _conflict_view(
            request, sessions, viewer, chosen, error=str(invalid), form=form, status=422
        )
    except ResolverRequired:
        msg = "authentication is off: give your name as the resolver"
        return await _conflict_view(
            request, sessions, viewer, chosen, error=msg, form=form, status=422
        )
    except (ConflictChanged, ConflictAlreadyResolved, NotASibling) as refused:
        return await _conflict_view(
            request,
            sessions,
            viewer,
            chosen,
            error=refused.detail,
            form=form,
            status=refused.status,
        )
    raise PageRedirect(f"{CONFLICTS}/{chosen}?resolved=1")


async def _conflict_view(
    request: Request,
    sessions: Sessions,
    viewer: WebSession[Analyst],
    conflict_id: uuid.UUID,
    *,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
    form: views.ResolveForm | None = None,
) -> Response:
    # A session of its own: after a refused resolution the page shows the
    # conflict as it is now, not as an older snapshot saw it.
    async with sessions() as db:
        shown = Response()
        conflict = await conflict_routes.get_conflict(
            conflict_id, db, shown, viewer.principal
        )
        current = await reports.get_report(db, conflict.report_id)
    may_resolve = not viewer.signed_in or Role.RESOLVER in viewer.principal.roles
    return UI.render(
        request,
        "conflict.html",
        status_code=status,
        conflict=conflict,
        current=current,
        etag=shown.headers["ETag"],
        may_resolve=may_resolve,
        form=form or views.ResolveForm.initial(views.fields_of(current)),
        edit=views.EDIT,
        classifications=list(Classification),
        notice=notice,
        error=error,
        live=LIVE,
    )


async def _conflicts(
    db: AsyncSession,
    status: ConflictStatus,
    visible: frozenset[Classification],
    limit: int,
    offset: int,
) -> ConflictsPublic:
    return await conflicts.list_conflicts(
        db,
        status=status,
        report_id=None,
        edge_id=None,
        limit=limit,
        offset=offset,
        visible=visible,
    )


def _named(resolver: str) -> str | None:
    """Return the resolver a form names (authentication off), checked."""
    if not resolver.strip():
        return None
    try:
        return _ANALYST_ID.validate_python(resolver.strip())
    except ValidationError as invalid:
        msg = "the resolver's name must be 1 to 128 characters of plain text"
        raise views.FormError(msg) from invalid


def _classification(value: str) -> Classification | None:
    if not value:
        return None
    try:
        return Classification(value)
    except ValueError as unknown:
        choices = ", ".join(c.value for c in Classification)
        msg = f"classification must be one of {choices}, not {value!r}"
        raise InvalidPageInput(msg) from unknown


def _report_id(value: str, otherwise: Exception) -> None:
    try:
        _REPORT_ID.validate_python(value)
    except ValidationError as invalid:
        raise otherwise from invalid


def _conflict_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as invalid:
        raise PageNotFound(f"no conflict has id {value!r}") from invalid
