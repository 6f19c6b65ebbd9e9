"""Pull: feed entries applied with the clock rules, a page and its cursor at once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest

from edge_service import puller
from edge_service.puller import apply_page
from edge_service.settings import EdgeSettings
from syncproto import Classification, Clock, FeedEntry, FeedPage, ReportFields
from tests.edge_service.conftest import Edge, start_edge
from tests.edge_service.fakecloud import FakeCloud, feed_entry
from tests.edge_service.helpers import create, query, sync_until_drained

CLOUD_FIELDS = ReportFields(
    title="cloud title", content="from the cloud", classification=Classification.IL4
)


def entry(
    seq: int, report_id: str, clock: Clock, conflict_id: uuid.UUID | None = None
) -> FeedEntry:
    """Return a feed entry from edge-b carrying CLOUD_FIELDS."""
    return feed_entry(seq, report_id, CLOUD_FIELDS, clock, conflict_id)


async def apply(edge: Edge, *entries: FeedEntry) -> None:
    """Apply *entries* as one page after the edge's current cursor."""
    after = (await query(edge, "SELECT feed_cursor FROM sync_meta"))[0][0]
    page = FeedPage(
        entries=list(entries),
        next_after=entries[-1].seq,
        head=entries[-1].seq,
        has_more=False,
    )
    job = partial(
        apply_page, page=page, after=after, now=datetime.now(UTC), edge_id="edge-a"
    )
    await edge.runtime.writer.run(job)


async def report(edge: Edge, report_id: str) -> dict[str, Any]:
    """Return a report's JSON through the API."""
    body: dict[str, Any] = (await edge.client.get(f"/reports/{report_id}")).json()
    return body


async def test_unknown_report_is_inserted_synced(edge: Edge) -> None:
    """An entry for a report the edge lacks inserts it, synced, with its clock."""
    await apply(edge, entry(1, "r-1", {"edge-b": 1}))

    got = await report(edge, "r-1")

    assert (got["title"], got["clock"], got["sync_state"]) == (
        "cloud title",
        {"edge-b": 1},
        "synced",
    )


async def test_unknown_report_in_conflict_is_inserted_in_conflict(edge: Edge) -> None:
    """An entry carrying a conflict_id inserts the report in conflict."""
    await apply(edge, entry(1, "r-1", {"edge-b": 1}, conflict_id=uuid.uuid4()))

    assert (await report(edge, "r-1"))["sync_state"] == "conflict"


async def test_entry_after_local_replaces_it(edge: Edge) -> None:
    """An entry whose clock is after the local one replaces fields and clock."""
    await create(edge, "r-1")
    await sync_until_drained(edge)

    await apply(edge, entry(2, "r-1", {"edge-a": 1, "edge-b": 1}))

    got = await report(edge, "r-1")
    assert (got["title"], got["clock"], got["sync_state"]) == (
        "cloud title",
        {"edge-a": 1, "edge-b": 1},
        "synced",
    )


@pytest.mark.parametrize(
    "clock", [{"edge-a": 1}, {"edge-a": 2}], ids=["before", "equal"]
)
async def test_entry_equal_or_before_is_ignored(edge: Edge, clock: Clock) -> None:
    """An entry whose clock is equal to or before the local one changes no field."""
    await create(edge, "r-1")
    await edge.client.patch("/reports/r-1", json={"title": "local"})
    await sync_until_drained(edge)
    cursor = (await query(edge, "SELECT feed_cursor FROM sync_meta"))[0][0]

    await apply(edge, entry(cursor + 1, "r-1", clock))

    got = await report(edge, "r-1")
    assert (got["title"], got["clock"]) == ("local", {"edge-a": 2})


async def test_concurrent_entry_with_pending_change_keeps_local(edge: Edge) -> None:
    """A concurrent entry with a pending local change keeps it, in conflict."""
    await create(edge, "r-1", title="local")

    await apply(edge, entry(1, "r-1", {"edge-b": 1}))

    got = await report(edge, "r-1")
    assert (got["title"], got["clock"], got["sync_state"]) == (
        "local",
        {"edge-a": 1},
        "conflict",
    )
    assert got["cloud"] == {
        "fields": CLOUD_FIELDS.model_dump(mode="json"),
        "clock": {"edge-b": 1},
    }


async def test_concurrent_entry_without_pending_change_is_taken(edge: Edge) -> None:
    """A concurrent entry with no local pending change replaces the local version."""
    await create(edge, "r-1")
    await sync_until_drained(edge)
    cursor = (await query(edge, "SELECT feed_cursor FROM sync_meta"))[0][0]

    await apply(edge, entry(cursor + 1, "r-1", {"edge-b": 3}))

    got = await report(edge, "r-1")
    assert (got["title"], got["clock"]) == ("cloud title", {"edge-b": 3})


async def test_bc05_crash_mid_page_changes_nothing_and_retry_applies_once(
    edge: Edge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after 4 of 10 entries leaves cursor and reports alone (BC-05)."""
    entries = [entry(n, f"r-{n}", {"edge-b": 1}) for n in range(1, 11)]
    real_apply = puller.apply_entry
    calls: list[str] = []

    def crash_after_four(conn: Any, feed_entry: FeedEntry) -> str:
        if len(calls) == 4:
            calls.append("crash")
            raise RuntimeError("injected crash while applying a page")
        calls.append(feed_entry.report_id)
        return real_apply(conn, feed_entry)

    monkeypatch.setattr(puller, "apply_entry", crash_after_four)
    with pytest.raises(RuntimeError, match="injected"):
        await apply(edge, *entries)
    cursor_after_crash = await query(edge, "SELECT feed_cursor FROM sync_meta")
    reports_after_crash = await query(edge, "SELECT report_id FROM reports")
    monkeypatch.setattr(puller, "apply_entry", real_apply)
    await apply(edge, *entries)

    assert cursor_after_crash[0][0] == 0
    assert reports_after_crash == []
    assert (await query(edge, "SELECT feed_cursor FROM sync_meta"))[0][0] == 10
    rows = await query(edge, "SELECT report_id, clock FROM reports ORDER BY 1")
    assert sorted(r[0] for r in rows) == sorted(f"r-{n}" for n in range(1, 11))
    assert {r[1] for r in rows} == {'{"edge-b":1}'}


async def test_feed_is_pulled_page_by_page(
    settings: EdgeSettings, cloud: FakeCloud
) -> None:
    """A sync run pulls every feed page up to the head and stores the cursor."""
    for n in range(7):
        cloud.add_entry(f"r-{n}", CLOUD_FIELDS, {"edge-b": 1})

    async for edge in start_edge(settings.model_copy(update={"pull_limit": 3}), cloud):
        status = await sync_until_drained(edge)
        reports = await query(edge, "SELECT 1 FROM reports")

    assert status["feed_cursor"] == 7
    assert len(reports) == 7
