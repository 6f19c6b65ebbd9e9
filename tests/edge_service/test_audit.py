"""
The edge's audit log: one record per action, a chain that shows tampering,
and the auditor's API to list, verify and export it.

Expected values follow docs/audit.md: a write's record carries the
digests of the fields before and after and the higher of their markings; a
batch answered is one ``sync.pushed`` with counts per outcome; a failed run is
one ``sync.failed``; a page with entries is one ``feed.applied``; nothing else
writes a record.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from edge_service import audit
from edge_service.db import database_path, to_db_time
from edge_service.settings import EdgeSettings
from edgesync.auditfile import CSV_COLUMNS, csv_header, read_ndjson
from edgesync.keys import (
    MIN_RSA_BITS,
    generate_private_key,
    write_jwks,
    write_private_key,
)
from edgesync.tokens import Role, TokenSigner
from syncproto import Classification, ReportFields
from syncproto.audit import (
    GENESIS_HASH,
    AuditAction,
    AuditEvent,
    AuditRecord,
    ChainCheck,
    chain,
    fields_digest,
    record_hash,
)
from tests.edge_service.conftest import Edge, bearer, start_edge, token
from tests.edge_service.fakecloud import FakeCloud
from tests.edge_service.helpers import (
    change_ids,
    create,
    query,
    report_body,
    sync_until_drained,
)

PROBLEM = "application/problem+json"
CUI, IL4, IL5 = Classification.CUI, Classification.IL4, Classification.IL5


async def records(edge: Edge, **params: Any) -> list[dict[str, Any]]:
    """Return every record ``GET /audit`` lists for *params*, in seq order."""
    response = await edge.client.get("/audit", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()["records"]
    return listed


async def actions(edge: Edge) -> list[str]:
    """Return the action of every record, in seq order."""
    return [record["action"] for record in await records(edge)]


async def head(edge: Edge) -> tuple[int, str]:
    """Return the seq and hash the audit head names."""
    rows = await query(edge, "SELECT seq, hash FROM audit_head")
    return rows[0][0], rows[0][1]


async def verification(edge: Edge) -> dict[str, Any]:
    """Return the answer of ``GET /audit/verify``."""
    response = await edge.client.get("/audit/verify")
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@contextmanager
def attacker(edge: Edge) -> Iterator[sqlite3.Connection]:
    """Open the edge's file as someone with file access would, triggers dropped."""
    path = database_path(edge.runtime.settings.resolved_database_url)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for trigger in (
            "audit_no_update",
            "audit_no_delete",
            "audit_head_forward",
            "audit_head_no_delete",
        ):
            conn.execute(f"DROP TRIGGER {trigger}")
        yield conn


def digest(title: str, content: str, classification: Classification) -> str | None:
    """Return the digest of the fields of a report that is not deleted."""
    fields = ReportFields(title=title, content=content, classification=classification)
    return fields_digest(fields)


async def test_write_records_carry_actor_digests_and_marking(edge: Edge) -> None:
    """
    A create, an update and a delete leave one record each, in order, with the
    analyst, the edge, the change id, the digests before and after, and the
    higher marking of before and after.
    """
    alice = {"X-Analyst": "alice"}
    created = await edge.client.post(
        "/reports", json=report_body("r-1", title="One"), headers=alice
    )
    updated = await edge.client.patch(
        "/reports/r-1", json={"classification": "IL4"}, headers=alice
    )
    deleted = await edge.client.delete("/reports/r-1", headers=alice)

    got = await records(edge)

    content = "Three trucks heading north."
    cui, il4 = digest("One", content, CUI), digest("One", content, IL4)
    gone = fields_digest(
        ReportFields(title="One", content=content, classification=IL4, deleted=True)
    )
    assert [r["seq"] for r in got] == [1, 2, 3]
    assert [r["action"] for r in got] == [
        "report.created",
        "report.updated",
        "report.deleted",
    ]
    assert {(r["actor"], r["edge_id"], r["report_id"]) for r in got} == {
        ("alice", "edge-a", "r-1")
    }
    assert [r["change_id"] for r in got] == await change_ids(edge)
    assert [(r["before_digest"], r["after_digest"]) for r in got] == [
        (None, cui),
        (cui, il4),
        (il4, gone),
    ]
    assert [r["classification"] for r in got] == ["CUI", "IL4", "IL4"]
    assert [r["request_id"] for r in got] == [
        answer.headers["x-request-id"] for answer in (created, updated, deleted)
    ]


