"""
Authentication and clearance at the cloud, attacked through its HTTP API.

Every refused call must fail closed (401 or 403) and leave nothing stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwe

from cloud_service.app import create_app
from cloud_service.settings import CloudSettings
from edgesync.keys import generate_private_key, public_key_pem
from edgesync.tokens import (
    AuthenticationNotConfiguredError,
    Role,
    TokenSigner,
    sign_edge_token,
)
from syncproto import Classification
from tests.cloud_service.helpers import change
from tests.cloud_service.world import AUDIENCE, World


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forged(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = (
        f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _edge_claims(edge_id: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": edge_id,
        "sub": edge_id,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 60,
    }


async def test_registered_edge_pushes_and_reads_the_feed(world: World) -> None:
    response = await world.push(
        "edge-a", change("edge-a", 1), headers=world.edge("edge-a")
    )

    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["outcome"] == "applied"
    feed = await world.client.get("/sync/feed", headers=world.edge("edge-a"))
    assert feed.status_code == 200
    assert [e["report_id"] for e in feed.json()["entries"]] == ["r1"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer " + "A" * 20_000},
    ],
    ids=["missing", "basic", "garbage", "oversized"],
)
async def test_push_without_a_valid_token_is_401_and_stores_nothing(
    world: World, headers: dict[str, str]
) -> None:
    response = await world.push("edge-a", change("edge-a", 1), headers=headers)

    assert response.status_code in {400, 401, 431}
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await world.stored() == 0


async def test_alg_none_and_hs256_with_the_public_key_are_401(world: World) -> None:
    claims = _edge_claims("edge-a")
    none_header = _b64(json.dumps({"alg": "none"}).encode())
    none_token = f"{none_header}.{_b64(json.dumps(claims).encode())}."
    pem = public_key_pem(world.edge_keys["edge-a"].public_key())
    hs256 = _forged({"alg": "HS256", "typ": "JWT"}, claims, pem)

    for token in (none_token, hs256):
        response = await world.push(
            "edge-a", change("edge-a", 1), headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert token not in response.text
    assert await world.stored() == 0


async def test_unregistered_key_wrong_audience_and_expired_are_401(
    world: World,
) -> None:
    stranger = TokenSigner.from_private_key(generate_private_key())
    real = TokenSigner.from_private_key(world.edge_keys["edge-a"])
    expired = dict(_edge_claims("edge-a"), iat=int(time.time()) - 900)
    expired["exp"] = int(time.time()) - 600
    tokens = [
        sign_edge_token(stranger, "edge-a", audience=AUDIENCE),
        sign_edge_token(real, "edge-a", audience="someone-else"),
        real.sign(expired),
        sign_edge_token(stranger, "edge-z", audience=AUDIENCE),
    ]

    for token in tokens:
        response = await world.push(
            "edge-a", change("edge-a", 1), headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, response.text
    assert await world.stored() == 0


async def test_revoked_edge_is_401_at_once(world: World) -> None:
    headers = world.edge("edge-a")
    revoked = await world.client.post(
        "/edges/edge-a/revoke", headers=world.analyst(Role.ADMIN)
    )
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None

    response = await world.push("edge-a", change("edge-a", 1), headers=headers)

    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert await world.stored() == 0
    assert (await world.register("edge-a")).status_code == 201
    again = await world.push(
        "edge-a", change("edge-a", 1), headers=world.edge("edge-a")
    )
    assert again.status_code == 200


async def test_batch_for_another_edge_is_403(world: World) -> None:
    assert (await world.register("edge-b")).status_code == 201

    response = await world.push(
        "edge-b", change("edge-b", 1), headers=world.edge("edge-a")
    )

    assert response.status_code == 403
    assert await world.stored() == 0


async def test_change_with_another_origin_is_rejected(world: World) -> None:
    response = await world.push(
        "edge-a", change("edge-b", 1), headers=world.edge("edge-a")
    )

    assert response.status_code == 200
    result = response.json()["results"][0]
    assert result["outcome"] == "rejected"
    assert "not the sender" in result["reason"]
    assert await world.stored() == 0


async def test_change_above_the_edge_clearance_is_rejected(world: World) -> None:
    above = change("edge-a", 1, classification="IL5")

    first = await world.push("edge-a", above, headers=world.edge("edge-a"))
    again = await world.push("edge-a", above, headers=world.edge("edge-a"))

    assert first.json()["results"][0]["outcome"] == "rejected"
    assert "clearance" in first.json()["results"][0]["reason"]
    assert again.json()["results"][0]["outcome"] == "duplicate"
    assert await world.stored() == 0


async def test_feed_sends_an_edge_only_what_its_clearance_allows(world: World) -> None:
    assert (await world.register("edge-hi", Classification.IL5)).status_code == 201
    await world.push(
        "edge-hi",
        change("edge-hi", 1, "secret", classification="IL5"),
        change("edge-hi", 2, "open", classification="CUI"),
        headers=world.edge("edge-hi"),
    )

    page = (await world.client.get("/sync/feed", headers=world.edge("edge-a"))).json()

    assert [e["report_id"] for e in page["entries"]] == ["open"]
    assert page["next_after"] == 2


async def test_analyst_below_the_clearance_sees_404_and_a_filtered_list(
    world: World,
) -> None:
    assert (await world.register("edge-hi", Classification.IL5)).status_code == 201
    await world.push(
        "edge-hi",
        change("edge-hi", 1, "secret", classification="IL5"),
        change("edge-hi", 2, "open", classification="CUI"),
        headers=world.edge("edge-hi"),
    )
    low = world.analyst(Role.ANALYST, clearance=Classification.CUI)

    single = await world.client.get("/reports/secret", headers=low)
    history = await world.client.get("/reports/secret/history", headers=low)
    listed = await world.client.get("/reports", headers=low)

    assert single.status_code == 404
    assert history.status_code == 404
    assert [r["report_id"] for r in listed.json()["reports"]] == ["open"]
    high = await world.client.get("/reports/secret", headers=world.analyst())
    assert high.status_code == 200


async def test_admin_calls_need_the_admin_role(world: World) -> None:
    key = generate_private_key()
    body = {
        "edge_id": "edge-x",
        "public_key_pem": public_key_pem(key.public_key()).decode(),
        "clearance": "CUI",
    }

    as_analyst = await world.client.post(
        "/edges", json=body, headers=world.analyst(Role.ANALYST, Role.RESOLVER)
    )
    revoke = await world.client.post(
        "/edges/edge-a/revoke", headers=world.analyst(Role.ANALYST)
    )

    assert as_analyst.status_code == 403
    assert revoke.status_code == 403
    edges = await world.client.get("/edges", headers=world.analyst())
    assert [e["edge_id"] for e in edges.json()["edges"]] == ["edge-a"]


async def test_registration_refuses_a_weak_or_malformed_key(world: World) -> None:
    # Weak on purpose: the registration must refuse it.
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    for pem in (public_key_pem(weak.public_key()).decode(), "not a key"):
        response = await world.client.post(
            "/edges",
            json={"edge_id": "edge-w", "public_key_pem": pem, "clearance": "CUI"},
            headers=world.analyst(Role.ADMIN),
        )
        assert response.status_code == 422, response.text
    unknown = await world.client.post(
        "/edges/edge-nobody/revoke", headers=world.analyst(Role.ADMIN)
    )
    assert unknown.status_code == 404


async def test_analyst_token_for_another_audience_is_401(world: World) -> None:
    response = await world.client.get(
        "/reports", headers=world.analyst(Role.ANALYST, audience="other")
    )

    assert response.status_code == 401


async def test_edge_token_is_not_an_analyst_token(world: World) -> None:
    response = await world.client.get("/reports", headers=world.edge("edge-a"))

    assert response.status_code == 401


async def test_health_and_openapi_stay_open(world: World) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert (await world.client.get(path)).status_code == 200
    document = (await world.client.get("/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    # Swagger UI's Authorize button comes from this bearer scheme.
    assert {s["type"]: s["scheme"] for s in schemes.values()} == {"http": "bearer"}
    push = document["paths"]["/sync/push"]["post"]
    assert push["security"] == [{name: []} for name in schemes]


async def test_no_log_line_holds_a_token_or_a_key(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    good = world.edge("edge-a")
    expired = TokenSigner.from_private_key(world.edge_keys["edge-a"]).sign(
        dict(_edge_claims("edge-a"), exp=int(time.time()) - 600)
    )
    bad = {"Authorization": f"Bearer {expired}"}
    await world.push("edge-a", change("edge-a", 1), headers=good)
    await world.push("edge-a", change("edge-a", 2), headers=bad)
    await world.client.get("/reports", headers=world.analyst(audience="other"))

    logged = capsys.readouterr()
    pem = public_key_pem(world.edge_keys["edge-a"].public_key()).decode()
    secrets = [good["Authorization"].split()[1], expired, pem.splitlines()[1]]
    assert "token_rejected" in logged.out + logged.err
    for secret in secrets:
        assert secret not in logged.out + logged.err


async def test_resolving_needs_the_resolver_role_and_names_the_sub(
    world: World,
) -> None:
    assert (await world.register("edge-b")).status_code == 201
    base = change("edge-a", 1)
    await world.push("edge-a", base, headers=world.edge("edge-a"))
    clock = base["clock"]
    ours = change("edge-a", 2, base_clock=clock, title="A", minutes=1)
    theirs = change("edge-b", 1, base_clock=clock, title="B", minutes=2)
    await world.push("edge-a", ours, headers=world.edge("edge-a"))
    pushed = await world.push("edge-b", theirs, headers=world.edge("edge-b"))
    conflict_id = pushed.json()["results"][0]["conflict_id"]
    shown = await world.client.get(f"/conflicts/{conflict_id}", headers=world.analyst())
    body = {"keep": ours["change_id"], "reason": "checked"}

    refused = await world.client.post(
        f"/conflicts/{conflict_id}/resolve",
        json=body,
        headers={"If-Match": shown.headers["etag"], **world.analyst(Role.ANALYST)},
    )
    low = await world.client.get(
        f"/conflicts/{conflict_id}",
        headers=world.analyst(Role.RESOLVER, clearance=Classification.CUI),
    )
    resolved = await world.client.post(
        f"/conflicts/{conflict_id}/resolve",
        json=body,
        headers={
            "If-Match": shown.headers["etag"],
            **world.analyst(Role.RESOLVER, sub="resolver-7"),
        },
    )

    assert refused.status_code == 403
    assert low.status_code == 200
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["resolution"]["resolved_by"] == "resolver-7"


def test_cloud_refuses_to_start_without_issuer_keys(tmp_path: Path) -> None:
    settings = CloudSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/c.db")

    with pytest.raises(AuthenticationNotConfiguredError, match="ISSUER_JWKS_FILE"):
        create_app(settings)


async def test_conflicts_above_the_clearance_are_left_out(world: World) -> None:
    assert (await world.register("edge-hi", Classification.IL5)).status_code == 201
    assert (await world.register("edge-h2", Classification.IL5)).status_code == 201
    base = change("edge-hi", 1, "secret", classification="IL5")
    await world.push("edge-hi", base, headers=world.edge("edge-hi"))
    ours = change(
        "edge-hi",
        2,
        "secret",
        base_clock=base["clock"],
        title="A",
        classification="IL5",
    )
    theirs = change(
        "edge-h2",
        1,
        "secret",
        base_clock=base["clock"],
        title="B",
        classification="IL5",
    )
    await world.push("edge-hi", ours, headers=world.edge("edge-hi"))
    pushed = await world.push("edge-h2", theirs, headers=world.edge("edge-h2"))
    conflict_id = pushed.json()["results"][0]["conflict_id"]
    low = world.analyst(Role.RESOLVER, clearance=Classification.IL4)

    listed = await world.client.get("/conflicts", headers=low)
    single = await world.client.get(f"/conflicts/{conflict_id}", headers=low)
    seen = await world.client.get("/conflicts", headers=world.analyst())

    assert listed.json() == {"conflicts": [], "count": 0}
    assert single.status_code == 404
    assert seen.json()["count"] == 1


async def test_bc19_a_jwe_bearer_is_401_without_decryption(world: World) -> None:
    """BC-19 at the door: a five-part JWE (zip=DEF) is never decrypted."""
    plaintext = json.dumps(_edge_claims("edge-a")).encode() * 100
    token = jwe.encrypt(
        plaintext, os.urandom(32), encryption="A256GCM", algorithm="dir", zip="DEF"
    ).decode("ascii")
    assert token.count(".") == 4

    for headers in (
        {"Authorization": f"Bearer {token}"},
        world.analyst(Role.ANALYST) | {"Authorization": f"Bearer {token}"},
    ):
        response = await world.push("edge-a", change("edge-a", 1), headers=headers)
        assert response.status_code == 401
        assert "not a compact JWS" in response.json()["detail"]
    assert await world.stored() == 0


async def test_edge_cannot_overwrite_a_report_above_its_clearance(
    world: World,
) -> None:
    """A CUI-cleared edge guessing an IL5 report's id cannot reclassify it down."""
    assert (await world.register("edge-hi", Classification.IL5)).status_code == 201
    assert (await world.register("edge-lo", Classification.CUI)).status_code == 201
    secret = change("edge-hi", 1, "secret", classification="IL5", title="Real")
    await world.push("edge-hi", secret, headers=world.edge("edge-hi"))
    downgrade = change(
        "edge-lo", 1, "secret", base_clock=secret["clock"], title="Forged"
    )

    response = await world.push("edge-lo", downgrade, headers=world.edge("edge-lo"))

    result = response.json()["results"][0]
    assert result["outcome"] == "rejected"
    assert "above the edge's clearance" in result["reason"]
    kept = await world.client.get("/reports/secret", headers=world.analyst())
    assert kept.json()["title"] == "Real"
    assert kept.json()["classification"] == "IL5"


