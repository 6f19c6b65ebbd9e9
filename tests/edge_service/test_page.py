"""
The edge's page, server side: sign-in, the Sync now form, what it shows.

Requests go to the edge app in process, the session token in the ``Cookie``
header as a browser sends it (httpx keeps Secure cookies for https only).
"""

from __future__ import annotations

import html
import re
import time

import httpx

from edge_service.page import COOKIE
from edgesync.tokens import Role, TokenSigner
from syncproto import Classification
from tests.edge_service.conftest import AUDIENCE, ISSUER, Edge, token
from tests.edge_service.helpers import change_ids, create

ORIGIN = {"Origin": "http://edge.test"}
HTML = "text/html; charset=utf-8"
LOOPBACK = "http://127.0.0.1"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def cookie_of(value: str) -> dict[str, str]:
    """Return the Cookie header of a browser signed in with token *value*."""
    return {"Cookie": f"{COOKIE}={value}"}


async def page(edge: Edge, headers: dict[str, str]) -> httpx.Response:
    """GET the edge's page as the browser sending *headers*."""
    response = await edge.client.get("/", headers=headers)
    assert response.status_code == 200, response.text
    return response


def csrf(response: httpx.Response) -> str:
    """Return the CSRF field of the page's forms."""
    found = _CSRF.search(response.text)
    assert found is not None
    return html.unescape(found.group(1))


async def test_page_without_a_session_redirects_to_signin(auth_edge: Edge) -> None:
    """A bearer header is no session: the page asks the browser to sign in."""
    response = await auth_edge.client.get("/?after=r-1")

    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=/%3Fafter%3Dr-1"