async def test_write_record_names_the_callers_request_id(edge: Edge) -> None:
    """An X-Request-ID sent with a write is the request id of its record."""
    response = await edge.client.post(
        "/reports", json=report_body("r-1"), headers={"X-Request-ID": "req-42"}
    )

    assert response.headers["x-request-id"] == "req-42"
    assert [r["request_id"] for r in await records(edge)] == ["req-42"]


async def test_failed_writes_leave_no_record(edge: Edge) -> None:
    """A 409, a 404 and a 422 leave the log and its head as they were."""
    await create(edge, "r-1")
    before = await head(edge)

    answers = [
        await edge.client.post("/reports", json=report_body("r-1")),
        await edge.client.patch(
            "/reports/r-1", json={"title": "x", "base_clock": {"edge-a": 9}}
        ),
        await edge.client.patch("/reports/nope", json={"title": "x"}),
        await edge.client.delete("/reports/nope"),
        await edge.client.post("/reports", json=report_body("r-2", title="")),
    ]

    assert [a.status_code for a in answers] == [409, 409, 404, 404, 422]
    assert await actions(edge) == ["report.created"]
    assert await head(edge) == before == (1, (await records(edge))[0]["hash"])


async def test_job_failing_after_append_keeps_no_record(edge: Edge) -> None:
    """
    A job that fails after appending rolls its record back with it, and the
    next record takes the seq it would have had.
    """
    event = AuditEvent(action=AuditAction.SYNC_FAILED, actor="edge-a")

    def failing(conn: sqlite3.Connection) -> None:
        audit.append(conn, [event], at=datetime.now(UTC))
        raise RuntimeError("the action after its record failed")

    with pytest.raises(RuntimeError):
        await edge.runtime.writer.run(failing)
    empty = await head(edge)
    await edge.runtime.writer.run(
        partial(audit.append, events=[event], at=datetime.now(UTC))
    )

    assert empty == (0, GENESIS_HASH)
    assert [r["seq"] for r in await records(edge)] == [1]


async def test_push_of_three_leaves_one_record_with_counts(edge: Edge) -> None:
    """A batch of three, one rejected, is one sync.pushed counting each outcome."""
    for n in range(3):
        await create(edge, f"r-{n}")
    edge.cloud.reject_ids.add((await change_ids(edge))[1])

    await sync_until_drained(edge)

    pushed = await records(edge, action="sync.pushed")
    assert len(pushed) == 1
    assert pushed[0]["detail"] == {"changes": 3, "applied": 2, "rejected": 1}
    assert (pushed[0]["actor"], pushed[0]["edge_id"]) == ("edge-a", "edge-a")
    assert await records(edge, action="sync.failed") == []


async def test_retried_push_is_one_failure_then_one_push(edge: Edge) -> None:
    """A 503 then a success is one sync.failed, then one sync.pushed of both."""
    edge.cloud.failures = [(503, {})]
    await create(edge, "r-1")
    await create(edge, "r-2")

    await sync_until_drained(edge)

    sync = [r for r in await records(edge) if r["action"].startswith("sync.")]
    assert [r["action"] for r in sync] == ["sync.failed", "sync.pushed"]
    assert "503" in sync[0]["reason"]
    assert sync[1]["detail"] == {"changes": 2, "applied": 2}


async def test_a_failure_streak_is_one_record_per_reason(edge: Edge) -> None:
    """Five 503s then two 502s then a success: one record per reason, not seven."""
    no_headers: dict[str, str] = {}
    edge.cloud.failures = [(503, no_headers)] * 5 + [(502, no_headers)] * 2
    await create(edge, "r-1")

    await sync_until_drained(edge)

    sync = [r for r in await records(edge) if r["action"].startswith("sync.")]
    assert [r["action"] for r in sync] == ["sync.failed", "sync.failed", "sync.pushed"]
    assert "503" in sync[0]["reason"]
    assert sync[0]["detail"] == {"failures_before": 0}
    assert "502" in sync[1]["reason"]
    assert sync[1]["detail"] == {"failures_before": 5}


