"""Building changes and pushing them, as an edge would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from syncproto import tick

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def change(
    origin: str,
    seq: int,
    report_id: str = "r1",
    *,
    base_clock: dict[str, int] | None = None,
    title: str = "Title",
    content: str = "Body",
    classification: str = "CUI",
    deleted: bool = False,
    minutes: int = 0,
    **overrides: Any,
) -> dict[str, Any]:
    """Return a change as JSON: a create, an update or a delete at *origin*."""
    base = base_clock or {}
    op = "delete" if deleted else ("update" if base else "create")
    raw: dict[str, Any] = {
        "change_id": str(uuid.uuid4()),
        "report_id": report_id,
        "op": op,
        "fields": {
            "title": title,
            "content": content,
            "classification": classification,
            "deleted": deleted,
        },
        "base_clock": base,
        "clock": tick(base, origin),
        "origin": origin,
        "origin_seq": seq,
        "author": f"analyst-{origin}",
        "authored_at": (T0 + timedelta(minutes=minutes)).isoformat(),
    }
    raw.update(overrides)
    return raw


async def push(
    client: httpx.AsyncClient, edge_id: str, *changes: dict[str, Any]
) -> dict[str, Any]:
    """Push *changes* as *edge_id*; return the decoded PushResult."""
    response = await client.post(
        "/sync/push", json={"edge_id": edge_id, "changes": list(changes)}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def outcomes(
    client: httpx.AsyncClient, edge_id: str, *changes: dict[str, Any]
) -> list[str]:
    """Push *changes*; return their outcomes in order."""
    result = await push(client, edge_id, *changes)
    return [r["outcome"] for r in result["results"]]


async def report(client: httpx.AsyncClient, report_id: str = "r1") -> dict[str, Any]:
    """Return a report as the cloud shows it."""
    response = await client.get(f"/reports/{report_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def feed(client: httpx.AsyncClient, after: int = 0) -> list[dict[str, Any]]:
    """Return every feed entry above *after*."""
    response = await client.get("/sync/feed", params={"after": after, "limit": 1000})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries
