"""
The cloud's dashboard, server side: sign-in, CSRF, clearance and roles.

Requests go to the app in process, as a browser would send them: the session
token in the ``Cookie`` header, form posts with an ``Origin``. (httpx keeps
Secure cookies for https only, so the tests set the header themselves.)
"""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import structlog

from cloud_service.dashboard import views
from cloud_service.dashboard.pages import COOKIE
from cloud_service.edges import EdgePublic
from cloud_service.reports import ReportPublic
from edgesync.tokens import Role
from syncproto import Classification, ReportFields, VersionKind
from tests.cloud_service.helpers import change, push
from tests.cloud_service.world import AUDIENCE, World

ORIGIN = {"Origin": "http://127.0.0.1"}
HTML = "text/html; charset=utf-8"
IL4, IL5 = Classification.IL4, Classification.IL5
TEXT = "line one\nline two"
# A resolve form as a browser sends it from the conflict's page: the
# provisional fields, the textarea's line breaks as CRLF.
EDIT = {
    "decision": "edit",
    "title": "T-B",
    "content": TEXT.replace("\n", "\r\n"),
    "classification": "CUI",
}
_HIDDEN = re.compile(r'name="(csrf|etag)" value="([^"]+)"')


def token_of(headers: dict[str, str]) -> str:
    """Return the bare token of an ``Authorization: Bearer`` header."""
    return headers["Authorization"].removeprefix("Bearer ")


def session(world: World, *roles: Role, clearance: Classification = IL5) -> str:
    """Return a signed-in browser's Cookie header value for an analyst."""
    return f"{COOKIE}={token_of(world.analyst(*roles, clearance=clearance))}"


async def page(world: World, path: str, cookie: str) -> httpx.Response:
    """GET a page as the browser holding *cookie*."""
    return await world.client.get(path, headers={"Cookie": cookie})


def hidden(response: httpx.Response) -> dict[str, str]:
    """Return the hidden csrf and etag fields of a page's form."""
    return {
        name: html.unescape(value) for name, value in _HIDDEN.findall(response.text)
    }


async def open_conflict(world: World) -> str:
    """
    Open BC-09's conflict on r1 (edges a and b change the title of T0
    differently) and return its id.
    """
    assert (await world.register("edge-b")).status_code == 201
    created = change("edge-a", 1, title="T0", content=TEXT)
    base = {"edge-a": 1}
    from_a = change("edge-a", 2, base_clock=base, title="T-A", content=TEXT)
    from_b = change("edge-b", 1, base_clock=base, title="T-B", content=TEXT, minutes=1)
    await world.push("edge-a", created, from_a, headers=world.edge("edge-a"))
    answer = await world.push("edge-b", from_b, headers=world.edge("edge-b"))
    result = answer.json()["results"][0]
    assert result["outcome"] == "conflict", result
    conflict_id: str = result["conflict_id"]
    return conflict_id


async def resolve_form(
    world: World, conflict_id: str, cookie: str, **fields: str
) -> httpx.Response:
    """Read the conflict's page, then post its resolve form with *fields*."""
    shown = await page(world, f"/dashboard/conflicts/{conflict_id}", cookie)
    assert shown.status_code == 200, shown.text
    return await world.client.post(
        f"/dashboard/conflicts/{conflict_id}/resolve",
        data=hidden(shown) | fields,
        headers={"Cookie": cookie} | ORIGIN,
    )


async def audit_actions(world: World) -> list[dict[str, Any]]:
    """Return every audit record, as an auditor reads them."""
    response = await world.client.get(
        "/audit", params={"limit": 1000}, headers=world.analyst(Role.AUDITOR)
    )
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


@pytest.mark.parametrize(
    ("path", "back"),
    [
        ("/", "/"),
        ("/dashboard/reports?q=a", "/dashboard/reports%3Fq%3Da"),
        ("/dashboard/conflicts", "/dashboard/conflicts"),
    ],
)
async def test_pages_without_a_session_redirect_to_signin(
    world: World, path: str, back: str
) -> None:
    """A page asked for without a session cookie sends the browser to sign in."""
    response = await world.client.get(path)

    assert response.status_code == 303
    assert response.headers["location"] == f"/signin?next={back}"