async def test_sign_in_on_loopback_sets_the_session_cookie(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """The cookie is HttpOnly, Secure, SameSite=Strict, Path=/, as long as the token."""
    value = token(issuer)

    response = await auth_edge.client.post(
        f"{LOOPBACK}/signin", data={"token": value}, headers={"Origin": LOOPBACK}
    )

    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={value};")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= attributes
    assert any(a.startswith("max-age=59") or a == "max-age=600" for a in attributes)


async def test_sign_in_over_plain_http_elsewhere_says_why_it_cannot(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """
    A browser drops a Secure cookie sent over plain HTTP to another host, so
    the form says so instead of signing in for nothing.
    """
    response = await auth_edge.client.post(
        "/signin", data={"token": token(issuer)}, headers=ORIGIN
    )

    assert response.status_code == 400
    assert "set-cookie" not in response.headers
    assert "served over plain HTTP" in response.text


async def test_refused_and_expired_tokens_get_no_session(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """A bad token is refused at sign-in; an expired one in a cookie ends it."""
    now = int(time.time())
    claims = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "clearance": "IL5"}
    expired = issuer.sign(claims | {"exp": now - 3600, "iat": now - 4000})

    refused = await auth_edge.client.post(
        f"{LOOPBACK}/signin", data={"token": expired}, headers={"Origin": LOOPBACK}
    )
    ended = await auth_edge.client.get("/", headers=cookie_of(expired))

    assert refused.status_code == 401
    assert "token expired" in refused.text
    assert expired not in refused.text
    assert ended.status_code == 303
    assert ended.headers["location"] == "/signin?next=/&ended=1"
    assert "max-age=0" in ended.headers["set-cookie"].lower()


async def test_sync_now_takes_a_pending_report_to_synced(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """
    A report written through the API shows as pending with its change in the
    outbox; Sync now pushes it, and the page then shows it synced.
    """
    await create(auth_edge, "r-1", title="Bridge intact")
    browser = cookie_of(token(issuer))
    before = await page(auth_edge, browser)

    posted = await auth_edge.client.post(
        "/sync-now", data={"csrf": csrf(before)}, headers=browser | ORIGIN
    )
    after = await page(auth_edge, browser)

    assert ">pending</span>" in before.text
    assert "1</span> pending changes" in before.text
    assert posted.status_code == 303
    assert posted.headers["location"] == "/?synced=ok"
    assert ">synced</span>" in after.text
    assert ">pending</span>" not in after.text
    assert "Nothing waits" in after.text
    assert auth_edge.cloud.received == await change_ids(auth_edge)


async def test_sync_now_says_when_the_sync_failed(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """A cycle the cloud refuses is shown as failed, with its error, never as done."""
    await create(auth_edge, "r-1")
    auth_edge.cloud.failures = [(503, {})] * 3
    browser = cookie_of(token(issuer))
    before = await page(auth_edge, browser)

    posted = await auth_edge.client.post(
        "/sync-now", data={"csrf": csrf(before)}, headers=browser | ORIGIN
    )
    shown = await auth_edge.client.get(posted.headers["location"], headers=browser)

    assert posted.headers["location"] == "/?synced=failed"
    assert "Sync failed:" in shown.text
    assert "503" in shown.text
    assert "Sync ran." not in shown.text


async def test_sync_now_without_csrf_or_from_elsewhere_is_403(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """The Sync now form needs this session's CSRF field and this origin."""
    await create(auth_edge, "r-1")
    browser = cookie_of(token(issuer))
    field = csrf(await page(auth_edge, browser))
    other = csrf(await page(auth_edge, cookie_of(token(issuer, "bob"))))

    for case, data, origin in (
        ("no field", {}, ORIGIN),
        ("another session's", {"csrf": other}, ORIGIN),
        ("foreign origin", {"csrf": field}, {"Origin": "https://evil.test"}),
        ("no origin", {"csrf": field}, {}),
    ):
        response = await auth_edge.client.post(
            "/sync-now", data=data, headers=browser | origin
        )

        assert response.status_code == 403, case
        assert response.headers["content-type"] == HTML, case
    assert auth_edge.cloud.received == []


async def test_page_leaves_out_what_is_above_the_viewers_clearance(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """An IL4 analyst sees the CUI report and its change, never the IL5 one."""
    await create(auth_edge, "open-1", title="Road clear")
    await create(auth_edge, "secret-1", title="Hidden cache", classification="IL5")
    low = cookie_of(token(issuer, "bob", clearance=Classification.IL4))

    shown = await page(auth_edge, low)

    assert "open-1" in shown.text
    assert "Road clear" in shown.text
    assert "secret-1" not in shown.text
    assert "Hidden cache" not in shown.text


async def test_rejected_change_shows_with_its_reason(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """A change the cloud rejected is listed with the cloud's reason."""
    await create(auth_edge, "r-1")
    auth_edge.cloud.reject_ids.add((await change_ids(auth_edge))[0])
    browser = cookie_of(token(issuer, roles=frozenset({Role.AUDITOR})))
    field = csrf(await page(auth_edge, browser))
    await auth_edge.client.post(
        "/sync-now", data={"csrf": field}, headers=browser | ORIGIN
    )

    shown = await page(auth_edge, browser)

    assert ">rejected</span>" in shown.text
    assert "above the edge&#39;s clearance" in shown.text


async def test_anonymous_edge_serves_its_page_without_sign_in(edge: Edge) -> None:
    """With authentication off the page and its form need no sign-in."""
    await create(edge, "r-1")
    shown = await page(edge, {})

    posted = await edge.client.post(
        "/sync-now", data={"csrf": csrf(shown)}, headers=ORIGIN
    )

    assert "Authentication off" in shown.text
    assert (await edge.client.get("/signin")).headers["location"] == "/"
    assert posted.status_code == 303
    assert ">synced</span>" in (await page(edge, {})).text


async def test_page_is_kept_out_of_the_api_document(edge: Edge) -> None:
    """The page adds no operation to the edge's OpenAPI document."""
    document = (await edge.client.get("/openapi.json")).json()

    assert "/" not in document["paths"]
    assert "/sync-now" not in document["paths"]
    assert "/sync/run" in document["paths"]
