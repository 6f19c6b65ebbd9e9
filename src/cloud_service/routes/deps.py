"""Dependencies the routes share: the database and the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud_service.metrics import CloudMetrics
from cloud_service.settings import CloudSettings

# Bounds of the integers the database stores, so no query can overflow a column.
MAX_BIGINT = 2**63 - 1
MAX_INT = 2**31 - 1
ReportIdPath = Annotated[
    str,
    Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$", description="The report's id."),
]


# Dependencies are coroutines on purpose: FastAPI runs a plain ``def`` one in a
# worker thread, a hop that costs more than the lookup.
async def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    """Return the app's session factory."""
    return _sessions(request)


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


async def get_settings(request: Request) -> CloudSettings:
    """Return the app's settings."""
    settings: CloudSettings = request.app.state.settings
    return settings


async def get_metrics(request: Request) -> CloudMetrics:
    """Return the app's counters and histograms."""
    metrics: CloudMetrics = request.app.state.metrics
    return metrics


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield a session for reading, closed after the request."""
    async with _sessions(request)() as session:
        yield session


Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
Session = Annotated[AsyncSession, Depends(get_session)]
Settings = Annotated[CloudSettings, Depends(get_settings)]
Metrics = Annotated[CloudMetrics, Depends(get_metrics)]
