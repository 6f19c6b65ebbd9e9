"""Inbox retention: old change ids are purged, recent ones kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from cloud_service.app import create_app
from cloud_service.db import write_transaction
from cloud_service.retention import purge_inbox
from cloud_service.settings import CloudSettings
from tests.cloud_service.helpers import change, outcomes, push


async def test_purge_removes_only_older_entries(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Entries received before the cutoff go; a later resend is no duplicate."""
    created = change("edge-a", 1)
    await push(client, "edge-a", created)
    now = datetime.now(UTC)

    async with write_transaction(app.state.sessions) as session:
        kept = await purge_inbox(session, now - timedelta(days=90))
    async with write_transaction(app.state.sessions) as session:
        purged = await purge_inbox(session, now + timedelta(seconds=1))

    assert (kept, purged) == (0, 1)
    # Forgotten, the resend is decided again: its clock equals the current one.
    assert await outcomes(client, "edge-a", created) == ["stale"]


async def test_purge_task_runs_and_stops_with_the_app(
    settings: CloudSettings,
) -> None:
    """The lifespan starts the periodic purge and cancels it on shutdown."""
    app = create_app(settings)

    async with app.router.lifespan_context(app):
        task = app.state.purge_task
        running = not task.done()

    assert running
    assert task.cancelled()


async def test_purge_keeps_running_after_a_failed_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One failed purge run is logged and the next run still happens."""
    import asyncio
    from contextlib import asynccontextmanager
    from datetime import timedelta
    from typing import Any

    from sqlalchemy.ext.asyncio import async_sessionmaker
    from structlog.testing import capture_logs

    from cloud_service import retention

    calls = 0

    @asynccontextmanager
    async def flaky(sessions: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            msg = "database went away"
            raise ConnectionError(msg)
        yield None

    async def no_rows(session: Any, older_than: Any) -> int:
        return 0

    monkeypatch.setattr(retention, "write_transaction", flaky)
    monkeypatch.setattr(retention, "purge_inbox", no_rows)
    with capture_logs() as logs:
        task = asyncio.create_task(
            retention.purge_periodically(async_sessionmaker(), timedelta(days=90), 0.01)
        )
        for _ in range(100):
            await asyncio.sleep(0.01)
            if calls >= 2:
                break
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    events = [entry["event"] for entry in logs]
    assert calls >= 2
    assert events[:2] == ["inbox_purge_failed", "inbox_purged"]