class LoseFirstPushAnswer(httpx.AsyncBaseTransport):
    """Deliver the first push to the cloud, then lose its answer on the way back."""

    def __init__(self, cloud: FakeCloud) -> None:
        self._inner = httpx.ASGITransport(cloud.app)
        self.lost = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Forward *request*; drop the first push's answer."""
        response = await self._inner.handle_async_request(request)
        if request.url.path == "/sync/push" and not self.lost:
            self.lost = True
            raise httpx.ReadError("connection reset", request=request)
        return response


async def test_push_resent_after_lost_answer_is_one_duplicate_record(
    settings: EdgeSettings, cloud: FakeCloud
) -> None:
    """
    A change the cloud received but whose answer was lost is sent again: one
    sync.failed, then one sync.pushed that counts it as a duplicate.
    """
    async for edge in start_edge(settings, cloud, LoseFirstPushAnswer(cloud)):
        await create(edge, "r-1")
        await sync_until_drained(edge)
        sync = [r for r in await records(edge) if r["action"].startswith("sync.")]

    assert [r["action"] for r in sync] == ["sync.failed", "sync.pushed"]
    assert "ReadError" in sync[0]["reason"]
    assert sync[1]["detail"] == {"changes": 1, "duplicate": 1}


async def test_pull_page_leaves_one_feed_applied(edge: Edge) -> None:
    """A page of two entries is one feed.applied; the idle polls after it none."""
    fields = ReportFields(title="from b", content="b", classification=CUI)
    edge.cloud.add_entry("r-1", fields, {"edge-b": 1})
    edge.cloud.add_entry("r-2", fields, {"edge-b": 1})

    for _ in range(3):
        await edge.client.post("/sync/run")

    got = await records(edge)
    assert [r["action"] for r in got] == ["feed.applied"]
    assert got[0]["detail"] == {
        "entries": 2,
        "after": 0,
        "next_after": 2,
        "head": 2,
        "inserted": 2,
    }


async def test_idle_polls_write_nothing(edge: Edge) -> None:
    """Sync runs with nothing to push and an empty feed leave the log empty."""
    for _ in range(3):
        await edge.client.post("/sync/run")

    assert await records(edge) == []
    assert await head(edge) == (0, GENESIS_HASH)


async def test_verify_passes_on_clean_log(edge: Edge) -> None:
    """After writes, a push and a pull, the chain verifies up to its head."""
    await create(edge, "r-1")
    await edge.client.patch("/reports/r-1", json={"title": "edited"})
    await sync_until_drained(edge)
    count = len(await records(edge))

    answer = await verification(edge)

    assert answer["ok"] is True
    assert answer["checked"] == answer["head_seq"] == count
    assert answer["first_bad_seq"] is None


async def five_records(edge: Edge) -> None:
    """Write five records, seq 1 to 5."""
    for n in range(5):
        await create(edge, f"r-{n}")


@pytest.mark.parametrize(
    ("tampering", "first_bad"),
    [
        ("UPDATE audit SET reason = 'nothing happened' WHERE seq = 3", 3),
        ("UPDATE audit SET action = 'report.updated' WHERE seq = 3", 3),
        ("UPDATE audit SET at = 'yesterday' WHERE seq = 3", 3),
        ("DELETE FROM audit WHERE seq = 3", 3),
        ("DELETE FROM audit WHERE seq = 5", 5),
    ],
    ids=["altered-reason", "altered-action", "unreadable", "removed", "removed-last"],
)
async def test_verify_names_tampered_seq(
    edge: Edge, tampering: str, first_bad: int
) -> None:
    """A record altered or removed in the file is named by its seq."""
    await five_records(edge)
    with attacker(edge) as conn:
        conn.execute(tampering)

    answer = await verification(edge)

    assert answer["ok"] is False
    assert answer["first_bad_seq"] == first_bad
    assert answer["problem"]


