"""
Every refused call leaves an audit record: who was refused, where, and why.

A refusal is answered after the route's own transaction rolled back, so its
record is written in a small transaction of its own. The record holds the
refusal's detail, which never quotes the token, and the request's method,
path and client address, never its headers or query.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from cloud_service import audit
from cloud_service.auth import Forbidden, Unauthenticated
from cloud_service.db import write_transaction
from edgesync.problems import ProblemError, error_response
from syncproto.audit import AuditAction, AuditEvent

log = structlog.get_logger()


async def _on_refusal(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Unauthenticated | Forbidden)
    await record_refusal(request, exc)
    return error_response(exc)


async def record_refusal(request: Request, exc: ProblemError) -> None:
    """
    Write the audit record of a refused call: 401 and 403 alike.

    The API's answers and the dashboard's pages both come here; other errors
    are not refusals and leave no record.
    """
    if not isinstance(exc, Unauthenticated | Forbidden):
        return
    action = (
        AuditAction.AUTH_FAILED
        if isinstance(exc, Unauthenticated)
        else AuditAction.ACCESS_DENIED
    )
    actor = getattr(request.state, "actor", None) or "anonymous"
    event = AuditEvent(
        action=action,
        actor=actor,
        outcome=str(exc.status),
        reason=exc.detail,
        detail={
            "method": request.method,
            # The route's template, not the path: a path may name a report
            # the auditor reading this record is not cleared to know of.
            "path": _route_template(request),
            "client": request.client.host if request.client else None,
        },
    )
    try:
        async with write_transaction(request.app.state.sessions) as session:
            await audit.append(session, [event])
    except (SQLAlchemyError, OSError) as failure:
        # The caller is refused either way; an unrecorded refusal is an
        # operator's problem, so it is logged loudly rather than hidden.
        log.error("audit_write_failed", action=action.value, exc_info=failure)


def _route_template(request: Request) -> str:
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    return template if isinstance(template, str) else "(no route)"


def record_refusals(app: FastAPI) -> None:
    """Make *app* record every 401 and 403 it answers in the audit log."""
    app.add_exception_handler(Unauthenticated, _on_refusal)
    app.add_exception_handler(Forbidden, _on_refusal)
