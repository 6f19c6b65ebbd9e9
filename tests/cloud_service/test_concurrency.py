"""Concurrent pushes: effects counted once, and a feed that never skips."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Table, func, select

from cloud_service.app import create_app
from cloud_service.settings import CloudSettings
from cloud_service.tables import feed_table, inbox_table, versions_table
from tests.cloud_service.helpers import change, feed, push

PUSHERS = 8
BATCHES = 50


Clouds = tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient]


@asynccontextmanager
async def _clouds(settings: CloudSettings) -> AsyncIterator[Clouds]:
    """Run two apps with engines of their own on one database, like two processes."""
    async with AsyncExitStack() as stack:
        apps = [create_app(settings) for _ in range(2)]
        clients = []
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
            )
            clients.append(await stack.enter_async_context(client))
        yield apps[0], clients[0], clients[1]


@pytest.fixture
async def two_clouds(settings: CloudSettings) -> AsyncIterator[Clouds]:
    """Two cloud processes sharing the parametrized database."""
    async with _clouds(settings) as clouds:
        yield clouds


@pytest.fixture
async def pg_clouds(pg_url: str) -> AsyncIterator[Clouds]:
    """Two cloud processes sharing one PostgreSQL database."""
    async with _clouds(
        CloudSettings(database_url=pg_url, allow_anonymous=True)
    ) as clouds:
        yield clouds


async def _count(app: FastAPI, table: Table, change_id: str) -> int:
    query = select(func.count()).select_from(table)
    async with app.state.sessions() as session:
        count = await session.scalar(
            query.where(table.c.change_id == uuid.UUID(change_id))
        )
    return int(count or 0)


async def test_same_change_in_two_requests_has_one_effect(
    two_clouds: Clouds,
) -> None:
    """The same change pushed through two processes at once is applied once."""
    app, first, second = two_clouds
    created = change("edge-a", 1)

    results = await asyncio.gather(
        push(first, "edge-a", created), push(second, "edge-a", created)
    )

    outcomes = sorted(r["results"][0]["outcome"] for r in results)
    assert outcomes == ["applied", "duplicate"]
    for table in (inbox_table, versions_table, feed_table):
        assert await _count(app, table, created["change_id"]) == 1


async def _pusher(client: httpx.AsyncClient, edge_id: str) -> None:
    for n in range(BATCHES):
        batch = [change(edge_id, 2 * n + k, f"{edge_id}-{n}-{k}") for k in (1, 2)]
        await push(client, edge_id, *batch)


async def _reader(client: httpx.AsyncClient, done: asyncio.Event) -> list[int]:
    """Poll the feed with a cursor until the pushers are done; return seqs read."""
    seen: list[int] = []
    cursor = 0
    for _ in range(100_000):
        finished = done.is_set()
        page = (await client.get("/sync/feed", params={"after": cursor})).json()
        seen += [entry["seq"] for entry in page["entries"]]
        cursor = page["next_after"]
        if finished and not page["has_more"]:
            break
        await asyncio.sleep(0)
    return seen


@pytest.mark.postgres
async def test_feed_never_skips_under_concurrent_pushes(pg_clouds: Clouds) -> None:
    """A reader following its cursor during concurrent pushes misses no entry."""
    _, first, second = pg_clouds
    done = asyncio.Event()
    reader = asyncio.create_task(_reader(first, done))

    pushers = [_pusher(first if i % 2 else second, f"edge-{i}") for i in range(PUSHERS)]
    await asyncio.gather(*pushers)
    done.set()
    seen = await reader

    expected = list(range(1, PUSHERS * BATCHES * 2 + 1))
    assert seen == expected
    assert [e["seq"] for e in await feed(first)] == expected
