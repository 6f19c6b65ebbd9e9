"""Per-edge status: acked_seq, gaps and feed lag."""

from __future__ import annotations

import httpx

from tests.cloud_service.helpers import change, push


async def _edge(client: httpx.AsyncClient, edge_id: str) -> dict[str, object]:
    edges = (await client.get("/edges")).json()["edges"]
    return next(e for e in edges if e["edge_id"] == edge_id)


async def test_gap_is_visible_until_filled(client: httpx.AsyncClient) -> None:
    """A missing origin_seq holds acked_seq below it and shows a gap until it comes."""
    one, two, three = (change("edge-a", n, report_id=f"r{n}") for n in (1, 2, 3))

    holey = await push(client, "edge-a", one, three)
    status = await _edge(client, "edge-a")
    filled = await push(client, "edge-a", two)

    assert holey["acked_seq"] == 1
    assert status["max_seq"] == 3
    assert status["gap"] is True
    assert filled["acked_seq"] == 3
    assert (await _edge(client, "edge-a"))["gap"] is False


async def test_rejected_changes_count_as_arrived(client: httpx.AsyncClient) -> None:
    """A rejected change still arrived, so acked_seq moves past it."""
    bad = change("edge-a", 1, classification="IL6")
    good = change("edge-a", 2)

    result = await push(client, "edge-a", bad, good)

    assert result["acked_seq"] == 2
    status = await _edge(client, "edge-a")
    assert status["rejected"] == 1
    assert status["changes_received"] == 2


async def test_feed_read_records_cursor_and_lag(client: httpx.AsyncClient) -> None:
    """
    Reading the feed with edge_id records how far the edge has now read (the
    page's next_after, not the after it sent); lag is head minus that cursor.
    """
    await push(client, "edge-a", change("edge-a", 1), change("edge-a", 2, "r2"))

    await client.get("/sync/feed", params={"after": 0, "limit": 1, "edge_id": "edge-a"})

    status = await _edge(client, "edge-a")
    assert status["feed_cursor"] == 1
    assert status["lag"] == 1
    assert status["last_pull_at"] is not None


async def test_an_edge_that_only_reads_is_listed(client: httpx.AsyncClient) -> None:
    """An edge that has pulled but never pushed still shows in /edges."""
    await push(client, "edge-a", change("edge-a", 1))

    await client.get("/sync/feed", params={"after": 0, "edge_id": "edge-b"})

    status = await _edge(client, "edge-b")
    assert status["feed_cursor"] == 1
    assert status["lag"] == 0
    assert status["changes_received"] == 0
