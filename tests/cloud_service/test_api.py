"""The read API, limits and probes."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.cloud_service.conftest import SMALL_BODY
from tests.cloud_service.helpers import change, push


async def test_body_over_limit_is_413_problem(client: httpx.AsyncClient) -> None:
    """A body above max_body_bytes is refused with a 413 problem document."""
    raw = change("edge-a", 1, content="x" * 300_000)
    batch = {"edge_id": "edge-a", "changes": [raw, raw]}

    response = await client.post("/sync/push", json=batch)

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["max_body_bytes"] == SMALL_BODY


async def test_sync_info_advertises_limits(client: httpx.AsyncClient) -> None:
    """/sync/info reports the body limit, the batch limit and the feed head."""
    await push(client, "edge-a", change("edge-a", 1))

    info = (await client.get("/sync/info")).json()

    assert info == {
        "max_batch_changes": 500,
        "max_body_bytes": SMALL_BODY,
        "feed_head": 1,
    }


async def test_feed_pages_with_cursor(client: httpx.AsyncClient) -> None:
    """A limited feed page says has_more and where to read on."""
    await push(client, "edge-a", *(change("edge-a", n, f"r{n}") for n in (1, 2, 3)))

    page = (await client.get("/sync/feed", params={"after": 0, "limit": 2})).json()
    rest = (await client.get("/sync/feed", params={"after": 2})).json()

    assert [e["seq"] for e in page["entries"]] == [1, 2]
    assert page["has_more"] is True
    assert page["next_after"] == 2
    assert page["head"] == 3
    assert [e["seq"] for e in rest["entries"]] == [3]
    assert rest["has_more"] is False


@pytest.mark.parametrize(
    "params",
    [{"after": -1}, {"limit": 0}, {"limit": 1001}, {"after": 2**63}, {"edge_id": "A"}],
)
async def test_bad_feed_params_are_422(
    client: httpx.AsyncClient, params: dict[str, int | str]
) -> None:
    """Out-of-range feed parameters are a 422 problem, never a 500."""
    response = await client.get("/sync/feed", params=params)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_report_is_404_problem(client: httpx.AsyncClient) -> None:
    """An unknown report id is a 404 problem; a malformed one is a 422."""
    missing = await client.get("/reports/nope")
    malformed = await client.get("/reports/bad%20id")

    assert missing.status_code == 404
    assert missing.json()["title"] == "Report not found"
    assert malformed.status_code == 422


async def test_unknown_conflict_is_404(client: httpx.AsyncClient) -> None:
    """An unknown conflict id is a 404 problem."""
    response = await client.get("/conflicts/00000000-0000-0000-0000-000000000000")

    assert response.status_code == 404


async def test_report_list_pages_and_filters(client: httpx.AsyncClient) -> None:
    """Reports list by id, page with next_after, and leave out deleted ones."""
    await push(
        client,
        "edge-a",
        change("edge-a", 1, "r1"),
        change("edge-a", 2, "r2", classification="IL4"),
        change("edge-a", 3, "r3"),
        change("edge-a", 4, "r3", base_clock={"edge-a": 3}, deleted=True),
    )

    page = (await client.get("/reports", params={"limit": 1})).json()
    il4 = (await client.get("/reports", params={"classification": "IL4"})).json()
    everything = (await client.get("/reports", params={"include_deleted": True})).json()

    assert [r["report_id"] for r in page["reports"]] == ["r1"]
    assert page["next_after"] == "r1"
    assert [r["report_id"] for r in il4["reports"]] == ["r2"]
    assert [r["report_id"] for r in everything["reports"]] == ["r1", "r2", "r3"]
    assert everything["next_after"] is None


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    """A migrated database makes the service ready."""
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200


async def test_readyz_is_503_behind_migrations(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A database not at the newest revision makes /readyz answer 503."""
    async with app.state.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))

    response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    """A sane X-Request-ID from the caller comes back on the response."""
    response = await client.get("/healthz", headers={"x-request-id": "abc-123"})

    assert response.headers["x-request-id"] == "abc-123"


async def test_malformed_json_says_where_it_breaks(client: httpx.AsyncClient) -> None:
    """A body that is not JSON is a 422 problem naming the offset and the reason."""
    response = await client.post(
        "/sync/push",
        content=b'{"edge_id": "edge-a", "changes": [',
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == (
        "the body is not valid JSON at character 34: Expecting value"
    )
