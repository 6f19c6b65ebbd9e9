"""Concurrent changes: field-wise merges, conflicts and provisional winners."""

from __future__ import annotations

from typing import Any

import httpx

from tests.cloud_service.helpers import change, feed, outcomes, push, report

BASE = {"edge-a": 1}


async def _seed(client: httpx.AsyncClient, **fields: Any) -> None:
    """Create report r1 at edge-a with clock {edge-a: 1}."""
    assert await outcomes(client, "edge-a", change("edge-a", 1, **fields)) == [
        "applied"
    ]


async def test_disjoint_fields_merge(client: httpx.AsyncClient) -> None:
    """Concurrent edits of different fields merge under the pointwise max clock."""
    await _seed(client)
    retitled = change("edge-a", 2, base_clock=BASE, title="New title")
    rewritten = change("edge-b", 1, base_clock=BASE, content="New body")
    await push(client, "edge-a", retitled)

    result = await outcomes(client, "edge-b", rewritten)

    assert result == ["merged"]
    current = await report(client)
    assert current["title"] == "New title"
    assert current["content"] == "New body"
    assert current["clock"] == {"edge-a": 2, "edge-b": 1}
    assert current["kind"] == "merged"
    assert current["conflict_id"] is None
    assert [e["kind"] for e in await feed(client)] == ["applied", "applied", "merged"]


async def test_change_based_on_merged_version_applies(
    client: httpx.AsyncClient,
) -> None:
    """A change whose base is a merged version finds that base and applies."""
    await _seed(client)
    await push(client, "edge-a", change("edge-a", 2, base_clock=BASE, title="T2"))
    await push(client, "edge-b", change("edge-b", 1, base_clock=BASE, content="C2"))
    merged = {"edge-a": 2, "edge-b": 1}

    result = await outcomes(
        client,
        "edge-b",
        change("edge-b", 2, base_clock=merged, title="T2", content="C3"),
    )

    assert result == ["applied"]
    assert (await report(client))["clock"] == {"edge-a": 2, "edge-b": 2}


async def test_overlapping_fields_conflict(client: httpx.AsyncClient) -> None:
    """Concurrent edits of one field open a conflict; the latest authored_at wins."""
    await _seed(client)
    early = change("edge-a", 2, base_clock=BASE, title="From A", minutes=5)
    late = change("edge-b", 1, base_clock=BASE, title="From B", minutes=9)
    await push(client, "edge-a", early)

    result = (await push(client, "edge-b", late))["results"][0]

    assert result["outcome"] == "conflict"
    conflict = (await client.get(f"/conflicts/{result['conflict_id']}")).json()
    assert conflict["status"] == "open"
    assert conflict["conflicting_fields"] == ["title"]
    assert conflict["base_clock"] == BASE
    assert conflict["base"]["title"] == "Title"
    assert len(conflict["siblings"]) == 2
    current = await report(client)
    assert current["title"] == "From B"
    assert current["clock"] == {"edge-a": 2, "edge-b": 1}
    assert current["kind"] == "provisional"
    assert current["conflict_id"] == result["conflict_id"]
    assert (await feed(client))[-1]["kind"] == "provisional"


async def test_authored_at_tie_goes_to_greater_origin(
    client: httpx.AsyncClient,
) -> None:
    """With equal authored_at the provisional winner is the greater origin."""
    await _seed(client)
    from_b = change("edge-b", 1, base_clock=BASE, title="From B", minutes=5)
    from_a = change("edge-a", 2, base_clock=BASE, title="From A", minutes=5)
    await push(client, "edge-b", from_b)

    assert await outcomes(client, "edge-a", from_a) == ["conflict"]

    assert (await report(client))["title"] == "From B"


async def test_future_authored_at_does_not_win(client: httpx.AsyncClient) -> None:
    """A wall clock far in the future is clamped and cannot win the tie-break."""
    await _seed(client)
    honest = change("edge-z", 1, base_clock=BASE, title="Honest")
    honest["authored_at"] = "2030-01-01T00:00:00+00:00"
    skewed = change("edge-a", 2, base_clock=BASE, title="Skewed")
    skewed["authored_at"] = "2999-01-01T00:00:00+00:00"
    await push(client, "edge-a", skewed)

    assert await outcomes(client, "edge-z", honest) == ["conflict"]

    # Both are clamped to "now"; the tie then goes to the greater origin.
    assert (await report(client))["title"] == "Honest"


