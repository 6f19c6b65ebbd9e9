"""One ``request_finished`` log line per request, under a request id."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edgesync.metrics import route_template

log = structlog.get_logger()
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")


class RequestLogMiddleware:
    """Bind a request id to every log line of a request, and log its end."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                log.info(
                    "request_finished",
                    method=scope["method"],
                    path=scope["path"],
                    route=route_template(scope),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )


def current_request_id() -> str | None:
    """Return the id of the request being served, if any."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    return request_id if isinstance(request_id, str) else None


def _request_id(scope: Scope) -> str:
    """Return the caller's X-Request-ID when it is sane, else a new one."""
    given: bytes = dict(scope["headers"]).get(b"x-request-id", b"")
    if _REQUEST_ID.fullmatch(given):
        return given.decode()
    return uuid.uuid4().hex
