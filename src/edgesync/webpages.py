"""
Server-rendered HTML pages of both services: templates, error pages, assets.

Each service builds one :class:`WebUI` from its own folder (``templates/``,
optionally ``static/``) on top of the shared one in ``edgesync/web/``, and
declares its pages on a :func:`page_router`. Whatever a page raises becomes
an HTML answer, never problem JSON and never a bare 500: a domain error is an
error page with its own status, a refused session a redirect to the sign-in
form, a FastAPI validation error a 422 page.

Every page is sent with a Content-Security-Policy that admits only the
service's own scripts, styles and form targets, so a page can load nothing
from the internet, and with ``Cache-Control: no-store``, because pages show
report content that must not linger in shared caches.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import jinja2
import structlog
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute

from edgesync.problems import ProblemError, describe_errors

log = structlog.get_logger()

SHARED = Path(__file__).parent / "web"
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
_MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript"}
_ASSET_NAME = re.compile(r"[a-z0-9-]{1,64}\.(css|js)")

RefusalHook = Callable[[Request, ProblemError], Awaitable[None]]


class PageNotFound(ProblemError):
    """A page names something that does not exist (or is hidden from the viewer)."""

    status: ClassVar[int] = 404
    title: ClassVar[str] = "Not found"


class InvalidPageInput(ProblemError):
    """A query parameter or form value a page cannot use."""

    status: ClassVar[int] = 422
    title: ClassVar[str] = "Invalid input"


class PageRedirect(Exception):
    """Raised by a page to send the browser elsewhere (a 303), maybe signed out."""

    def __init__(self, location: str, *, clear_cookie: str | None = None) -> None:
        super().__init__(location)
        self.location = location
        self.clear_cookie = clear_cookie

    def response(self) -> Response:
        """Return the redirect, clearing the named cookie when asked."""
        response = RedirectResponse(self.location, status_code=303)
        if self.clear_cookie is not None:
            # A __Host- cookie is only cleared by a Secure one at Path=/.
            response.delete_cookie(
                self.clear_cookie,
                path="/",
                secure=True,
                httponly=True,
                samesite="strict",
            )
        return response


@dataclass(frozen=True)
class WebUI:
    """One service's templates, assets and navigation."""

    service: str
    templates: jinja2.Environment
    assets: Mapping[str, Path]
    nav: tuple[tuple[str, str], ...]
    stylesheets: tuple[str, ...] = ()
    refused: RefusalHook | None = field(default=None, compare=False)

    @classmethod
    def create(
        cls,
        folder: Path,
        *,
        service: str,
        nav: tuple[tuple[str, str], ...],
        refused: RefusalHook | None = None,
    ) -> WebUI:
        """Build the UI of the service whose templates and assets are in *folder*."""
        templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(
                [folder / "templates", SHARED / "templates"]
            ),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        templates.filters.update(
            when=when,
            ago=ago,
            duration=duration,
            sentence=sentence,
            clock=clock_text,
            short=short_id,
        )
        own = folder / "static"
        assets = {
            path.name: path
            for directory in (SHARED / "static", own)
            if directory.is_dir()
            for path in sorted(directory.iterdir())
            if _ASSET_NAME.fullmatch(path.name)
        }
        # The service's own stylesheets load after the shared one, to refine it.
        sheets = (
            tuple(sorted(p.name for p in own.glob("*.css"))) if own.is_dir() else ()
        )
        return cls(service, templates, assets, nav, sheets, refused)

    def render(
        self,
        request: Request,
        template: str,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """Render *template* as a whole page for *request*."""
        body = self.templates.get_template(template).render(
            ui=self,
            path=request.url.path,
            viewer=getattr(request.state, "viewer", None),
            **context,
        )
        return HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS)

    def error_page(
        self, request: Request, status: int, title: str, detail: str
    ) -> HTMLResponse:
        """Render the error page: what went wrong, and where to go from here."""
        return self.render(
            request,
            "error.html",
            status_code=status,
            code=status,
            title=title,
            detail=detail,
        )

    async def problem_page(self, request: Request, error: ProblemError) -> Response:
        """Render a domain error as its page, noting refusals where the service does."""
        if error.status in (401, 403) and self.refused is not None:
            await self.refused(request, error)
        response = self.error_page(request, error.status, error.title, error.detail)
        response.headers.update(error.headers)
        return response


class _PageRoute(APIRoute):
    """A route whose every failure is answered as a page of its :class:`WebUI`."""

    ui: ClassVar[WebUI]

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        ui = self.ui

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except PageRedirect as redirect:
                return redirect.response()
            except ProblemError as error:
                return await ui.problem_page(request, error)
            except RequestValidationError as invalid:
                detail = describe_errors(list(invalid.errors()))
                return ui.error_page(request, 422, "Invalid input", detail)
            except Exception as failure:
                # A page never answers JSON; the failure goes to the log, whole.
                log.error("page_failed", path=request.url.path, exc_info=failure)
                detail = "the page failed; the service's log says why"
                return ui.error_page(request, 500, "Internal error", detail)

        return page


def page_router(ui: WebUI) -> APIRouter:
    """Return a router for *ui*'s pages, kept out of the OpenAPI document."""
    route_class = type("PageRoute", (_PageRoute,), {"ui": ui})
    return APIRouter(route_class=route_class, include_in_schema=False)


def asset_router(ui: WebUI) -> APIRouter:
    """Return the router serving *ui*'s stylesheets and scripts under ``/static``."""
    router = page_router(ui)

    @router.get("/static/{name}")
    async def asset(name: str) -> Response:
        path = ui.assets.get(name)
        if path is None:
            raise PageNotFound(f"no file {name!r} is served here")
        return FileResponse(
            path,
            media_type=_MEDIA_TYPES[path.suffix],
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    return router


def when(moment: datetime | None) -> str:
    """Show a time in UTC to the second, or a dash for never."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """Say how long ago *moment* was, roughly: what a glance at a table needs."""
    if moment is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    return "just now" if seconds < 1 else f"{duration(seconds)} ago"


def duration(seconds: float) -> str:
    """Say how long *seconds* is in its largest whole unit: ``3 h``, ``12 s``."""
    whole = max(int(seconds), 0)
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if whole >= size:
            return f"{whole // size} {unit}"
    return f"{whole} s"


def sentence(text: str) -> str:
    """Start *text* with a capital and end it with a full stop, as a message."""
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def clock_text(clock: Mapping[str, int] | None) -> str:
    """Show a vector clock as ``edge-a:2 edge-b:1``, in edge order."""
    if not clock:
        return "{}"
    return " ".join(f"{edge}:{clock[edge]}" for edge in sorted(clock))


def short_id(value: object) -> str:
    """Return the first eight characters of an id, enough to tell ids apart."""
    return str(value)[:8]
