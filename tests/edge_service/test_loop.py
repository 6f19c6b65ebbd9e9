"""The sync loop's life: stored, resilient to one failure, stopped cleanly (BC-21)."""

from __future__ import annotations

import asyncio
import gc
import logging
import time

import httpx
import pytest
import structlog

from edge_service.settings import EdgeSettings
from tests.edge_service.conftest import start_edge
from tests.edge_service.fakecloud import FakeCloud
from tests.edge_service.helpers import create, sync_until_drained


class FailOnceTransport(httpx.AsyncBaseTransport):
    """Forward to the fake cloud, but raise RuntimeError on the first armed call."""

    def __init__(self, cloud: FakeCloud) -> None:
        self._inner = httpx.ASGITransport(cloud.app)
        self.armed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Raise once when armed, else pass the request on."""
        if self.armed:
            self.armed = False
            raise RuntimeError("injected failure inside a sync run")
        return await self._inner.handle_async_request(request)


async def test_bc21_loop_survives_failure_and_stops_cleanly(
    settings: EdgeSettings, cloud: FakeCloud, caplog: pytest.LogCaptureFixture
) -> None:
    """
    The loop task lives on app.state, outlives gc, logs an injected error,
    carries on, and is cancelled and awaited at shutdown (BC-21).
    """
    transport = FailOnceTransport(cloud)
    async for edge in start_edge(settings, cloud, transport):
        task = edge.app.state.runtime.sync_task
        gc.collect()
        alive_after_gc = not task.done()
        await create(edge, "r-1")
        transport.armed = True
        with structlog.testing.capture_logs() as logs:
            status = await sync_until_drained(edge)
        health = await edge.client.get("/healthz")
        stopping = time.monotonic()

    stop_seconds = time.monotonic() - stopping
    await asyncio.sleep(0)
    gc.collect()

    assert alive_after_gc
    failures = [e for e in logs if e["event"] == "sync_failed"]
    assert failures[0]["error"] == "RuntimeError"
    assert failures[0]["log_level"] == "warning"
    assert status["pending"] == 0
    assert health.json()["loop_alive"] is True
    assert task.cancelled()
    assert stop_seconds < 5
    destroyed = [r for r in caplog.records if "Task was destroyed" in r.getMessage()]
    assert destroyed == []


async def test_healthz_is_503_when_loop_task_died(
    settings: EdgeSettings, cloud: FakeCloud
) -> None:
    """/healthz answers 503 once the loop's task is no longer running."""
    async for edge in start_edge(settings, cloud):
        healthy = await edge.client.get("/healthz")
        edge.runtime.sync_task.cancel()
        await asyncio.sleep(0.01)
        dead = await edge.client.get("/healthz")

    assert healthy.status_code == 200
    assert dead.status_code == 503
    assert dead.json()["loop_alive"] is False


async def test_readyz_reports_head_revision(
    settings: EdgeSettings, cloud: FakeCloud
) -> None:
    """/readyz answers 200 with the database at the head revision."""
    async for edge in start_edge(settings, cloud):
        response = await edge.client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["database"] is True
    assert body["revision"] == body["head"] == "0003_feed_head"


async def test_status_counts_pending_changes(
    settings: EdgeSettings, cloud: FakeCloud
) -> None:
    """/sync/status counts pending changes and their age before a push."""
    async for edge in start_edge(settings, cloud):
        await create(edge, "r-1")
        await create(edge, "r-2")
        status = (await edge.client.get("/sync/status")).json()

    assert status["edge_id"] == "edge-a"
    assert status["pending"] == 2
    assert status["oldest_pending_age"] >= 0
    assert status["loop_alive"] is True


async def test_migrate_on_start_creates_var_folder(
    tmp_path: pytest.TempPathFactory, cloud: FakeCloud
) -> None:
    """With migrate_on_start, a missing var/ folder and database are created."""
    path = f"{tmp_path}/var/new/edge.db"
    settings = EdgeSettings(
        database_url=f"sqlite+aiosqlite:///{path}",
        cloud_url="http://cloud.test",
        sync_interval=3600,
        allow_anonymous=True,
    )
    async for edge in start_edge(settings, cloud):
        response = await edge.client.get("/readyz")

    assert response.status_code == 200


@pytest.fixture(autouse=True)
def _asyncio_errors_visible(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="asyncio")
