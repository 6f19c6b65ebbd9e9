"""What the app builds at start and the routes reach through ``app.state``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from edge_service.db import ReaderPool
from edge_service.loop import SyncLoop
from edge_service.settings import EdgeSettings
from edge_service.writer import Writer
from edgesync.tokens import TokenVerifier


def utc_now() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass
class EdgeRuntime:
    """The writer, the readers and the sync loop of one running edge."""

    settings: EdgeSettings
    writer: Writer
    reader: ReaderPool
    engine: AsyncEngine
    sync_loop: SyncLoop
    sync_task: asyncio.Task[None]
    # None: analysts are not authenticated (no issuer JWK set configured).
    analyst_verifier: TokenVerifier | None = None

    @property
    def loop_alive(self) -> bool:
        """Return whether the sync loop's task is still running."""
        return not self.sync_task.done()
