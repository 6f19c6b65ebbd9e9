"""
RFC 9457 problem details for both services.

Domain errors derive from :class:`ProblemError` and carry their HTTP status;
:func:`install_problem_handlers` is the one place that turns them, FastAPI's
validation errors and Starlette's HTTP errors into ``application/problem+json``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger()

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


class ProblemError(Exception):
    """Base of every error a client can cause; subclasses set status and title."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    headers: ClassVar[dict[str, str]] = {}

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


def problem_response(
    status: int, title: str, detail: str, **extra: Any
) -> JSONResponse:
    """Build a problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body.update(jsonable_encoder(extra))
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def describe_errors(errors: list[Any]) -> str:
    """Say in one line where and why input was invalid, never echoing it."""
    parts = []
    for error in errors[:5]:
        if error.get("type") == "json_invalid":
            # Its "location" is a character offset, not a field name.
            position = error.get("loc", ("body", "?"))[-1]
            reason = (error.get("ctx") or {}).get("error", "unreadable")
            parts.append(
                f"the body is not valid JSON at character {position}: {reason}"
            )
            continue
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    # Only where and what: the rejected input itself is not echoed back.
    errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in raw]
    return problem_response(422, "Invalid request", describe_errors(raw), errors=errors)


def error_response(exc: ProblemError) -> JSONResponse:
    """Return the problem+json answer for *exc*, with its headers."""
    response = problem_response(exc.status, exc.title, exc.detail, **exc.extra)
    response.headers.update(exc.headers)
    return response


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return error_response(exc)


# Starlette's own answers for routing say only "Not Found"; say what was asked.
_ROUTING_DETAILS = {
    404: "nothing is served at {path}",
    405: "{method} is not allowed on {path}",
}


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = _ROUTING_DETAILS.get(exc.status_code, "{detail}").format(
        detail=exc.detail, method=request.method, path=request.url.path
    )
    response = problem_response(exc.status_code, str(exc.detail), detail)
    response.headers.update(exc.headers or {})
    return response


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("request_failed", path=request.url.path, exc_info=exc)
    return problem_response(500, "Internal error", "the server failed; see its log")


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of *app* with problem+json."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)


def problem_responses(status: int, description: str) -> dict[int | str, Any]:
    """Return an OpenAPI ``responses`` entry for a problem answer with *status*."""
    return {
        status: {
            "model": Problem,
            "content": {
                PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
            "description": description,
        }
    }


PROBLEM_RESPONSES: dict[int | str, Any] = (
    problem_responses(400, "Malformed request body")
    | problem_responses(413, "Request body above the configured limit")
    | problem_responses(422, "Invalid input")
)