async def test_sign_in_sets_a_strict_http_only_cookie_until_the_token_expires(
    world: World,
) -> None:
    """
    The cookie holds the token, is HttpOnly, Secure, SameSite=Strict, Path=/
    and lives as long as the token (300 s); the token is never logged.
    """
    token = token_of(world.analyst())

    with structlog.testing.capture_logs() as logs:
        response = await world.client.post(
            "/signin",
            data={"token": token, "next": "/dashboard/reports"},
            headers=ORIGIN,
        )

    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/reports"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={token};")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= attributes
    (max_age,) = (a for a in attributes if a.startswith("max-age="))
    assert 290 <= int(max_age.removeprefix("max-age=")) <= 300
    assert token not in repr(logs)
    assert any(e["event"] == "web_signed_in" for e in logs)


async def test_sign_in_returns_only_to_pages_of_this_site(world: World) -> None:
    """A ``next`` naming another site, or a scheme-relative URL, goes home."""
    token = token_of(world.analyst())
    for target in ("https://evil.test/", "//evil.test/x", "/\\evil.test"):
        response = await world.client.post(
            "/signin", data={"token": token, "next": target}, headers=ORIGIN
        )

        assert response.headers["location"] == "/", target


async def test_refused_token_shows_the_form_again_and_is_audited(
    world: World,
) -> None:
    """A bad token gets the form back with 401 and why, no cookie, one auth.failed."""
    forged = token_of(world.analyst(audience="another-app"))

    response = await world.client.post(
        "/signin", data={"token": forged}, headers=ORIGIN
    )

    assert response.status_code == 401
    assert response.headers["content-type"] == HTML
    assert "Analyst token refused: Invalid audience." in response.text
    assert forged not in response.text
    assert "set-cookie" not in response.headers
    failed = [r for r in await audit_actions(world) if r["action"] == "auth.failed"]
    assert [r["detail"]["path"] for r in failed] == ["/signin"]


async def test_expired_session_is_sent_to_sign_in_and_cleared(world: World) -> None:
    """A cookie whose token expired ends the session: redirect, cookie cleared."""
    now = int(time.time())
    claims = {"sub": "analyst-1", "iss": "dev-issuer", "aud": AUDIENCE}
    expired = world.issuer.sign(
        claims | {"exp": now - 3600, "iat": now - 4000, "clearance": "IL5"}
    )

    response = await page(world, "/", f"{COOKIE}={expired}")

    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=/&ended=1"
    cleared = response.headers["set-cookie"].lower()
    assert cleared.startswith(f"{COOKIE.lower()}=")
    assert "max-age=0" in cleared
    assert "secure" in cleared
    ended = await world.client.get("/signin?next=/&ended=1")
    assert "Your session ended" in ended.text


async def test_tokens_a_browser_would_drop_are_refused_with_why(world: World) -> None:
    """
    A valid token that expires now (inside the leeway) or is too long for a
    cookie gets the form back with a 400 that says so, not a silent loop.
    """
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "analyst-1", "iss": "dev-issuer"}
    claims |= {"aud": AUDIENCE, "clearance": "IL5", "iat": now - 300}
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "expires now": (claims | {"exp": now - 5}, "The token expires now"),
        "too long": (claims | {"exp": now + 300, "pad": "x" * 4000}, "in a cookie"),
    }

    for case, (signed, says) in cases.items():
        response = await world.client.post(
            "/signin", data={"token": world.issuer.sign(signed)}, headers=ORIGIN
        )

        assert response.status_code == 400, case
        assert says in response.text, case
        assert "set-cookie" not in response.headers, case


async def test_sign_in_from_another_origin_is_refused(world: World) -> None:
    """A sign-in form posted from another site is refused (login CSRF)."""
    response = await world.client.post(
        "/signin",
        data={"token": token_of(world.analyst())},
        headers={"Origin": "https://evil.test"},
    )

    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert "https://evil.test" in response.text


