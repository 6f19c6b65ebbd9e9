"""
The edge service's FastAPI app and its lifespan.

At start the lifespan migrates the database (when configured), starts the
writer thread, opens the readers and the HTTP client to the cloud, and starts
the sync loop as a task kept on ``app.state``. At shutdown it cancels and
awaits that task, then closes everything in the reverse order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import httpx
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import create_async_engine

from edge_service import meta, page
from edge_service.auth import load_analyst_verifier, load_edge_credentials
from edge_service.backoff import Backoff
from edge_service.cloud_client import CloudClient
from edge_service.credentials import EdgeCredentials
from edge_service.db import ReaderPool, connect, database_path
from edge_service.errors import NotAuthenticatedError
from edge_service.loop import SyncLoop
from edge_service.metrics import EdgeMetrics
from edge_service.puller import Puller
from edge_service.pusher import Pusher
from edge_service.routes import router
from edge_service.runtime import EdgeRuntime, utc_now
from edge_service.settings import EdgeSettings
from edge_service.writer import Writer
from edgesync import migrate
from edgesync.bodylimit import BodyLimitMiddleware
from edgesync.headerlimit import HeaderLimitMiddleware
from edgesync.metrics import HttpMetricsMiddleware
from edgesync.problems import install_problem_handlers, problem_response
from edgesync.requestlog import RequestLogMiddleware
from edgesync.tokens import TokenVerifier

log = structlog.get_logger()

# BC-21: shutdown waits this long for the sync loop to end after cancelling it.
SHUTDOWN_GRACE = 5.0


def create_app(
    settings: EdgeSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """
    Build the edge app; *transport* replaces the network to the cloud in tests.

    The edge key and the issuer's JWK set are read here, once: a missing or
    unsafe file stops the edge before it serves anything.
    """
    auth = _Auth(load_analyst_verifier(settings), load_edge_credentials(settings))
    metrics = EdgeMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _running_edge(settings, transport, auth, metrics) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(title="edgesync edge", version="0.1.0", lifespan=lifespan)
    app.state.metrics = metrics
    install_problem_handlers(app)
    # More specific than the ProblemError handler, so it wins for 401s.
    app.add_exception_handler(NotAuthenticatedError, _on_not_authenticated)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    # Oversized headers are refused before anything reads them.
    app.add_middleware(HeaderLimitMiddleware)
    # Outside the limits, so that their 413 and 431 answers are counted too.
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics.http)
    # Added last, so outermost: every answer, a 413 included, is logged under
    # the request id that the request's audit records carry.
    app.add_middleware(RequestLogMiddleware)
    app.include_router(router)
    app.include_router(page.router)

    return app


@dataclass(frozen=True)
class _Auth:
    """The keys read at start: for analysts' tokens and for the edge's own."""

    analyst_verifier: TokenVerifier | None
    edge_credentials: EdgeCredentials | None


async def _on_not_authenticated(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotAuthenticatedError)
    response = problem_response(exc.status, exc.title, exc.detail)
    response.headers["WWW-Authenticate"] = exc.challenge
    return response


@asynccontextmanager
async def _running_edge(
    settings: EdgeSettings,
    transport: httpx.AsyncBaseTransport | None,
    auth: _Auth,
    metrics: EdgeMetrics,
) -> AsyncIterator[EdgeRuntime]:
    url = settings.resolved_database_url
    path = database_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    if settings.migrate_on_start:
        await migrate.upgrade("edge", url)

    writer = Writer(partial(connect, path))
    await writer.start()
    await writer.run(meta.ensure_row)
    reader = ReaderPool(path)
    engine = create_async_engine(url, poolclass=pool.NullPool)
    http = httpx.AsyncClient(
        base_url=settings.cloud_url,
        timeout=settings.request_timeout,
        transport=transport,
        verify=settings.cloud_tls(),
    )
    client = CloudClient(http, settings.edge_id, auth.edge_credentials, metrics=metrics)
    sync_loop = _build_loop(settings, client, writer, reader, metrics)
    task = asyncio.create_task(sync_loop.run_forever(), name="edge-sync-loop")
    log.info(
        "edge_started",
        edge_id=settings.edge_id,
        database=str(path),
        analyst_auth=auth.analyst_verifier is not None,
        edge_token=auth.edge_credentials is not None,
    )
    try:
        yield EdgeRuntime(
            settings, writer, reader, engine, sync_loop, task, auth.analyst_verifier
        )
    finally:
        await _stop(task)
        await http.aclose()
        await writer.close()
        reader.close()
        await engine.dispose()
        log.info("edge_stopped", edge_id=settings.edge_id)


def _build_loop(
    settings: EdgeSettings,
    client: CloudClient,
    writer: Writer,
    reader: ReaderPool,
    metrics: EdgeMetrics,
) -> SyncLoop:
    pusher = Pusher(
        client,
        writer,
        reader,
        edge_id=settings.edge_id,
        batch_size=settings.batch_size,
        now=utc_now,
        metrics=metrics,
    )
    puller = Puller(
        client,
        writer,
        reader,
        edge_id=settings.edge_id,
        limit=settings.pull_limit,
        now=utc_now,
    )
    return SyncLoop(
        pusher,
        puller,
        writer,
        Backoff(settings.backoff_base, settings.backoff_cap),
        edge_id=settings.edge_id,
        interval=settings.sync_interval,
        retention=(
            timedelta(days=settings.outbox_retention_days),
            timedelta(days=settings.rejected_retention_days),
        ),
        purge_every=timedelta(seconds=settings.purge_interval),
        now=utc_now,
        metrics=metrics,
    )


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=SHUTDOWN_GRACE)
    if not done:
        log.error("sync_loop_not_stopped", grace=SHUTDOWN_GRACE)
        return
    if not task.cancelled() and task.exception() is not None:
        log.error("sync_loop_died", exc_info=task.exception())