async def test_provisional_merges_untouched_fields(client: httpx.AsyncClient) -> None:
    """The provisional version takes non-overlapping fields from the loser."""
    await _seed(client)
    loser = change(
        "edge-a", 2, base_clock=BASE, title="A", classification="IL4", minutes=1
    )
    winner = change("edge-b", 1, base_clock=BASE, title="B", minutes=2)
    await push(client, "edge-a", loser)

    assert await outcomes(client, "edge-b", winner) == ["conflict"]

    fields = await report(client)
    assert fields["title"] == "B"
    assert fields["classification"] == "IL4"


async def test_third_concurrent_change_joins_conflict(
    client: httpx.AsyncClient,
) -> None:
    """A third concurrent change joins the open conflict instead of opening one."""
    await _seed(client)
    await push(client, "edge-a", change("edge-a", 2, base_clock=BASE, title="A"))
    first = await push(
        client, "edge-b", change("edge-b", 1, base_clock=BASE, title="B")
    )
    third = change("edge-c", 1, base_clock=BASE, content="C", minutes=30)

    result = (await push(client, "edge-c", third))["results"][0]

    assert result["outcome"] == "conflict"
    assert result["conflict_id"] == first["results"][0]["conflict_id"]
    listing = (await client.get("/conflicts", params={"report_id": "r1"})).json()
    assert listing["count"] == 1
    assert len(listing["conflicts"][0]["siblings"]) == 3
    current = await report(client)
    assert current["clock"] == {"edge-a": 2, "edge-b": 1, "edge-c": 1}


async def test_retried_change_never_adds_sibling_twice(
    client: httpx.AsyncClient,
) -> None:
    """Resending a conflicting change is a duplicate and adds no sibling."""
    await _seed(client)
    await push(client, "edge-a", change("edge-a", 2, base_clock=BASE, title="A"))
    rival = change("edge-b", 1, base_clock=BASE, title="B")
    first = (await push(client, "edge-b", rival))["results"][0]

    again = (await push(client, "edge-b", rival))["results"][0]

    assert again["outcome"] == "duplicate"
    assert again["conflict_id"] == first["conflict_id"]
    conflict = (await client.get(f"/conflicts/{first['conflict_id']}")).json()
    assert len(conflict["siblings"]) == 2


async def test_delete_against_edit_conflicts(client: httpx.AsyncClient) -> None:
    """Deleting a report while another edge edits it is a conflict."""
    await _seed(client)
    await push(client, "edge-a", change("edge-a", 2, base_clock=BASE, deleted=True))

    result = (
        await push(
            client, "edge-b", change("edge-b", 1, base_clock=BASE, content="Edit")
        )
    )["results"][0]

    assert result["outcome"] == "conflict"
    conflict = (await client.get(f"/conflicts/{result['conflict_id']}")).json()
    assert set(conflict["conflicting_fields"]) == {"content", "deleted"}


async def test_delete_against_delete_merges(client: httpx.AsyncClient) -> None:
    """Two concurrent deletes agree, so they merge into one deleted version."""
    await _seed(client)
    await push(client, "edge-a", change("edge-a", 2, base_clock=BASE, deleted=True))

    result = await outcomes(
        client, "edge-b", change("edge-b", 1, base_clock=BASE, deleted=True)
    )

    assert result == ["merged"]
    current = await report(client)
    assert current["deleted"] is True
    assert current["clock"] == {"edge-a": 2, "edge-b": 1}


async def test_change_after_provisional_applies_and_conflict_stays_open(
    client: httpx.AsyncClient,
) -> None:
    """A change after the provisional clock applies; the conflict stays open."""
    await _seed(client)
    await push(client, "edge-a", change("edge-a", 2, base_clock=BASE, title="A"))
    opened = await push(
        client, "edge-b", change("edge-b", 1, base_clock=BASE, title="B")
    )
    provisional = {"edge-a": 2, "edge-b": 1}

    result = await outcomes(
        client, "edge-a", change("edge-a", 3, base_clock=provisional, title="Final")
    )

    assert result == ["applied"]
    current = await report(client)
    assert current["title"] == "Final"
    assert current["conflict_id"] == opened["results"][0]["conflict_id"]
    listing = (await client.get("/conflicts", params={"status": "open"})).json()
    assert listing["count"] == 1
