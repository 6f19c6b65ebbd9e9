"""
Signing in to the services' web pages with the token their API takes.

A browser sends no ``Authorization`` header, so the sign-in form takes the
analyst's token and keeps it in a cookie: HttpOnly (no script reads it),
Secure, SameSite=Strict, Path=/, and alive no longer than the token. The
cookie's name has the ``__Host-`` prefix, so no other host, a sibling
subdomain included, can plant one. Nothing is remembered in the process:
each page request verifies the cookie's token again with the service's own
verifier, exactly as the API verifies a bearer token, so every replica
serves every request and an expired or refused token ends the session by
itself.

Every form POST is checked twice against cross-site requests: its ``csrf``
field must be the SHA-256 of the session's token (which another site cannot
know), and its Origin, or failing that its Referer, must be this service's
own. A POST that fails either is refused with 403.

With authentication off there is no token and no sign-in: the pages serve
everyone as the service's anonymous principal, and only the origin check
protects the forms (the API itself then takes every caller).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, ClassVar, Generic, TypeVar
from urllib.parse import quote, urlsplit

import structlog
from fastapi import APIRouter, Form, Query, Request, Response

from edgesync.problems import ProblemError
from edgesync.tokens import verified_expiry
from edgesync.webpages import PageRedirect, WebUI, page_router

log = structlog.get_logger()

P = TypeVar("P")

CSRF_FIELD = "csrf"
# Browsers keep a cookie's name and value only up to 4096 bytes in all.
MAX_COOKIE_BYTES = 4096
SIGN_IN = "/signin"


class FormRefused(ProblemError):
    """A form POST that may come from another site: no valid CSRF field or origin."""

    status: ClassVar[int] = 403
    title: ClassVar[str] = "Form refused"


@dataclass(frozen=True)
class WebAuth(Generic[P]):
    """
    How one service turns a session's token into its principal.

    *verify* is the service's own token check (it raises a 401
    :class:`ProblemError` on refusal); None means authentication is off and
    everyone is *anonymous*.
    """

    cookie: str
    verify: Callable[[str], P] | None
    anonymous: P
    name: Callable[[P], str]


@dataclass(frozen=True)
class WebSession(Generic[P]):
    """Who is looking at a page, and the token their session holds."""

    principal: P
    name: str
    token: str | None

    @property
    def signed_in(self) -> bool:
        """Whether a token stands behind the session (authentication is on)."""
        return self.token is not None

    @property
    def csrf(self) -> str:
        """The value of the ``csrf`` field of this session's forms."""
        return csrf_value(self.token)


class SignInRequired(PageRedirect):
    """No session, or its token was refused: off to the sign-in form."""

    def __init__(self, request: Request, auth: WebAuth[P], *, ended: bool) -> None:
        target = f"{SIGN_IN}?next={quote(_return_path(request), safe='/')}"
        super().__init__(
            target + ("&ended=1" if ended else ""),
            clear_cookie=auth.cookie if ended else None,
        )


def csrf_value(token: str | None) -> str:
    """Return the CSRF value of a session: a digest only its token yields."""
    return hashlib.sha256(b"edgesync-csrf:" + (token or "").encode()).hexdigest()


async def open_session(request: Request, ui: WebUI, auth: WebAuth[P]) -> WebSession[P]:
    """
    Return the session of a page request, or raise :class:`SignInRequired`.

    The session is also kept on ``request.state.viewer`` for the layout.
    """
    if auth.verify is None:
        session = WebSession(auth.anonymous, auth.name(auth.anonymous), None)
    else:
        token = request.cookies.get(auth.cookie)
        if not token:
            raise SignInRequired(request, auth, ended=False)
        try:
            principal = auth.verify(token)
        except ProblemError as refused:
            if ui.refused is not None:
                await ui.refused(request, refused)
            log.info("web_session_refused", reason=refused.detail)
            raise SignInRequired(request, auth, ended=True) from refused
        session = WebSession(principal, auth.name(principal), token)
    request.state.viewer = session

    return session


def check_form(request: Request, session: WebSession[P], given: str | None) -> None:
    """Refuse a form POST unless it comes from this origin and this session."""
    check_origin(request)
    expected = session.csrf.encode()
    if given is None or not hmac.compare_digest(given.encode(), expected):
        raise FormRefused(
            "the form is not one this session sent (its CSRF field is missing or "
            "wrong): reload the page and send it again"
        )


