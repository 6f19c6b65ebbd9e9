"""The reports API: writes, reads, validation, and the write path's atomicity."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import httpx
import pytest

from syncproto import Change, Classification, ReportFields
from tests.edge_service.conftest import Edge
from tests.edge_service.helpers import create, query, report_body

PROBLEM = "application/problem+json"
CUI = Classification.CUI


async def test_create_returns_report_with_first_clock(edge: Edge) -> None:
    """A create answers 201 with clock {edge: 1}, pending, authored by the analyst."""
    response = await edge.client.post(
        "/reports", json=report_body("r-1"), headers={"X-Analyst": "alice"}
    )

    assert response.status_code == 201
    body = response.json()
    assert body["clock"] == {"edge-a": 1}
    assert body["sync_state"] == "pending"
    assert body["created_by"] == body["updated_by"] == "alice"


async def test_create_existing_id_is_conflict_problem(edge: Edge) -> None:
    """A create with a taken id, a deleted one included, answers a 409 problem."""
    await create(edge, "r-1")
    await edge.client.delete("/reports/r-1")

    response = await edge.client.post("/reports", json=report_body("r-1"))

    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM


async def test_update_ticks_clock_and_keeps_other_fields(edge: Edge) -> None:
    """A partial update ticks the edge's counter and keeps the fields it omits."""
    await create(edge, "r-1", content="original")

    response = await edge.client.patch("/reports/r-1", json={"title": "New title"})

    assert response.status_code == 200
    body = response.json()
    assert body["clock"] == {"edge-a": 2}
    assert (body["title"], body["content"]) == ("New title", "original")


async def test_update_with_old_base_clock_is_conflict(edge: Edge) -> None:
    """An update whose base_clock is not the current clock answers 409."""
    await create(edge, "r-1")
    await edge.client.patch("/reports/r-1", json={"title": "second"})

    response = await edge.client.patch(
        "/reports/r-1", json={"title": "third", "base_clock": {"edge-a": 1}}
    )

    assert response.status_code == 409
    assert response.json()["clock"] == {"edge-a": 2}


async def test_delete_hides_report_unless_asked(edge: Edge) -> None:
    """A deleted report is 404 by default and readable with include_deleted."""
    await create(edge, "r-1")

    deleted = await edge.client.delete("/reports/r-1")
    hidden = await edge.client.get("/reports/r-1")
    shown = await edge.client.get("/reports/r-1", params={"include_deleted": True})

    assert deleted.status_code == 200
    assert deleted.json()["clock"] == {"edge-a": 2}
    assert hidden.status_code == 404
    assert hidden.headers["content-type"] == PROBLEM
    assert shown.json()["deleted"] is True


async def test_list_pages_by_report_id_and_filters(edge: Edge) -> None:
    """Listing pages by report_id and filters on classification."""
    for report_id, marking in [("a", "CUI"), ("b", "IL4"), ("c", "CUI")]:
        await create(edge, report_id, classification=marking)

    first = (await edge.client.get("/reports", params={"limit": 2})).json()
    rest = (
        await edge.client.get("/reports", params={"after": first["next_after"]})
    ).json()
    cui = (await edge.client.get("/reports", params={"classification": "CUI"})).json()

    assert [r["report_id"] for r in first["reports"]] == ["a", "b"]
    assert [r["report_id"] for r in rest["reports"]] == ["c"]
    assert rest["next_after"] is None
    assert [r["report_id"] for r in cui["reports"]] == ["a", "c"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(report_body("r-1", title="bad\x00title"), id="nul-in-title"),
        pytest.param(report_body("r-1", content="\x00"), id="nul-in-content"),
        pytest.param(report_body("r-1", content="é" * 32768 + "a"), id="64KiB+1"),
        pytest.param(report_body("r-1", classification="IL6"), id="IL6"),
        pytest.param(report_body("bad id/1"), id="bad-id"),
        pytest.param(report_body("r-1", title=""), id="empty-title"),
        pytest.param(report_body("r-1", title="t" * 201), id="long-title"),
        pytest.param(report_body("r-1", extra="x"), id="unknown-field"),
    ],
)
async def test_invalid_report_is_422_problem(edge: Edge, body: dict[str, str]) -> None:
    """Invalid input (docs/protocol.md) answers a 422 problem and stores no row."""
    response = await edge.client.post("/reports", json=body)

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert await query(edge, "SELECT * FROM reports") == []