# Forged forms: the fields they carry of the page's own, and their headers.
FORGED: dict[str, tuple[dict[str, str] | None, dict[str, str]]] = {
    "no field": ({}, ORIGIN),
    "wrong field": ({"csrf": "0" * 64}, ORIGIN),
    "not ascii": ({"csrf": "é"}, ORIGIN),
    "foreign origin": (None, {"Origin": "https://evil.test"}),
    "foreign referer": (None, {"Referer": "https://evil.test/page"}),
    "no origin": (None, {}),
}


async def test_form_post_without_csrf_or_own_origin_is_403(world: World) -> None:
    """
    The resolve form is refused without this session's CSRF field, or from
    another origin, or from nowhere it says; the conflict stays open.
    """
    conflict_id = await open_conflict(world)
    cookie = session(world, Role.RESOLVER)
    shown = hidden(await page(world, f"/dashboard/conflicts/{conflict_id}", cookie))

    for case, (fields, headers) in FORGED.items():
        form = shown if fields is None else {"etag": shown["etag"]} | fields
        response = await world.client.post(
            f"/dashboard/conflicts/{conflict_id}/resolve",
            data=form | EDIT | {"reason": "r"},
            headers={"Cookie": cookie} | headers,
        )

        assert response.status_code == 403, case
        assert response.headers["content-type"] == HTML, case
        assert "Form refused" in response.text, case
    conflict = await world.client.get(
        f"/conflicts/{conflict_id}", headers=world.analyst()
    )
    assert conflict.json()["status"] == "open"