def check_origin(request: Request) -> None:
    """Refuse a POST whose Origin (or, without one, Referer) is another site's."""
    own = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin is None:
        referer = urlsplit(request.headers.get("referer", ""))
        origin = f"{referer.scheme}://{referer.netloc}" if referer.netloc else None
    if origin != own:
        raise FormRefused(
            f"the form was sent from {origin or 'an unknown page'}, not from {own}: "
            "forms are only taken from this service's own pages"
        )


def sign_in_router(ui: WebUI, auth_of: Callable[[Request], WebAuth[P]]) -> APIRouter:
    """Return ``GET/POST /signin`` and ``POST /signout`` for *ui*'s service."""
    router = page_router(ui)

    @router.get(SIGN_IN)
    async def sign_in_form(
        request: Request,
        next_path: Annotated[str, Query(alias="next")] = "/",
        ended: bool = False,
    ) -> Response:
        if auth_of(request).verify is None:
            raise PageRedirect("/")
        notice = "Your session ended: its token expired or was refused."
        return _form(ui, request, next_path, notice=notice if ended else None)

    @router.post(SIGN_IN)
    async def sign_in(
        request: Request,
        token: Annotated[str, Form()] = "",
        next_path: Annotated[str, Form(alias="next")] = "/",
    ) -> Response:
        check_origin(request)
        auth = auth_of(request)
        if auth.verify is None:
            raise PageRedirect("/")
        token = token.strip()
        try:
            principal = auth.verify(token)
        except ProblemError as refused:
            if ui.refused is not None:
                await ui.refused(request, refused)
            log.info("web_sign_in_refused", reason=refused.detail)
            return _form(ui, request, next_path, error=refused.detail, status=401)
        lifetime = verified_expiry(token) - int(time.time())
        problem = _unstorable(request, auth, token, lifetime)
        if problem is not None:
            return _form(ui, request, next_path, error=problem, status=400)
        response = PageRedirect(_safe_path(next_path)).response()
        response.set_cookie(
            auth.cookie,
            token,
            max_age=lifetime,
            path="/",
            secure=True,
            httponly=True,
            samesite="strict",
        )
        log.info("web_signed_in", analyst=auth.name(principal))
        return response

    @router.post("/signout")
    async def sign_out(
        request: Request, csrf: Annotated[str | None, Form()] = None
    ) -> Response:
        auth = auth_of(request)
        # The token need not be valid any more to end its session.
        token = request.cookies.get(auth.cookie) if auth.verify else None
        check_form(request, WebSession(auth.anonymous, "", token), csrf)
        log.info("web_signed_out")
        return PageRedirect(SIGN_IN, clear_cookie=auth.cookie).response()

    return router


def _form(
    ui: WebUI,
    request: Request,
    next_path: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return ui.render(
        request,
        "signin.html",
        status_code=status,
        next=_safe_path(next_path),
        notice=notice,
        error=error,
    )


def _unstorable(
    request: Request, auth: WebAuth[P], token: str, lifetime: int
) -> str | None:
    """Say why a browser would drop this session's cookie, if it would."""
    if lifetime <= 0:
        # Still accepted within the leeway, but a cookie of no lifetime is
        # dropped at once: the analyst would be asked to sign in again.
        return "the token expires now: ask your identity issuer for a new one"
    if len(auth.cookie) + 1 + len(token) > MAX_COOKIE_BYTES:
        return (
            f"the token is {len(token)} bytes, more than a browser keeps in a "
            "cookie; ask for a token with fewer claims"
        )
    host = request.url.hostname or ""
    if request.url.scheme != "https" and host not in ("127.0.0.1", "localhost", "::1"):
        return (
            "this page is served over plain HTTP, and browsers keep the Secure "
            "session cookie only over HTTPS (or on localhost): serve the service "
            "over HTTPS, or behind a proxy that terminates TLS"
        )
    return None


def _return_path(request: Request) -> str:
    # A form's target may not answer GET; its page comes back as the start page.
    if request.method != "GET":
        return "/"
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _safe_path(value: str) -> str:
    """Return *value* if it is a path on this site, else the start page."""
    parts = urlsplit(value)
    local = value.startswith("/") and not value.startswith(("//", "/\\"))
    if not local or parts.scheme or parts.netloc:
        return "/"
    return value