async def test_verify_names_record_forged_after_head(edge: Edge) -> None:
    """A record inserted after the head, correctly chained, is named by its seq."""
    await five_records(edge)
    last = AuditRecord.model_validate((await records(edge))[-1])
    forged = chain(
        [AuditEvent(action=AuditAction.REPORT_DELETED, actor="mallory")],
        last_seq=last.seq,
        last_hash=last.hash,
        at=datetime.now(UTC),
    )[0]
    with attacker(edge) as conn:
        conn.execute(
            "INSERT INTO audit (seq, at, action, actor, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                6,
                to_db_time(forged.at),
                "report.deleted",
                "mallory",
                last.hash,
                forged.hash,
            ),
        )

    answer = await verification(edge)

    assert (answer["ok"], answer["first_bad_seq"], answer["head_seq"]) == (False, 6, 5)


async def test_anchor_catches_chain_rewritten_with_its_head(edge: Edge) -> None:
    """
    A chain rewritten from record 2 on, hashes and head recomputed, verifies
    alone; the anchor an export named before fails at the anchored seq.
    """
    await five_records(edge)
    export = await edge.client.get("/audit/export")
    anchor = (
        f"{export.headers['x-audit-head-seq']}:{export.headers['x-audit-head-hash']}"
    )
    stored = [AuditRecord.model_validate(r) for r in await records(edge)]
    with attacker(edge) as conn:
        prev_hash = stored[0].hash
        for record in stored[1:]:
            if record.seq == 2:
                record = record.model_copy(update={"actor": "mallory"})
            digest = record_hash(
                record, seq=record.seq, at=record.at, prev_hash=prev_hash
            )
            conn.execute(
                "UPDATE audit SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                (record.actor, prev_hash, digest, record.seq),
            )
            prev_hash = digest
        conn.execute("UPDATE audit_head SET hash = ?", (prev_hash,))

    alone = await verification(edge)
    anchored = await edge.client.get("/audit/verify", params={"anchor": anchor})

    assert alone["ok"] is True
    assert anchored.json()["ok"] is False
    assert anchored.json()["first_bad_seq"] == 6