async def test_sign_out_clears_the_cookie(world: World) -> None:
    """Signing out, with the session's CSRF field, clears the cookie."""
    cookie = session(world)
    csrf = hidden(await page(world, "/", cookie))["csrf"]

    response = await world.client.post(
        "/signout", data={"csrf": csrf}, headers={"Cookie": cookie} | ORIGIN
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/signin"
    assert "max-age=0" in response.headers["set-cookie"].lower()


async def test_pages_hide_reports_above_the_viewers_clearance(world: World) -> None:
    """An IL4 analyst sees the CUI report, never the IL5 one nor its conflict."""
    assert (await world.register("edge-c", IL5)).status_code == 201
    edge_c = world.edge("edge-c")
    await world.push(
        "edge-c",
        change("edge-c", 1, "cui-1", title="Open road"),
        change("edge-c", 2, "il5-1", title="Secret bridge", classification="IL5"),
        headers=edge_c,
    )
    cookie = session(world, clearance=IL4)

    listed = await page(world, "/dashboard/reports", cookie)
    hidden_report = await page(world, "/dashboard/reports/il5-1", cookie)
    shown_report = await page(world, "/dashboard/reports/cui-1", cookie)

    assert listed.status_code == 200
    assert "Open road" in listed.text
    assert "Secret bridge" not in listed.text
    assert "il5-1" not in listed.text
    assert hidden_report.status_code == 404
    assert hidden_report.headers["content-type"] == HTML
    assert "Secret bridge" not in hidden_report.text
    assert shown_report.status_code == 200


async def test_hidden_conflict_is_404_on_its_page(world: World) -> None:
    """A conflict on a report above the viewer's clearance is not found."""
    assert (await world.register("edge-c", IL5)).status_code == 201
    assert (await world.register("edge-d", IL5)).status_code == 201
    base = {"edge-c": 1}
    created = change("edge-c", 1, "x", title="T0", classification="IL5")
    ours = change("edge-c", 2, "x", base_clock=base, title="A", classification="IL5")
    theirs = change("edge-d", 1, "x", base_clock=base, title="B", classification="IL5")
    await world.push("edge-c", created, ours, headers=world.edge("edge-c"))
    answer = await world.push("edge-d", theirs, headers=world.edge("edge-d"))
    conflict_id = answer.json()["results"][0]["conflict_id"]

    low = await page(
        world,
        f"/dashboard/conflicts/{conflict_id}",
        session(world, Role.RESOLVER, clearance=IL4),
    )
    listing = await page(world, "/dashboard/conflicts", session(world, clearance=IL4))

    assert low.status_code == 404
    assert conflict_id not in listing.text


async def test_resolve_form_needs_the_resolver_role(world: World) -> None:
    """
    An analyst without the resolver role reads the conflict with no form, and
    a resolve posted anyway is 403 and recorded as access.denied.
    """
    conflict_id = await open_conflict(world)
    cookie = session(world, Role.ANALYST)

    shown = await page(world, f"/dashboard/conflicts/{conflict_id}", cookie)
    posted = await resolve_form(world, conflict_id, cookie, **EDIT, reason="try")

    assert shown.status_code == 200
    assert "T-A" in shown.text
    assert "T-B" in shown.text
    assert "Resolve conflict" not in shown.text
    assert "needs the <strong>resolver</strong> role" in shown.text
    assert posted.status_code == 403
    assert "resolver role" in posted.text
    denied = [r for r in await audit_actions(world) if r["action"] == "access.denied"]
    assert [(r["actor"], r["detail"]["path"]) for r in denied] == [
        ("analyst-1", "/dashboard/conflicts/{conflict_id}/resolve")
    ]


async def test_resolver_keeps_a_sibling_through_the_page(world: World) -> None:
    """
    Keeping edge-b's sibling with a reason resolves the conflict as the API
    does: the report takes T-B at the resolved clock, the reason is audited.
    """
    conflict_id = await open_conflict(world)
    detail = await world.client.get(
        f"/conflicts/{conflict_id}", headers=world.analyst()
    )
    from_b = next(
        s["change_id"] for s in detail.json()["siblings"] if s["origin"] == "edge-b"
    )
    cookie = session(world, Role.RESOLVER)

    response = await resolve_form(
        world, conflict_id, cookie, decision=from_b, reason="edge-b was there"
    )

    assert response.status_code == 303
    assert (
        response.headers["location"] == f"/dashboard/conflicts/{conflict_id}?resolved=1"
    )
    report = (await world.client.get("/reports/r1", headers=world.analyst())).json()
    assert report["title"] == "T-B"
    assert report["clock"] == {"edge-a": 2, "edge-b": 1, "cloud": 1}
    resolved = [
        r for r in await audit_actions(world) if r["action"] == "conflict.resolved"
    ]
    assert [(r["actor"], r["reason"]) for r in resolved] == [
        ("analyst-1", "edge-b was there")
    ]
    after = await page(world, response.headers["location"], cookie)
    assert "The conflict is resolved" in after.text
    assert "edge-b was there" in after.text


async def test_edited_fields_resolve_with_only_what_changed(world: World) -> None:
    """Editing the title leaves the content byte for byte, CRLF or not."""
    conflict_id = await open_conflict(world)

    response = await resolve_form(
        world,
        conflict_id,
        session(world, Role.RESOLVER),
        **EDIT | {"title": "Bridge out", "reason": "merged by hand"},
    )

    assert response.status_code == 303
    report = (await world.client.get("/reports/r1", headers=world.analyst())).json()
    assert (report["title"], report["content"]) == ("Bridge out", TEXT)
    assert report["kind"] == VersionKind.RESOLVED.value


async def test_stale_page_is_refused_with_409(world: World) -> None:
    """
    A sibling that joined after the page was rendered makes its form stale:
    409, the conflict shown as it is now, the reason kept, nothing resolved.
    """
    conflict_id = await open_conflict(world)
    cookie = session(world, Role.RESOLVER)
    shown = await page(world, f"/dashboard/conflicts/{conflict_id}", cookie)
    assert (await world.register("edge-e")).status_code == 201
    late = change("edge-e", 1, base_clock={"edge-a": 1}, title="T-E", content=TEXT)
    await world.push("edge-e", late, headers=world.edge("edge-e"))

    response = await world.client.post(
        f"/dashboard/conflicts/{conflict_id}/resolve",
        data=hidden(shown) | EDIT | {"reason": "my careful reason"},
        headers={"Cookie": cookie} | ORIGIN,
    )

    assert response.status_code == 409
    assert "changed since it was read" in response.text
    assert "T-E" in response.text
    assert "my careful reason" in response.text
    assert hidden(response)["etag"] != hidden(shown)["etag"]
    conflict = await world.client.get(
        f"/conflicts/{conflict_id}", headers=world.analyst()
    )
    assert conflict.json()["status"] == "open"


# Resolve forms the API cannot take, and what the page then says.
INVALID_FORMS: dict[str, tuple[dict[str, str], str]] = {
    "no decision": ({"reason": "why"}, "Choose a sibling to keep"),
    "blank reason": (EDIT | {"reason": " \r\n "}, "Give a reason"),
    "bad keep": ({"decision": "x", "reason": "why"}, "Keep: Input should be a valid"),
    "empty title": (
        EDIT | {"title": "", "reason": "why"},
        "Title: give at least 1 character",
    ),
    "bad marking": (
        EDIT | {"classification": "TOP", "reason": "why"},
        "Classification: Input should be",
    ),
    "no sibling": (
        {"decision": "00000000-0000-4000-8000-000000000009", "reason": "why"},
        "is not a sibling of this conflict",
    ),
}


async def test_invalid_resolve_form_is_422_with_the_form_kept(world: World) -> None:
    """A form the API cannot take comes back as its page: 422 and what to fix."""
    conflict_id = await open_conflict(world)
    cookie = session(world, Role.RESOLVER)

    for case, (fields, message) in INVALID_FORMS.items():
        response = await resolve_form(world, conflict_id, cookie, **fields)

        assert response.status_code == 422, case
        assert response.headers["content-type"] == HTML, case
        assert message in response.text, case
        assert 'role="alert"' in response.text, case


async def test_search_and_filter_the_reports(world: World) -> None:
    """Search matches id or title whatever the case, literally; filters combine."""
    await world.push(
        "edge-a",
        change("edge-a", 1, "alpha-1", title="Bridge 100% out"),
        change("edge-a", 2, "beta-2", title="Road clear", classification="IL4"),
        headers=world.edge("edge-a"),
    )
    cookie = session(world)

    async def found(query: str) -> set[str]:
        response = await page(world, f"/dashboard/reports?{query}", cookie)
        assert response.status_code == 200, response.text
        return {i for i in ("alpha-1", "beta-2") if f">{i}</a>" in response.text}

    assert await found("q=BRIDGE") == {"alpha-1"}
    assert await found("q=beta") == {"beta-2"}
    assert await found("q=100%25") == {"alpha-1"}
    assert await found("q=1_0") == set()
    assert await found("classification=IL4") == {"beta-2"}
    assert await found("classification=IL4&q=bridge") == set()
    assert await found("classification=") == {"alpha-1", "beta-2"}


# Pages asked for with bad ids or values: the status and what the page says.
BAD_INPUT = {
    "/dashboard/reports/nope": (404, "No report has id"),
    "/dashboard/reports/bad%20id": (404, "No report has id"),
    "/dashboard/conflicts/xyz": (404, "No conflict has id"),
    "/dashboard/conflicts/00000000-0000-4000-8000-000000000001": (404, "No conf"),
    "/dashboard/reports?classification=TOP": (422, "must be one of"),
    "/dashboard/reports?after=a%20b": (422, "not a report id"),
    "/dashboard/conflicts?offset=-1": (422, "offset"),
    "/static/nothing.css": (404, "No file"),
}


async def test_bad_input_is_an_html_error_page(world: World) -> None:
    """Unknown ids and bad values get an HTML page with the right status."""
    cookie = session(world)

    for path, (status, says) in BAD_INPUT.items():
        response = await page(world, path, cookie)

        assert response.status_code == status, path
        assert response.headers["content-type"] == HTML, path
        assert says in response.text, path


async def test_report_page_shows_the_audit_trail_to_auditors_only(
    world: World,
) -> None:
    """The history shows every version; the audit trail needs the auditor role."""
    await open_conflict(world)

    for roles, trail in (((Role.ANALYST,), False), ((Role.AUDITOR,), True)):
        response = await page(world, "/dashboard/reports/r1", session(world, *roles))

        assert response.status_code == 200
        assert "T-A" in response.text
        assert "T-B" in response.text
        assert ("change.received" in response.text) is trail
        assert ("Audit trail" in response.text) is trail


async def test_pages_are_kept_out_of_the_api_document(world: World) -> None:
    """The dashboard adds no operation to OpenAPI, and the API routes still answer."""
    document = (await world.client.get("/openapi.json")).json()

    assert "/" not in document["paths"]
    assert not [p for p in document["paths"] if p.startswith(("/dashboard", "/sign"))]
    assert (await world.client.get("/docs")).status_code == 200


async def test_pages_send_a_strict_content_security_policy(world: World) -> None:
    """Pages load only the cloud's own assets, and are not cached."""
    response = await page(world, "/", session(world))
    asset = await world.client.get("/static/live.js")

    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert asset.status_code == 200
    assert asset.headers["content-type"].startswith("text/javascript")


async def test_anonymous_cloud_serves_pages_and_asks_the_resolvers_name(
    client: httpx.AsyncClient,
) -> None:
    """
    With authentication off no sign-in is needed, and a resolution through
    the page names its resolver in the form instead of a token.
    """
    created = change("edge-a", 1, title="T0", content="C0")
    base = {"edge-a": 1}
    await push(
        client, "edge-a", created, change("edge-a", 2, base_clock=base, title="A")
    )
    answer = await push(
        client, "edge-b", change("edge-b", 1, base_clock=base, title="B")
    )
    conflict_id = answer["results"][0]["conflict_id"]
    path = f"/dashboard/conflicts/{conflict_id}"
    edit = EDIT | {"title": "B", "content": "Body", "reason": "why"}

    shown = await client.get(path)
    unnamed = await client.post(
        f"{path}/resolve",
        data=hidden(shown) | edit,
        headers=ORIGIN,
    )
    named = await client.post(
        f"{path}/resolve",
        data=hidden(shown) | edit | {"resolver": "eve"},
        headers=ORIGIN,
    )

    assert shown.status_code == 200
    assert "Authentication off" in shown.text
    assert (await client.get("/signin")).headers["location"] == "/"
    assert unnamed.status_code == 422
    assert "give your name as the resolver" in unnamed.text
    assert named.status_code == 303
    assert (await client.get(f"/conflicts/{conflict_id}")).json()["resolution"][
        "resolved_by"
    ] == "eve"


def _edge(edge_id: str, cursor: int | None, **overrides: Any) -> EdgePublic:
    values: dict[str, Any] = {
        "edge_id": edge_id,
        "acked_seq": 0,
        "max_seq": 0,
        "gap": False,
        "changes_received": 0,
        "rejected": 0,
        "first_push_at": None,
        "last_push_at": None,
        "last_pull_at": None,
        "feed_cursor": cursor,
        "lag": None,
        "clearance": IL5,
    }
    return EdgePublic.model_validate(values | overrides)


def test_reach_counts_only_edges_cleared_for_the_report() -> None:
    """
    An edge holds a version once its cursor is at its seq; revoked edges and
    edges cleared below the report's marking are not waited for.
    """
    now = datetime.now(UTC)
    report = ReportPublic(
        report_id="r1",
        title="T",
        content="C",
        classification=IL5,
        deleted=False,
        clock={"edge-a": 1},
        kind=VersionKind.APPLIED,
        change_id=None,
        origin="edge-a",
        created_by="a",
        created_at=now,
        updated_by="a",
        updated_at=now,
        conflict_id=None,
        feed_seq=7,
    )
    known = [
        _edge("edge-a", 7),
        _edge("edge-b", 6),
        _edge("edge-c", None),
        _edge("edge-d", 9, clearance=IL4),
        _edge("edge-e", 1, revoked_at=now),
    ]

    seen = views.reach(report, known)

    assert seen == views.Reach(reached=("edge-a",), waiting=("edge-b", "edge-c"))


def test_resolve_form_sends_only_the_fields_that_changed() -> None:
    """Fields left as the provisional version shows them are not sent at all."""
    current = ReportFields(title="T", content="one\ntwo", classification=IL4)
    form = views.ResolveForm(
        decision=views.EDIT,
        reason="why\r\nbecause",
        title="T",
        content="one\r\ntwo",
        classification="IL5",
        deleted=False,
    )

    resolution = views.resolution(form, current)

    assert resolution.fields is not None
    assert resolution.fields.model_dump(exclude_none=True) == {"classification": IL5}
    assert resolution.reason == "why\nbecause"
