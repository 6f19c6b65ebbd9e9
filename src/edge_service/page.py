"""
The edge's own page at ``/``: its reports, its outbox and how its sync goes.

An analyst at a site sees what waits for the cloud, what the cloud refused
and why, and can press **Sync now**. The page reads through the API's route
functions as the signed-in analyst, so it shows exactly what ``GET
/reports``, ``GET /outbox`` and ``GET /sync/status`` answer them, and the
button runs what ``POST /sync/run`` runs.
"""

from __future__ import annotations

from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Form, Query, Request, Response

from edge_service import routes
from edge_service.auth import Principal, authenticate
from edge_service.models import OutboxState
from edge_service.runtime import EdgeRuntime
from edgesync.tokens import BEARER, TokenVerifier
from edgesync.webpages import PageRedirect, WebUI, asset_router, page_router
from edgesync.websession import (
    WebAuth,
    WebSession,
    check_form,
    open_session,
    sign_in_router,
)
from syncproto import ReportId

COOKIE = "__Host-edgesync-edge"
HOME = "/"
SYNC_NOW = "/sync-now"
REPORTS_SHOWN = 100
OUTBOX_SHOWN = 50
# Seconds between live refreshes of the page's main region.
LIVE = 5
# What the outbox table shows: changes still waiting, and those that failed.
OUTBOX_STATES = (OutboxState.PENDING, OutboxState.HELD, OutboxState.REJECTED)
ANONYMOUS = Principal(name="anonymous")

UI = WebUI.create(Path(__file__).parent, service="edgesync edge", nav=(("Edge", HOME),))


def _web_auth(request: Request) -> WebAuth[Principal]:
    runtime: EdgeRuntime = request.app.state.runtime
    verifier = runtime.analyst_verifier
    return WebAuth(
        cookie=COOKIE,
        verify=None if verifier is None else partial(_verify, verifier),
        anonymous=ANONYMOUS,
        name=_principal_name,
    )


def _verify(verifier: TokenVerifier, token: str) -> Principal:
    return authenticate(verifier, f"{BEARER} {token}")


def _principal_name(principal: Principal) -> str:
    return principal.name


async def current_viewer(request: Request) -> WebSession[Principal]:
    """Return the signed-in analyst, or send the browser to the sign-in form."""
    return await open_session(request, UI, _web_auth(request))


Viewer = Annotated[WebSession[Principal], Depends(current_viewer)]

router = page_router(UI)
router.include_router(asset_router(UI))
router.include_router(sign_in_router(UI, _web_auth))


class SyncRan(StrEnum):
    """How the last Sync now ended, as the page's notice says."""

    OK = "ok"
    FAILED = "failed"


@router.get(HOME)
async def edge_page(
    request: Request,
    runtime: routes.RuntimeDep,
    viewer: Viewer,
    after: Annotated[ReportId | None, Query()] = None,
    synced: SyncRan | None = None,
) -> Response:
    """This edge's sync status, its outbox and its reports, as the viewer sees them."""
    principal = viewer.principal
    status = await routes.sync_status(runtime)
    listed = await routes.list_reports(
        runtime=runtime,
        principal=principal,
        limit=REPORTS_SHOWN,
        after=after,
        classification=None,
        sync_state=None,
        include_deleted=False,
    )
    outbox = {
        state: await routes.list_outbox(
            runtime=runtime,
            principal=principal,
            state=state,
            limit=OUTBOX_SHOWN,
            after=0,
        )
        for state in OUTBOX_STATES
    }
    return UI.render(
        request,
        "edge.html",
        edge_id=runtime.settings.edge_id,
        sync=status,
        reports=listed,
        outbox=outbox,
        synced=synced,
        live=LIVE,
    )


@router.post(SYNC_NOW)
async def sync_now(
    request: Request,
    runtime: routes.RuntimeDep,
    viewer: Viewer,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Run a sync cycle as ``POST /sync/run`` does, then show the page again."""
    check_form(request, viewer, csrf)
    status = await routes.sync_run(runtime)
    # A cycle that failed still returns its status: say which it was.
    ran = SyncRan.FAILED if status.consecutive_failures else SyncRan.OK
    raise PageRedirect(f"{HOME}?synced={ran.value}")
