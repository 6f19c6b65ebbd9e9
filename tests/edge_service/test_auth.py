"""
Authentication at the edge: analysts' bearer tokens, and the edge's own to the cloud.

Analyst tokens are issued with a throwaway issuer key whose JWK set the edge
reads; the edge signs its tokens with its own key, and the fake cloud records
every Authorization header it receives.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from edge_service.app import create_app
from edge_service.credentials import EdgeCredentials
from edge_service.settings import EdgeSettings
from edgesync.keys import (
    MIN_RSA_BITS,
    KeyFileError,
    generate_private_key,
)
from edgesync.tokens import (
    AuthenticationNotConfiguredError,
    Claims,
    Role,
    TokenSigner,
    TokenVerifier,
)
from syncproto import Classification
from tests.edge_service.conftest import (
    AUDIENCE,
    ISSUER,
    Edge,
    bearer,
    start_edge,
    token,
)
from tests.edge_service.fakecloud import FakeCloud
from tests.edge_service.helpers import (
    create,
    outbox_states,
    query,
    report_body,
    sync_until_drained,
)

PROBLEM = "application/problem+json"


async def test_no_token_is_401_problem_with_challenge(auth_edge: Edge) -> None:
    """Without a token, reads and writes answer 401 with WWW-Authenticate: Bearer."""
    del auth_edge.client.headers["authorization"]

    for response in (
        await auth_edge.client.get("/reports"),
        await auth_edge.client.get("/sync/status"),
        await auth_edge.client.post("/reports", json=report_body("r-1")),
    ):
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == "Bearer"


def _unsigned(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        raw = json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _bad_tokens(issuer: TokenSigner) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "clearance": "IL5"}
    stranger = TokenSigner.from_private_key(generate_private_key(MIN_RSA_BITS))
    return {
        "alg none": _unsigned(claims | {"exp": now + 600, "roles": ["analyst"]}),
        "expired": issuer.sign(
            claims | {"exp": now - 3600, "iat": now - 4000, "roles": ["analyst"]}
        ),
        "wrong audience": token(issuer, audience="someone-else"),
        "unknown kid": token(stranger),
        "not bearer": "",
    }


async def test_invalid_tokens_are_401_and_never_quoted(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """alg none, expired, wrong audience and unknown kid are refused alike."""
    for case, value in _bad_tokens(issuer).items():
        header = bearer(value) if value else {"Authorization": "Basic YWxpY2U6eA=="}

        response = await auth_edge.client.get("/reports", headers=header)

        assert response.status_code == 401, case
        assert response.headers["www-authenticate"].startswith("Bearer"), case
        assert response.headers["content-type"] == PROBLEM, case
        if value:
            assert value not in response.text, case


async def test_write_without_analyst_role_is_403(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """An auditor may read but not create, edit or delete reports."""
    await create(auth_edge, "r-1")
    auditor = bearer(token(issuer, "bob", roles=frozenset({Role.AUDITOR})))

    assert (await auth_edge.client.get("/reports", headers=auditor)).status_code == 200
    for response in (
        await auth_edge.client.post(
            "/reports", json=report_body("r-2"), headers=auditor
        ),
        await auth_edge.client.patch(
            "/reports/r-1", json={"title": "x"}, headers=auditor
        ),
        await auth_edge.client.delete("/reports/r-1", headers=auditor),
    ):
        assert response.status_code == 403
        assert response.headers["content-type"] == PROBLEM


async def test_author_is_token_subject(auth_edge: Edge, issuer: TokenSigner) -> None:
    """The change's author is the token's sub; an X-Analyst header is ignored."""
    headers = bearer(token(issuer, "carol")) | {"X-Analyst": "mallory"}

    response = await auth_edge.client.post(
        "/reports", json=report_body("r-1"), headers=headers
    )

    assert response.status_code == 201
    assert response.json()["created_by"] == "carol"
    rows = await query(auth_edge, "SELECT payload FROM outbox")
    assert [json.loads(row[0])["author"] for row in rows] == ["carol"]


async def test_report_above_clearance_is_invisible(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """A CUI analyst gets 404 for an IL5 report, and does not see it listed."""
    await create(auth_edge, "r-1", classification="CUI")
    await create(auth_edge, "r-5", classification="IL5")
    cui = bearer(token(issuer, "dave", clearance=Classification.CUI))

    single = await auth_edge.client.get("/reports/r-5", headers=cui)
    listed = await auth_edge.client.get("/reports", headers=cui)

    assert single.status_code == 404
    assert [r["report_id"] for r in listed.json()["reports"]] == ["r-1"]
    full = await auth_edge.client.get("/reports")
    assert [r["report_id"] for r in full.json()["reports"]] == ["r-1", "r-5"]


async def test_write_above_clearance_is_403(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """Creating a report above clearance, or raising one above it, is 403."""
    await create(auth_edge, "r-1", classification="CUI")
    cui = bearer(token(issuer, "dave", clearance=Classification.CUI))
    client = auth_edge.client

    for response in (
        await client.post(
            "/reports", json=report_body("r-6", classification="IL4"), headers=cui
        ),
        await client.patch("/reports/r-1", json={"classification": "IL5"}, headers=cui),
    ):
        assert response.status_code == 403, response.text
    assert (await client.get("/reports/r-6")).status_code == 404
    assert (await client.get("/reports/r-1")).json()["classification"] == "CUI"


async def test_edit_or_delete_above_clearance_answers_as_missing(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """PATCH and DELETE of a report above clearance answer as for a missing id."""
    await create(auth_edge, "secret-5", classification="IL5")
    cui = bearer(token(issuer, "dave", clearance=Classification.CUI))
    client = auth_edge.client

    def problem(response: httpx.Response, report_id: str) -> dict[str, Any]:
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == PROBLEM
        body: dict[str, Any] = response.json()
        assert report_id in body["detail"]
        return {
            key: value.replace(report_id, "ID") if isinstance(value, str) else value
            for key, value in body.items()
        }

    for method, body in (("PATCH", {"title": "x"}), ("DELETE", None)):
        hidden = await client.request(
            method, "/reports/secret-5", headers=cui, json=body
        )
        missing = await client.request(
            method, "/reports/nothing-5", headers=cui, json=body
        )
        assert problem(hidden, "secret-5") == problem(missing, "nothing-5"), method
        assert "IL5" not in hidden.text
        assert "clearance" not in hidden.text
    # Nothing was written: the report is as created, with its one change.
    report = (await client.get("/reports/secret-5")).json()
    assert (report["title"], report["deleted"]) == ("Convoy sighted", False)
    assert len(await query(auth_edge, "SELECT 1 FROM outbox")) == 1


async def test_outbox_lists_only_changes_within_clearance(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """A CUI analyst's outbox shows no change of an IL5 report, page by page."""
    await create(auth_edge, "r-1", classification="CUI")
    await create(auth_edge, "secret-5", classification="IL5")
    await create(auth_edge, "r-2", classification="CUI")
    await create(auth_edge, "raised", classification="CUI")
    raise_it = await auth_edge.client.patch(
        "/reports/raised", json={"classification": "IL5"}
    )
    assert raise_it.status_code == 200, raise_it.text
    cui = bearer(token(issuer, "dave", clearance=Classification.CUI))

    seen: list[str] = []
    after = 0
    while True:
        page = await auth_edge.client.get(
            "/outbox", params={"limit": 1, "after": after}, headers=cui
        )
        assert page.status_code == 200, page.text
        body = page.json()
        seen.extend(entry["report_id"] for entry in body["entries"])
        assert "secret-5" not in page.text
        assert "raised" not in page.text
        if body["next_after"] is None:
            break
        after = body["next_after"]

    assert seen == ["r-1", "r-2"]
    full = (await auth_edge.client.get("/outbox")).json()
    assert [e["report_id"] for e in full["entries"]] == [
        "r-1",
        "secret-5",
        "r-2",
        "raised",
        "raised",
    ]


