"""The inbox outcomes of docs/protocol.md's push table."""

from __future__ import annotations

import httpx
import structlog.testing

from tests.cloud_service.helpers import change, feed, outcomes, push, report


async def test_create_is_applied(client: httpx.AsyncClient) -> None:
    """A change for an unknown report is applied and becomes current."""
    created = change("edge-a", 1, title="Bridge out")

    result = await push(client, "edge-a", created)

    assert result["results"][0]["outcome"] == "applied"
    assert result["results"][0]["clock"] == {"edge-a": 1}
    current = await report(client)
    assert current["title"] == "Bridge out"
    assert current["clock"] == {"edge-a": 1}
    assert current["created_by"] == "analyst-edge-a"


async def test_later_clock_is_applied(client: httpx.AsyncClient) -> None:
    """A change whose clock is after the current one replaces it."""
    first = change("edge-a", 1)
    second = change("edge-b", 1, base_clock={"edge-a": 1}, title="Edited")

    assert await outcomes(client, "edge-a", first) == ["applied"]
    assert await outcomes(client, "edge-b", second) == ["applied"]

    current = await report(client)
    assert current["title"] == "Edited"
    assert current["clock"] == {"edge-a": 1, "edge-b": 1}
    assert current["created_by"] == "analyst-edge-a"
    assert current["updated_by"] == "analyst-edge-b"


async def test_resend_is_duplicate_with_first_outcome(
    client: httpx.AsyncClient,
) -> None:
    """A change id seen in an earlier request is a duplicate naming its outcome."""
    created = change("edge-a", 1)
    await push(client, "edge-a", created)

    result = await push(client, "edge-a", created)

    assert result["results"][0]["outcome"] == "duplicate"
    assert "applied" in result["results"][0]["reason"]
    assert len(await feed(client)) == 1


async def test_repeat_in_batch_is_duplicate(client: httpx.AsyncClient) -> None:
    """A change repeated within one batch has one effect; the repeat is a duplicate."""
    created = change("edge-a", 1)

    result = await push(client, "edge-a", created, created)

    assert [r["outcome"] for r in result["results"]] == ["applied", "duplicate"]
    assert "applied" in result["results"][1]["reason"]
    history = (await client.get("/reports/r1/history")).json()["versions"]
    assert len(history) == 1


async def test_older_clock_is_stale(client: httpx.AsyncClient) -> None:
    """A change whose clock is before the current one is kept in history only."""
    first = change("edge-a", 1)
    second = change("edge-a", 2, base_clock={"edge-a": 1}, title="Newer")
    await push(client, "edge-a", second)

    result = await outcomes(client, "edge-a", first)

    assert result == ["stale"]
    assert (await report(client))["title"] == "Newer"
    history = (await client.get("/reports/r1/history")).json()["versions"]
    assert [v["outcome"] for v in history] == ["applied", "stale"]
    assert len(await feed(client)) == 1


async def test_equal_clock_is_stale(client: httpx.AsyncClient) -> None:
    """A different change carrying the current clock is stale."""
    first = change("edge-a", 1)
    twin = change("edge-a", 2, title="Twin", clock={"edge-a": 1})

    result = await outcomes(client, "edge-a", first, twin)

    assert result == ["applied", "stale"]
    assert (await report(client))["title"] == "Title"


async def test_push_logs_outcomes_without_content(client: httpx.AsyncClient) -> None:
    """A push logs one push_received line with outcome counts and no report text."""
    with structlog.testing.capture_logs() as logs:
        await push(client, "edge-a", change("edge-a", 1, content="secret text"))

    received = [e for e in logs if e["event"] == "push_received"]
    assert received[0]["outcomes"] == {"applied": 1}
    assert received[0]["edge_id"] == "edge-a"
    assert "secret text" not in repr(logs)