async def test_history_leaves_out_versions_above_the_clearance(world: World) -> None:
    assert (await world.register("edge-hi", Classification.IL5)).status_code == 201
    secret = change("edge-hi", 1, "down", classification="IL5", content="IL5 text")
    lowered = change(
        "edge-hi", 2, "down", base_clock=secret["clock"], content="public text"
    )
    await world.push("edge-hi", secret, lowered, headers=world.edge("edge-hi"))
    low = world.analyst(Role.ANALYST, clearance=Classification.CUI)

    history = await world.client.get("/reports/down/history", headers=low)
    full = await world.client.get("/reports/down/history", headers=world.analyst())

    assert [v["fields"]["content"] for v in history.json()["versions"]] == [
        "public text"
    ]
    assert len(full.json()["versions"]) == 2
    assert "IL5 text" not in history.text


async def test_an_admin_clears_edges_only_up_to_their_own_clearance(
    world: World,
) -> None:
    key = generate_private_key()
    body = {
        "edge_id": "edge-x",
        "public_key_pem": public_key_pem(key.public_key()).decode(),
        "clearance": "IL5",
    }
    low_admin = world.analyst(Role.ADMIN, clearance=Classification.CUI)

    refused = await world.client.post("/edges", json=body, headers=low_admin)
    allowed = await world.client.post(
        "/edges", json=body | {"clearance": "CUI"}, headers=low_admin
    )

    assert refused.status_code == 403
    assert "cannot clear an edge for IL5" in refused.json()["detail"]
    assert allowed.status_code == 201