async def test_unpaired_surrogate_is_422_problem(edge: Edge) -> None:
    """A JSON body carrying an unpaired surrogate is refused with a 422 problem."""
    raw = json.dumps(report_body("r-1")).replace("Convoy", "\\ud800Convoy")

    response = await edge.client.post(
        "/reports", content=raw, headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_content_of_64_kib_in_utf8_is_accepted(edge: Edge) -> None:
    """Content of exactly 64 KiB of UTF-8 (32,768 two-byte characters) is stored."""
    content = "é" * 32768

    report = await create(edge, "r-1", content=content)

    assert report["content"] == content


async def test_malformed_json_is_problem(edge: Edge) -> None:
    """A body that is not JSON answers a 4xx problem, never a 500."""
    response = await edge.client.post(
        "/reports", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_write_and_outbox_row_are_atomic(edge: Edge) -> None:
    """A failure between the report write and the outbox insert leaves neither."""
    await create(edge, "r-1")
    await edge.runtime.writer.run(
        lambda conn: conn.execute(
            "CREATE TEMP TRIGGER fail_outbox BEFORE INSERT ON outbox "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
    )

    created = await edge.client.post("/reports", json=report_body("r-2"))
    updated = await edge.client.patch("/reports/r-1", json={"title": "changed"})

    assert (created.status_code, updated.status_code) == (500, 500)
    rows = await query(edge, "SELECT report_id, title, clock FROM reports")
    assert [tuple(r) for r in rows] == [("r-1", "Convoy sighted", '{"edge-a":1}')]
    assert len(await query(edge, "SELECT * FROM outbox")) == 1


async def test_outbox_order_is_origin_seq_without_gaps(edge: Edge) -> None:
    """Outbox rows carry origin_seq 1, 2, 3 ... in write order, inside the payload."""
    for n in range(5):
        await create(edge, f"r-{n}")
    await edge.client.patch("/reports/r-0", json={"title": "edited"})

    rows = await query(edge, "SELECT origin_seq, payload FROM outbox ORDER BY rowid")

    changes = [Change.model_validate_json(row["payload"]) for row in rows]
    assert [row["origin_seq"] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert [c.origin_seq for c in changes] == [1, 2, 3, 4, 5, 6]
    assert [c.report_id for c in changes] == ["r-0", "r-1", "r-2", "r-3", "r-4", "r-0"]
    assert changes[-1].base_clock == {"edge-a": 1}


async def _bc14_round(edge: Edge, round_no: int) -> None:
    target = f"t{round_no}"
    await create(edge, target)
    for n in range(200):
        edge.cloud.add_entry(
            f"p{round_no}-{n}",
            ReportFields(title="pulled", content="", classification=CUI),
            {"edge-b": 1},
        )
    client = edge.client
    updates = [
        client.patch(f"/reports/{target}", json={"title": f"v{n}"}) for n in range(50)
    ]
    creates = [
        client.post("/reports", json=report_body(f"c{round_no}-{n}")) for n in range(50)
    ]
    responses: list[httpx.Response] = await asyncio.gather(
        *updates, *creates, client.post("/sync/run")
    )

    assert all(r.status_code < 500 for r in responses)
    counters = sorted(r.json()["clock"]["edge-a"] for r in responses[:50])
    assert counters == list(range(2, 52))


async def test_bc14_concurrent_writes_pull_and_sync(edge: Edge) -> None:
    """
    Concurrent updates get distinct rising clocks while creates, a pull and a push run.

    50 updates of one report answer {edge-a:2}..{edge-a:51}; every write has
    exactly one outbox row; no request fails (BC-14).
    """
    for round_no in range(5):
        await _bc14_round(edge, round_no)

    outbox = await query(edge, "SELECT report_id, count(*) FROM outbox GROUP BY 1")
    per_report = {row[0]: row[1] for row in outbox}
    for round_no in range(5):
        assert per_report.pop(f"t{round_no}") == 51
        for n in range(50):
            assert per_report.pop(f"c{round_no}-{n}") == 1
    assert per_report == {}
    assert len(await query(edge, "SELECT 1 FROM reports")) == 5 * (1 + 50 + 200)
    clocks = await query(
        edge,
        "SELECT payload ->> '$.clock.\"edge-a\"' FROM outbox "
        "WHERE report_id = 't0' ORDER BY origin_seq",
    )
    assert [row[0] for row in clocks] == list(range(1, 52))


async def test_writer_failure_is_isolated_to_its_job(edge: Edge) -> None:
    """A failing job in a group commit rolls back alone; its neighbours commit."""

    def fail(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE sync_meta SET feed_cursor = 99")
        raise RuntimeError("injected")

    results = await asyncio.gather(
        edge.client.post("/reports", json=report_body("r-1")),
        edge.runtime.writer.run(fail),
        edge.client.post("/reports", json=report_body("r-2")),
        return_exceptions=True,
    )

    assert isinstance(results[1], RuntimeError)
    assert len(await query(edge, "SELECT 1 FROM reports")) == 2
    assert (await query(edge, "SELECT feed_cursor FROM sync_meta"))[0][0] == 0


async def test_an_edit_that_changes_nothing_is_refused(edge: Edge) -> None:
    """An empty PATCH is a 422 problem and ticks no clock, queues no change."""
    await create(edge, "r-empty")

    for body in ({}, {"title": None}):
        response = await edge.client.patch("/reports/r-empty", json=body)

        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
    report = (await edge.client.get("/reports/r-empty")).json()
    assert report["clock"] == {"edge-a": 1}


async def test_outbox_cursor_beyond_any_seq_is_a_422(edge: Edge) -> None:
    """An outbox cursor too large for SQLite is refused, not a 500."""
    response = await edge.client.get("/outbox", params={"after": 10**20})

    assert response.status_code == 422


async def test_oversized_headers_are_refused_before_any_route(edge: Edge) -> None:
    """A 70 KB header is a 431 problem, whatever the route would have done."""
    response = await edge.client.get("/reports", headers={"X-Filler": "x" * 70_000})

    assert response.status_code == 431
    assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_route_and_method_answer_problems(edge: Edge) -> None:
    """Routing errors are problem documents that say what was asked."""
    missing = await edge.client.get("/nope")
    wrong = await edge.client.put("/reports/r-1", json={})

    assert missing.status_code == 404
    assert missing.json()["detail"] == "nothing is served at /nope"
    assert wrong.status_code == 405
    assert wrong.json()["detail"] == "PUT is not allowed on /reports/r-1"


async def test_write_answers_are_what_a_read_returns(edge: Edge) -> None:
    """The answer to a create, an edit and a delete equals the stored report."""
    path, everything = "/reports/r-echo", {"include_deleted": True}
    writes = [
        edge.client.post("/reports", json=report_body("r-echo")),
        edge.client.patch(path, json={"title": "Echo 2"}),
        edge.client.delete(path),
    ]

    for write in writes:
        answer = await write
        stored = await edge.client.get(path, params=everything)

        assert answer.status_code in (200, 201)
        assert answer.json() == stored.json()
