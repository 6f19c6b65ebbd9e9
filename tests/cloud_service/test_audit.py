"""
The cloud's audit log: one record per action, a chain that shows tampering.

Expected values come from docs/audit.md: which actions are recorded, with
which actor and edge, and the digest of a report's fields (SHA-256 over the
sorted, compact JSON of title, content, classification and deleted).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from edgesync.auditfile import read_ndjson
from edgesync.tokens import Role
from syncproto import Classification
from syncproto.audit import ChainCheck
from tests.cloud_service.helpers import change
from tests.cloud_service.world import World


def _digest(title: str, content: str, classification: str, deleted: bool) -> str:
    fields = {
        "title": title,
        "content": content,
        "classification": classification,
        "deleted": deleted,
    }
    encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


async def _records(world: World, **params: Any) -> list[dict[str, Any]]:
    response = await world.client.get(
        "/audit", params={"limit": 1000, **params}, headers=world.analyst(Role.AUDITOR)
    )
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


async def _actions(world: World, **params: Any) -> list[str]:
    return [r["action"] for r in await _records(world, **params)]


async def _verify(world: World, **params: Any) -> dict[str, Any]:
    response = await world.client.get(
        "/audit/verify", params=params, headers=world.analyst(Role.AUDITOR)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_registration_is_recorded_with_its_admin(world: World) -> None:
    (record,) = await _records(world)

    assert record["seq"] == 1
    assert record["action"] == "edge.registered"
    assert record["actor"] == "analyst-1"
    assert record["edge_id"] == "edge-a"
    assert record["detail"]["clearance"] == "IL4"
    assert "public_key_pem" not in json.dumps(record)


async def test_a_change_pushed_three_times_is_received_once(world: World) -> None:
    c1 = change("edge-a", 1, "rpt-001", title="Alpha", content="one")
    for _ in range(3):
        response = await world.push("edge-a", c1, headers=world.edge("edge-a"))
        assert response.status_code == 200
    twice = await world.push("edge-a", c1, c1, headers=world.edge("edge-a"))
    assert [r["outcome"] for r in twice.json()["results"]] == ["duplicate"] * 2

    received = await _records(world, action="change.received")

    assert len(received) == 1
    (record,) = received
    assert record["change_id"] == c1["change_id"]
    assert record["outcome"] == "applied"
    assert record["actor"] == "analyst-edge-a"
    assert record["edge_id"] == "edge-a"
    assert record["report_id"] == "rpt-001"
    assert record["before_digest"] is None
    assert record["after_digest"] == _digest("Alpha", "one", "CUI", False)
    assert record["classification"] == "CUI"


async def test_an_update_records_the_digests_before_and_after(world: World) -> None:
    create = change("edge-a", 1, "rpt-002", title="T0", content="C0")
    update = change(
        "edge-a", 2, "rpt-002", base_clock=create["clock"], title="T1", content="C0"
    )
    await world.push("edge-a", create, update, headers=world.edge("edge-a"))

    records = await _records(world, report_id="rpt-002")

    assert [r["outcome"] for r in records] == ["applied", "applied"]
    assert records[1]["before_digest"] == _digest("T0", "C0", "CUI", False)
    assert records[1]["after_digest"] == _digest("T1", "C0", "CUI", False)
    assert records[1]["request_id"]


async def test_a_rejected_change_is_recorded_once(world: World) -> None:
    above = change("edge-a", 1, "rpt-003", classification="IL5")
    for _ in range(2):
        await world.push("edge-a", above, headers=world.edge("edge-a"))

    (record,) = await _records(world, action="change.received")

    assert record["outcome"] == "rejected"
    assert "clearance" in record["reason"]


async def test_conflict_opened_joined_and_resolved(world: World) -> None:
    for edge in ("edge-b", "edge-c"):
        assert (await world.register(edge)).status_code == 201
    base = change("edge-a", 1, "rpt-004", title="T0", content="C0")
    await world.push("edge-a", base, headers=world.edge("edge-a"))
    sides = {}
    for n, edge in enumerate(("edge-b", "edge-c", "edge-a"), start=1):
        sides[edge] = change(
            edge,
            2 if edge == "edge-a" else 1,
            "rpt-004",
            base_clock=base["clock"],
            title=f"T-{n}",
        )
        result = await world.push(edge, sides[edge], headers=world.edge(edge))
        assert result.status_code == 200
    actions = await _actions(world, report_id="rpt-004")
    assert actions == [
        "change.received",
        "change.received",
        "change.received",
        "conflict.opened",
        "change.received",
        "conflict.joined",
    ]
    opened = (await _records(world, action="conflict.opened"))[0]
    conflict_id = opened["conflict_id"]
    assert opened["change_id"] == sides["edge-c"]["change_id"]
    assert opened["detail"] == {"fields": ["title"]}

    resolver = world.analyst(Role.RESOLVER, sub="resolver-1")
    conflict = await world.client.get(f"/conflicts/{conflict_id}", headers=resolver)
    resolved = await world.client.post(
        f"/conflicts/{conflict_id}/resolve",
        json={"keep": sides["edge-b"]["change_id"], "reason": "edge-b saw it"},
        headers={**resolver, "If-Match": conflict.headers["ETag"]},
    )
    assert resolved.status_code == 200, resolved.text

    (record,) = await _records(world, action="conflict.resolved")
    assert record["actor"] == "resolver-1"
    assert record["reason"] == "edge-b saw it"
    assert record["conflict_id"] == conflict_id
    assert record["after_digest"] == _digest("T-1", "Body", "CUI", False)
    assert record["detail"] == {"kept_change_id": sides["edge-b"]["change_id"]}


async def test_revocation_and_refusals_are_recorded_without_the_token(
    world: World,
) -> None:
    analyst = world.analyst(Role.ANALYST, sub="analyst-2")
    token = analyst["Authorization"].removeprefix("Bearer ")
    assert (await world.client.get("/reports")).status_code == 401
    denied = await world.client.post("/edges/edge-a/revoke", headers=analyst)
    assert denied.status_code == 403
    bad = {"Authorization": "Bearer " + token[:-4] + "AAAA"}
    assert (await world.client.get("/reports", headers=bad)).status_code == 401
    revoked = await world.client.post(
        "/edges/edge-a/revoke", headers=world.analyst(Role.ADMIN)
    )
    assert revoked.status_code == 200

    records = await _records(world)

    assert [r["action"] for r in records] == [
        "edge.registered",
        "auth.failed",
        "access.denied",
        "auth.failed",
        "edge.revoked",
    ]
    assert records[1]["actor"] == "anonymous"
    assert records[1]["detail"]["path"] == "/reports"
    assert records[2]["actor"] == "analyst-2"
    assert records[2]["outcome"] == "403"
    assert records[4]["edge_id"] == "edge-a"
    assert token[:40] not in json.dumps(records)


async def test_the_auditor_role_is_needed(world: World) -> None:
    for path in ("/audit", "/audit/verify", "/audit/export"):
        response = await world.client.get(
            path, headers=world.analyst(Role.ANALYST, Role.ADMIN)
        )
        assert response.status_code == 403, path


async def test_records_above_the_auditor_clearance_are_left_out(world: World) -> None:
    assert (await world.register("edge-hi", Classification.IL5)).status_code == 201
    await world.push(
        "edge-hi",
        change("edge-hi", 1, "secret", classification="IL5"),
        change("edge-hi", 2, "open", classification="CUI"),
        headers=world.edge("edge-hi"),
    )
    low = world.analyst(Role.AUDITOR, clearance=Classification.CUI)

    response = await world.client.get(
        "/audit", params={"action": "change.received"}, headers=low
    )

    assert [r["report_id"] for r in response.json()["records"]] == ["open"]
    export = await world.client.get("/audit/export", headers=low)
    assert export.headers["x-audit-complete"] == "false"


async def test_filters_and_pages(world: World) -> None:
    await world.push(
        "edge-a",
        *(change("edge-a", n, f"rpt-{n:03}") for n in range(1, 6)),
        headers=world.edge("edge-a"),
    )
    headers = world.analyst(Role.AUDITOR)

    first = await world.client.get(
        "/audit", params={"edge_id": "edge-a", "limit": 4}, headers=headers
    )
    body = first.json()
    rest = await world.client.get(
        "/audit",
        params={"edge_id": "edge-a", "after": body["next_after"]},
        headers=headers,
    )

    seqs = [r["seq"] for r in body["records"] + rest.json()["records"]]
    assert seqs == [1, 2, 3, 4, 5, 6]
    assert rest.json()["next_after"] is None
    assert await _actions(world, actor="analyst-edge-a", report_id="rpt-003") == [
        "change.received"
    ]
    future = await _records(world, since="2999-01-01T00:00:00Z")
    assert future == []
    for params in (
        {"action": "report.burned"},
        {"since": "2026-01-01T00:00:00"},
        {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    ):
        wrong = await world.client.get("/audit", params=params, headers=headers)
        assert wrong.status_code == 422, params
        assert wrong.headers["content-type"] == "application/problem+json"
        assert wrong.json()["detail"]


async def test_history_shows_the_audit_trail_to_auditors(world: World) -> None:
    await world.push(
        "edge-a", change("edge-a", 1, "rpt-010"), headers=world.edge("edge-a")
    )

    plain = await world.client.get("/reports/rpt-010/history", headers=world.analyst())
    audited = await world.client.get(
        "/reports/rpt-010/history", headers=world.analyst(Role.AUDITOR)
    )

    assert plain.json()["audit"] is None
    assert [r["action"] for r in audited.json()["audit"]] == ["change.received"]


async def test_export_streams_a_chain_that_verifies_offline(world: World) -> None:
    await world.push(
        "edge-a",
        *(change("edge-a", n, f"rpt-{n:03}") for n in range(1, 4)),
        headers=world.edge("edge-a"),
    )
    headers = world.analyst(Role.AUDITOR, sub="auditor-1")

    ndjson = await world.client.get("/audit/export", headers=headers)
    as_csv = await world.client.get(
        "/audit/export", params={"format": "csv"}, headers=headers
    )

    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    records = list(read_ndjson(ndjson.text.splitlines()))
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[-1].action == "audit.exported"
    assert records[-1].actor == "auditor-1"
    assert ndjson.headers["x-audit-head-seq"] == "5"
    assert ndjson.headers["x-audit-complete"] == "true"
    assert records[-1].detail == {"format": "ndjson", "complete": True}
    check = ChainCheck()
    assert all(check.add(r) for r in records)
    assert check.finish(5, ndjson.headers["x-audit-head-hash"]).ok
    lines = as_csv.text.splitlines()
    assert lines[0].startswith("seq,at,action,actor")
    assert len(lines) == 1 + 6
    assert await _actions(world, action="audit.exported") == ["audit.exported"] * 2


async def test_verify_passes_on_a_clean_log(world: World) -> None:
    await world.push(
        "edge-a",
        *(change("edge-a", n, f"rpt-{n:03}") for n in range(1, 4)),
        headers=world.edge("edge-a"),
    )

    result = await _verify(world)

    assert result["ok"] is True
    assert result["checked"] == result["head_seq"] == 4
    assert result["first_bad_seq"] is None


async def _tampered(world: World, db_url: str, *statements: str) -> dict[str, Any]:
    """Run *statements* as someone with direct access to the database."""
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()
    return await _verify(world)


def _unguarded(db_url: str) -> list[str]:
    if db_url.startswith("postgresql"):
        return ["ALTER TABLE audit DISABLE TRIGGER USER"]
    return ["DROP TRIGGER audit_no_update", "DROP TRIGGER audit_no_delete"]


async def _five_records(world: World) -> None:
    await world.push(
        "edge-a",
        *(change("edge-a", n, f"rpt-{n:03}") for n in range(1, 5)),
        headers=world.edge("edge-a"),
    )


async def test_the_database_refuses_to_change_a_record(
    world: World, db_url: str
) -> None:
    await _five_records(world)
    for statement in (
        "UPDATE audit SET reason = 'nothing happened' WHERE seq = 2",
        "DELETE FROM audit WHERE seq = 2",
        "UPDATE audit_head SET seq = 1",
    ):
        with pytest.raises(DBAPIError, match=r"append-only|only moves forward"):
            await _tampered(world, db_url, statement)
    assert (await _verify(world))["ok"] is True


async def test_verify_names_an_altered_record(world: World, db_url: str) -> None:
    await _five_records(world)

    result = await _tampered(
        world,
        db_url,
        *_unguarded(db_url),
        "UPDATE audit SET actor = 'someone-else' WHERE seq = 3",
    )

    assert result["ok"] is False
    assert result["first_bad_seq"] == 3
    assert "altered" in result["problem"]


async def test_verify_names_a_deleted_record(world: World, db_url: str) -> None:
    await _five_records(world)

    result = await _tampered(
        world, db_url, *_unguarded(db_url), "DELETE FROM audit WHERE seq = 2"
    )

    assert result["first_bad_seq"] == 2
    assert "missing" in result["problem"]


async def test_verify_names_an_inserted_record(world: World, db_url: str) -> None:
    await _five_records(world)
    (last,) = [r for r in await _records(world) if r["seq"] == 5]

    result = await _tampered(
        world,
        db_url,
        "INSERT INTO audit (seq, at, action, actor, prev_hash, hash)"
        f" VALUES (6, '2026-12-04 08:00:00', 'edge.revoked', 'mallory',"
        f" '{last['hash']}', '{'0' * 64}')",
    )

    assert result["first_bad_seq"] == 6
    assert result["checked"] == 6


async def test_an_anchor_catches_a_log_rewritten_with_its_head(
    world: World, db_url: str
) -> None:
    await _five_records(world)
    (noted,) = [r for r in await _records(world) if r["seq"] == 5]
    anchor = f"5:{noted['hash']}"

    # Remove the last record and move the head back: the chain alone is whole.
    await _tampered(
        world,
        db_url,
        *_unguarded(db_url),
        "DROP TRIGGER IF EXISTS audit_head_forward"
        + (" ON audit_head" if db_url.startswith("postgresql") else ""),
        "DELETE FROM audit WHERE seq = 5",
        "UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit WHERE seq = 4)",
    )

    assert (await _verify(world))["ok"] is True
    result = await _verify(world, anchor=anchor)
    assert result["ok"] is False
    assert result["first_bad_seq"] == 5
    malformed = await world.client.get(
        "/audit/verify",
        params={"anchor": "five:abc"},
        headers=world.analyst(Role.AUDITOR),
    )
    assert malformed.status_code == 422


async def test_an_anonymous_cloud_records_too(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/sync/push", json={"edge_id": "edge-a", "changes": [change("edge-a", 1)]}
    )
    assert response.status_code == 200

    page = (await client.get("/audit")).json()

    assert [r["action"] for r in page["records"]] == ["change.received"]
    assert page["records"][0]["actor"] == "analyst-edge-a"


async def test_verify_names_an_unreadable_record(world: World, db_url: str) -> None:
    await _five_records(world)

    result = await _tampered(
        world,
        db_url,
        *_unguarded(db_url),
        "UPDATE audit SET action = 'report.hacked' WHERE seq = 3",
    )

    assert result["ok"] is False
    assert result["first_bad_seq"] == 3
    assert "not a readable audit record" in result["problem"]


async def test_verify_fails_when_the_head_is_gone(world: World, db_url: str) -> None:
    await _five_records(world)
    drop = (
        "ALTER TABLE audit_head DISABLE TRIGGER USER"
        if db_url.startswith("postgresql")
        else "DROP TRIGGER audit_head_no_delete"
    )

    result = await _tampered(world, db_url, drop, "DELETE FROM audit_head")

    assert result["ok"] is False
    assert "head is gone" in result["problem"]


async def test_a_refusal_records_the_route_not_the_report_it_names(
    world: World,
) -> None:
    response = await world.client.get("/reports/rpt-secret-op/history")
    assert response.status_code == 401

    (refusal,) = await _records(world, action="auth.failed")

    assert refusal["detail"]["path"] == "/reports/{report_id}/history"
    assert "rpt-secret-op" not in json.dumps(refusal)


async def test_a_malformed_change_of_a_report_above_keeps_its_marking(
    world: World,
) -> None:
    """A rejected change names a report that an auditor below it must not see."""
    assert (await world.register("edge-hi", Classification.IL5)).status_code == 201
    create = change("edge-hi", 1, "rpt-secret", classification="IL5")
    await world.push("edge-hi", create, headers=world.edge("edge-hi"))
    broken = change("edge-hi", 2, "rpt-secret", base_clock=create["clock"], clock={})
    result = await world.push("edge-hi", broken, headers=world.edge("edge-hi"))
    assert result.json()["results"][0]["outcome"] == "rejected"
    low = world.analyst(Role.AUDITOR, clearance=Classification.CUI)

    seen = await world.client.get(
        "/audit", params={"report_id": "rpt-secret"}, headers=low
    )
    full = await _records(world, report_id="rpt-secret")

    assert seen.json()["records"] == []
    assert [r["classification"] for r in full] == ["IL5", "IL5"]


async def test_bad_actor_and_anchor_values_are_422(world: World) -> None:
    headers = world.analyst(Role.AUDITOR)
    noted = (await _records(world))[0]
    cases = (
        ("/audit", {"actor": "\x00"}),
        ("/audit/export", {"actor": "\x00"}),
        ("/audit/verify", {"anchor": f"0:{noted['hash']}"}),
        ("/audit/verify", {"anchor": [f"1:{'0' * 64}", f"1:{noted['hash']}"]}),
    )
    for path, params in cases:
        response = await world.client.get(path, params=params, headers=headers)
        assert response.status_code == 422, (path, params, response.text)
        assert response.json()["detail"]
    assert await _actions(world, action="audit.exported") == []
