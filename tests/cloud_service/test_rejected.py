"""Changes the inbox refuses for good, and which of them it remembers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.cloud_service.helpers import change, outcomes, push

BAD_FIELDS = {
    "classification IL6": {"classification": "IL6"},
    "NUL in title": {"title": "bad\x00title"},
    "content over 64 KiB in UTF-8": {"content": "é" * 40_000},
}


@pytest.mark.parametrize("fields", BAD_FIELDS.values(), ids=BAD_FIELDS.keys())
async def test_bad_fields_are_rejected_and_remembered(
    client: httpx.AsyncClient, fields: dict[str, Any]
) -> None:
    """A change with invalid fields is rejected, and its resend is a duplicate."""
    bad = change("edge-a", 1, **fields)

    first = (await push(client, "edge-a", bad))["results"][0]
    again = (await push(client, "edge-a", bad))["results"][0]

    assert first["outcome"] == "rejected"
    assert first["reason"]
    assert again["outcome"] == "duplicate"
    assert "rejected" in again["reason"]
    assert (await client.get("/reports/r1")).status_code == 404


async def test_content_limit_counts_bytes_not_characters(
    client: httpx.AsyncClient,
) -> None:
    """40,000 two-byte characters exceed 64 KiB even though under 65,536 chars."""
    bad = change("edge-a", 1, content="é" * 40_000)

    result = (await push(client, "edge-a", bad))["results"][0]

    assert result["outcome"] == "rejected"
    assert "bytes" in result["reason"]


async def test_naive_authored_at_is_rejected(client: httpx.AsyncClient) -> None:
    """A timestamp without a UTC offset is refused, never guessed."""
    bad = change("edge-a", 1, authored_at="2026-01-01T12:00:00")

    assert await outcomes(client, "edge-a", bad) == ["rejected"]


async def test_one_bad_change_does_not_block_the_rest(
    client: httpx.AsyncClient,
) -> None:
    """A rejected change is answered on its own; the next one still applies."""
    bad = change("edge-a", 1, classification="IL6")
    good = change("edge-a", 2, report_id="r2")

    assert await outcomes(client, "edge-a", bad, good) == ["rejected", "applied"]


async def test_foreign_origin_is_rejected_and_not_remembered(
    client: httpx.AsyncClient,
) -> None:
    """A change whose origin is not the sender is rejected without taking its id."""
    owned_by_b = change("edge-b", 1)

    assert await outcomes(client, "edge-a", owned_by_b) == ["rejected"]
    assert await outcomes(client, "edge-b", owned_by_b) == ["applied"]


async def test_reused_origin_seq_is_rejected(client: httpx.AsyncClient) -> None:
    """A second change id on an origin_seq already taken is rejected."""
    await push(client, "edge-a", change("edge-a", 1))

    result = (await push(client, "edge-a", change("edge-a", 1, report_id="r2")))[
        "results"
    ][0]

    assert result["outcome"] == "rejected"
    assert "origin_seq 1" in result["reason"]


async def test_item_without_change_id_is_rejected(client: httpx.AsyncClient) -> None:
    """An item with no usable change_id is rejected with an empty id echoed."""
    raw = change("edge-a", 1)
    del raw["change_id"]

    result = (await push(client, "edge-a", raw))["results"][0]

    assert result == {
        "change_id": "",
        "outcome": "rejected",
        "reason": result["reason"],
        "conflict_id": None,
        "clock": None,
    }