async def test_roles_of_other_applications_are_ignored(world: World) -> None:
    token = world.issuer.sign(
        {
            "iss": "dev-issuer",
            "sub": "analyst-9",
            "aud": AUDIENCE,
            "exp": int(time.time()) + 300,
            "roles": ["viewer", "analyst", {"odd": 1}],
            "clearance": "IL5",
        }
    )

    response = await world.client.get(
        "/reports", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200


async def test_a_merged_conflict_never_shows_il5_text_to_il4_readers(
    world: World,
) -> None:
    """The fresh-user case: an IL5 edit against a concurrent IL4 reclassification."""
    assert (await world.register("edge-hi", Classification.IL5)).status_code == 201
    base = change("edge-hi", 1, "leak", classification="CUI")
    await world.push("edge-hi", base, headers=world.edge("edge-hi"))
    lowered = change(
        "edge-a", 1, "leak", base_clock=base["clock"], classification="IL4", minutes=5
    )
    raised = change(
        "edge-hi",
        2,
        "leak",
        base_clock=base["clock"],
        classification="IL5",
        content="IL5 SECRET DETAIL",
    )
    await world.push("edge-a", lowered, headers=world.edge("edge-a"))
    pushed = await world.push("edge-hi", raised, headers=world.edge("edge-hi"))
    il4 = world.analyst(Role.ANALYST, clearance=Classification.IL4)

    shown = await world.client.get("/reports/leak", headers=world.analyst())
    hidden = await world.client.get("/reports/leak", headers=il4)
    feed = await world.client.get("/sync/feed", headers=world.edge("edge-a"))

    assert pushed.json()["results"][0]["outcome"] == "conflict"
    assert shown.json()["content"] == "IL5 SECRET DETAIL"
    assert shown.json()["classification"] == "IL5"
    assert hidden.status_code == 404
    assert "IL5 SECRET DETAIL" not in feed.text