def test_analyst_auth_without_edge_key_is_refused_at_start(
    auth_settings: EdgeSettings,
) -> None:
    """Analyst tokens on but no edge key: the edge does not start to fail syncs."""
    keyless = auth_settings.model_copy(update={"edge_key_file": None})

    with pytest.raises(RuntimeError, match="EDGESYNC_EDGE_KEY_FILE"):
        create_app(keyless)


async def test_health_and_docs_stay_open(auth_edge: Edge) -> None:
    """Probes and the API docs need no token; the docs offer bearer auth."""
    del auth_edge.client.headers["authorization"]

    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert (await auth_edge.client.get(path)).status_code == 200, path
    schema = (await auth_edge.client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def _edge_claims(
    cloud: FakeCloud, edge_key: rsa.RSAPrivateKey, path: str | None = None
) -> list[Claims]:
    verifier = TokenVerifier.for_edge(
        "edge-a", edge_key.public_key(), audience=AUDIENCE
    )
    claims = []
    for seen, header in cloud.authorizations:
        if path is not None and seen != path:
            continue
        assert header is not None, seen
        assert header.startswith("Bearer "), seen
        claims.append(verifier.verify(header.removeprefix("Bearer ")))
    return claims


async def test_calls_to_cloud_carry_verifiable_edge_token(
    auth_edge: Edge, edge_key: rsa.RSAPrivateKey
) -> None:
    """Every /sync call bears one cached token that verifies as edge-a's."""
    await create(auth_edge, "r-1")
    await sync_until_drained(auth_edge)

    claims = _edge_claims(auth_edge.cloud, edge_key)

    assert {path for path, _ in auth_edge.cloud.authorizations} >= {
        "/sync/info",
        "/sync/push",
        "/sync/feed",
    }
    assert {c.sub for c in claims} == {"edge-a"}
    assert len({c.jti for c in claims}) == 1
    assert all(c.exp - time.time() <= 300 for c in claims)


async def test_bc20f_expired_token_401_resigns_and_keeps_changes(
    auth_edge: Edge, edge_key: rsa.RSAPrivateKey
) -> None:
    """
    BC-20 (f): the cloud answers 401 to the first push of 5 pending changes.

    The edge drops its token, signs a fresh one (another jti) and pushes again;
    none of the 5 is rejected or dropped, and all end applied.
    """
    auth_edge.cloud.failures = [(401, {})]
    for n in range(5):
        await create(auth_edge, f"r-{n}")

    await sync_until_drained(auth_edge)

    assert auth_edge.cloud.failures == []
    pushes = _edge_claims(auth_edge.cloud, edge_key, "/sync/push")
    assert len(pushes) >= 2
    assert pushes[0].jti != pushes[1].jti
    states = await outbox_states(auth_edge)
    assert len(states) == 5
    assert set(states.values()) == {"applied"}
    assert len(set(auth_edge.cloud.received)) == 5


def test_credentials_resign_near_expiry_and_after_refusal(
    edge_key: rsa.RSAPrivateKey,
) -> None:
    """The token is reused until < 60 s remain, and dropped only if refused."""
    now = [1_000_000.0]
    credentials = EdgeCredentials(
        TokenSigner.from_private_key(edge_key),
        "edge-a",
        audience=AUDIENCE,
        clock=lambda: now[0],
    )
    first = credentials.token()
    now[0] += 239
    assert credentials.token() == first
    now[0] += 2
    second = credentials.token()
    assert second != first

    credentials.refused(first)
    assert credentials.token() == second
    credentials.refused(second)
    assert credentials.token() != second


def test_group_readable_edge_key_is_refused_at_start(
    auth_settings: EdgeSettings,
) -> None:
    """An edge key open to others stops the app factory, before serving."""
    assert auth_settings.edge_key_file is not None
    auth_settings.edge_key_file.chmod(0o640)

    with pytest.raises(KeyFileError, match="open to group or others"):
        create_app(auth_settings)


def test_edge_refuses_to_start_without_issuer_keys(settings: EdgeSettings) -> None:
    """No JWK set and no explicit anonymous mode: the edge does not start."""
    unkeyed = settings.model_copy(update={"allow_anonymous": False})

    with pytest.raises(AuthenticationNotConfiguredError, match="ISSUER_JWKS_FILE"):
        create_app(unkeyed)


async def test_the_edge_clearance_caps_every_write(
    settings: EdgeSettings, cloud: FakeCloud
) -> None:
    """
    An IL4 edge refuses an IL5 report even from an IL5 analyst (here anonymous,
    who may do everything): the cloud would reject it, and its text would stay.
    """
    capped = settings.model_copy(update={"clearance": Classification.IL4})
    async for edge in start_edge(capped, cloud):
        above = await edge.client.post(
            "/reports", json=report_body("r-1") | {"classification": "IL5"}
        )
        within = await edge.client.post(
            "/reports", json=report_body("r-2") | {"classification": "IL4"}
        )
        raised = await edge.client.patch("/reports/r-2", json={"classification": "IL5"})

        assert above.status_code == 403
        assert "this edge's" in above.json()["detail"]
        assert within.status_code == 201
        assert raised.status_code == 403
        listed = (await edge.client.get("/reports")).json()["reports"]
        assert [r["report_id"] for r in listed] == ["r-2"]