async def test_triggers_refuse_update_and_delete(edge: Edge) -> None:
    """Even with file access, UPDATE and DELETE on audit fail while triggers stand."""
    await create(edge, "r-1")
    path = database_path(edge.runtime.settings.resolved_database_url)

    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for statement in ("UPDATE audit SET actor = 'mallory'", "DELETE FROM audit"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(statement)
        for statement in ("UPDATE audit_head SET seq = 0", "DELETE FROM audit_head"):
            with pytest.raises(sqlite3.IntegrityError, match="only moves forward"):
                conn.execute(statement)

    assert [r["actor"] for r in await records(edge)] == ["analyst"]
    assert (await verification(edge))["ok"] is True


async def test_export_ndjson_verifies_across_pages(edge: Edge) -> None:
    """
    An NDJSON export of 1,200 records, more than a page, streams every record
    and its own audit.exported last, and checks out with ChainCheck.
    """
    events = [AuditEvent(action=AuditAction.FEED_APPLIED, actor="edge-a")] * 1200
    await edge.runtime.writer.run(
        partial(audit.append, events=events, at=datetime.now(UTC))
    )

    response = await edge.client.get("/audit/export", params={"format": "ndjson"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.headers["content-disposition"] == (
        'attachment; filename="audit-edge-a-1201.ndjson"'
    )
    exported = list(read_ndjson(response.text.splitlines()))
    check = ChainCheck()
    assert all(check.add(record) for record in exported)
    head_seq, head_hash = await head(edge)
    assert check.finish(head_seq, head_hash).ok
    assert [r.seq for r in exported] == list(range(1, 1202))
    assert exported[-1].action is AuditAction.AUDIT_EXPORTED
    assert (
        response.headers["x-audit-head-seq"],
        response.headers["x-audit-head-hash"],
    ) == (
        "1201",
        exported[-1].hash,
    )
    assert response.headers["x-audit-complete"] == "true"


async def test_export_csv_has_header_and_one_row_a_record(edge: Edge) -> None:
    """A CSV export starts with the column header and has one row a record."""
    await create(edge, "r-1")
    await create(edge, "r-2")

    response = await edge.client.get("/audit/export", params={"format": "csv"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.startswith(csv_header())
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [row["action"] for row in rows] == [
        "report.created",
        "report.created",
        "audit.exported",
    ]


async def test_export_writes_one_record_of_format_and_filters(edge: Edge) -> None:
    """
    An export is recorded once, by the caller, with its format and filters, and
    holds only the records that match them.
    """
    await create(edge, "r-1")
    await create(edge, "r-2")

    response = await edge.client.get(
        "/audit/export",
        params={"format": "csv", "report_id": "r-1"},
        headers={"X-Analyst": "carol"},
    )

    exported = await records(edge, action="audit.exported")
    assert len(exported) == 1
    assert exported[0]["actor"] == "carol"
    assert exported[0]["detail"] == {
        "format": "csv",
        "report_id": "r-1",
        "complete": False,
    }
    assert response.headers["x-audit-complete"] == "false"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["report_id"] for row in rows] == ["r-1"]


async def test_list_filters_and_pages(edge: Edge) -> None:
    """Filters by report, actor and action; pages by seq with next_after."""
    await create(edge, "r-1")
    await edge.client.post(
        "/reports", json=report_body("r-2"), headers={"X-Analyst": "bob"}
    )
    await edge.client.patch(
        "/reports/r-1", json={"title": "x"}, headers={"X-Analyst": "bob"}
    )

    by_report = await records(edge, report_id="r-1")
    by_actor = await records(edge, actor="bob")
    by_action = await records(edge, action="report.updated")
    first = (await edge.client.get("/audit", params={"limit": 2})).json()
    rest = (await edge.client.get("/audit", params={"after": 2})).json()

    assert [r["seq"] for r in by_report] == [1, 3]
    assert [r["seq"] for r in by_actor] == [2, 3]
    assert [r["seq"] for r in by_action] == [3]
    assert ([r["seq"] for r in first["records"]], first["next_after"]) == ([1, 2], 2)
    assert ([r["seq"] for r in rest["records"]], rest["next_after"]) == ([3], None)


async def test_list_filters_by_time_range(edge: Edge) -> None:
    """``since`` takes records at or after it, ``until`` those before it."""
    for n in range(3):
        await create(edge, f"r-{n}")
    middle = (await records(edge))[1]["at"]

    since = await records(edge, since=middle)
    until = await records(edge, until=middle)

    assert [r["seq"] for r in since] == [2, 3]
    assert [r["seq"] for r in until] == [1]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/audit", {"since": "2024-03-10T09:30:00"}),
        ("/audit", {"since": "2024-03-11T00:00:00Z", "until": "2024-03-10T00:00:00Z"}),
        ("/audit", {"limit": 1001}),
        ("/audit", {"after": -1}),
        ("/audit", {"action": "report.read"}),
        ("/audit", {"report_id": "no spaces"}),
        ("/audit/export", {"format": "xml"}),
        ("/audit/export", {"until": "yesterday"}),
        ("/audit/verify", {"anchor": "3"}),
        ("/audit/verify", {"anchor": ["3:" + "a" * 64, "3:" + "b" * 64]}),
    ],
    ids=[
        "naive-time",
        "reversed-range",
        "limit",
        "after",
        "action",
        "report-id",
        "format",
        "time-text",
        "anchor",
        "two-anchors-one-seq",
    ],
)
async def test_bad_filters_are_422_problems(
    edge: Edge, path: str, params: dict[str, Any]
) -> None:
    """A filter that cannot be read answers a 422 problem and writes nothing."""
    response = await edge.client.get(path, params=params)

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert await head(edge) == (0, GENESIS_HASH)


@pytest.fixture(scope="module")
def issuer_key() -> rsa.RSAPrivateKey:
    """The identity issuer's key."""
    return generate_private_key(MIN_RSA_BITS)


@pytest.fixture(scope="module")
def issuer(issuer_key: rsa.RSAPrivateKey) -> TokenSigner:
    """A signer as the identity issuer holds it."""
    return TokenSigner.from_private_key(issuer_key)


@pytest.fixture
async def auth_edge(
    settings: EdgeSettings,
    cloud: FakeCloud,
    tmp_path: Path,
    issuer_key: rsa.RSAPrivateKey,
) -> AsyncIterator[Edge]:
    """A running edge-a that verifies analysts' tokens and signs its own."""
    write_private_key(tmp_path / "edge-a.key", generate_private_key(MIN_RSA_BITS))
    write_jwks(tmp_path / "jwks.json", [issuer_key.public_key()])
    keyed = settings.model_copy(
        update={
            "edge_key_file": tmp_path / "edge-a.key",
            "issuer_jwks_file": tmp_path / "jwks.json",
        }
    )
    async for running in start_edge(keyed, cloud):
        yield running


def caller(
    issuer: TokenSigner,
    sub: str,
    role: Role,
    clearance: Classification = IL5,
) -> dict[str, str]:
    """Return the Authorization header of *sub* with one role."""
    return bearer(token(issuer, sub, roles=frozenset({role}), clearance=clearance))


async def test_audit_needs_auditor_role(auth_edge: Edge, issuer: TokenSigner) -> None:
    """
    Listing, verifying and exporting are 401 without a token, 403 for an
    analyst and 200 for an auditor, whose export is recorded under their name.
    """
    analyst = caller(issuer, "alice", Role.ANALYST)
    auditor = caller(issuer, "erin", Role.AUDITOR)
    paths = ("/audit", "/audit/verify", "/audit/export")

    anonymous = [(await auth_edge.client.get(p)).status_code for p in paths]
    refused = [
        (await auth_edge.client.get(p, headers=analyst)).status_code for p in paths
    ]
    allowed = [
        (await auth_edge.client.get(p, headers=auditor)).status_code for p in paths
    ]

    assert anonymous == [401, 401, 401]
    assert refused == [403, 403, 403]
    assert allowed == [200, 200, 200]
    exported = await auth_edge.client.get(
        "/audit", params={"action": "audit.exported"}, headers=auditor
    )
    assert [r["actor"] for r in exported.json()["records"]] == ["erin"]


async def test_auditor_sees_no_record_above_clearance(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """Records of a report above an auditor's clearance are left out of the list."""
    writer = caller(issuer, "alice", Role.ANALYST)
    client = auth_edge.client
    await client.post("/reports", json=report_body("open"), headers=writer)
    await client.post(
        "/reports", json=report_body("secret", classification="IL5"), headers=writer
    )

    cui = caller(issuer, "erin", Role.AUDITOR, clearance=CUI)
    listed = (await client.get("/audit", headers=cui)).json()["records"]

    assert [(r["report_id"], r["actor"]) for r in listed] == [("open", "alice")]


async def test_write_above_clearance_leaves_no_record(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """A create refused as above the analyst's clearance (403) is not recorded."""
    cui = caller(issuer, "dave", Role.ANALYST, clearance=CUI)

    response = await auth_edge.client.post(
        "/reports", json=report_body("r-1", classification="IL5"), headers=cui
    )

    assert response.status_code == 403
    assert await head(auth_edge) == (0, GENESIS_HASH)


async def test_failed_sync_record_holds_no_token(
    auth_edge: Edge, issuer: TokenSigner
) -> None:
    """A push refused with 401 is one sync.failed naming the 401, not the token."""
    auth_edge.cloud.failures = [(401, {})]
    writer = caller(issuer, "alice", Role.ANALYST)
    await auth_edge.client.post("/reports", json=report_body("r-1"), headers=writer)

    await auth_edge.client.post("/sync/run", headers=writer)
    await auth_edge.client.post("/sync/run", headers=writer)

    auditor = caller(issuer, "erin", Role.AUDITOR)
    export = await auth_edge.client.get("/audit/export", headers=auditor)
    failed = [r for r in read_ndjson(export.text.splitlines()) if r.reason]
    assert [r.action for r in failed] == [AuditAction.SYNC_FAILED]
    assert "401" in (failed[0].reason or "")
    tokens = [h.split()[1] for _, h in auth_edge.cloud.authorizations if h]
    assert tokens
    assert not any(t in export.text for t in tokens)
