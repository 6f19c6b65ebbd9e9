"""The cloud service's ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI

from cloud_service import dashboard
from cloud_service.auth import Authenticator
from cloud_service.db import create_engine, session_factory
from cloud_service.metrics import CloudMetrics
from cloud_service.refusals import record_refusals
from cloud_service.retention import purge_periodically
from cloud_service.routes import audit, conflicts, edges, health, reports, sync
from cloud_service.routes.metrics import router as metrics_router
from cloud_service.settings import CloudSettings
from edgesync.bodylimit import BodyLimitMiddleware
from edgesync.headerlimit import HeaderLimitMiddleware
from edgesync.logs import configure_logging
from edgesync.metrics import HttpMetricsMiddleware
from edgesync.migrate import upgrade
from edgesync.problems import install_problem_handlers
from edgesync.requestlog import RequestLogMiddleware


def create_app_from_env() -> FastAPI:
    """Build the app from ``EDGESYNC_*`` variables: the factory uvicorn workers call."""
    settings = CloudSettings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings)


def create_app(settings: CloudSettings) -> FastAPI:
    """Return the cloud application configured by *settings*."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await upgrade("cloud", settings.database_url)
        engine = create_engine(settings)
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        app.state.purge_task = asyncio.create_task(
            purge_periodically(
                app.state.sessions,
                timedelta(days=settings.inbox_retention_days),
                settings.inbox_purge_interval_seconds,
            )
        )
        try:
            yield
        finally:
            app.state.purge_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await app.state.purge_task
            await engine.dispose()

    app = FastAPI(
        title="edgesync cloud",
        summary="Central inbox, feed and conflict store of edgesync.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = CloudMetrics()
    # Built here, not in the lifespan, so a bad JWKS file stops the start.
    app.state.authenticator = Authenticator(settings)
    install_problem_handlers(app)
    record_refusals(app)
    for module in (sync, reports, conflicts, edges, audit, health):
        app.include_router(module.router)
    app.include_router(metrics_router)
    app.include_router(dashboard.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(HeaderLimitMiddleware)
    # Outside the limits, so that their 413 and 431 answers are counted too.
    app.add_middleware(HttpMetricsMiddleware, metrics=app.state.metrics.http)
    # Added last, so outermost: even a 413 from the body limit is logged.
    app.add_middleware(RequestLogMiddleware)

    return app
