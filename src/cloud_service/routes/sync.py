"""The sync exchange with edges: push changes in, pull the feed out."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud_service import feed
from cloud_service.auth import CurrentCaller, CurrentEdge, Forbidden
from cloud_service.db import write_transaction
from cloud_service.edges import record_pull
from cloud_service.errors import BatchTooLarge
from cloud_service.inbox import push
from cloud_service.routes.deps import (
    MAX_BIGINT,
    Metrics,
    Session,
    Sessions,
    Settings,
)
from edgesync.problems import PROBLEM_RESPONSES
from syncproto import MAX_FEED_LIMIT, FeedPage, PushBatch, PushResult, SyncInfo

router = APIRouter(prefix="/sync", tags=["sync"])


@router.post("/push", responses=PROBLEM_RESPONSES)
async def push_changes(
    batch: PushBatch,
    sessions: Sessions,
    settings: Settings,
    edge: CurrentEdge,
    metrics: Metrics,
) -> PushResult:
    """
    Push a batch of changes from an edge, oldest first.

    Every change gets its own outcome, in batch order: `applied`, `duplicate`
    (the change id was seen before; the reason names the first outcome),
    `stale`, `merged`, `conflict` (with `conflict_id`) or `rejected` (with a
    reason; do not send it again). A malformed change is rejected on its own
    without failing the batch. Resending a change any number of times has
    exactly one effect, so retry freely after a timeout. A body above
    `max_body_bytes` (see `GET /sync/info`) is refused with 413: split the
    batch. `acked_seq` is the highest `origin_seq` below which the cloud
    holds every change of the edge.

    The bearer token is the edge's own (signed with its registered key); a
    batch for another edge is refused with 403, and a change above the
    edge's clearance is `rejected`.
    """
    if edge is not None and batch.edge_id != edge.edge_id:
        msg = f"the token is edge {edge.edge_id!r}'s, the batch is {batch.edge_id!r}'s"
        raise Forbidden(msg)
    if len(batch.changes) > settings.max_batch_changes:
        raise BatchTooLarge(len(batch.changes), settings.max_batch_changes)
    started = time.perf_counter()
    async with write_transaction(sessions) as session:
        clearance = None if edge is None else edge.clearance
        result = await push(session, batch, datetime.now(UTC), clearance)
    # Counted once committed: a push rolled back decided nothing.
    metrics.pushed(result, time.perf_counter() - started)

    return result


@router.get("/info")
async def sync_info(
    session: Session, settings: Settings, caller: CurrentCaller
) -> SyncInfo:
    """Return the limits a batch must respect and the feed's newest seq."""
    return SyncInfo(
        max_batch_changes=settings.max_batch_changes,
        max_body_bytes=settings.max_body_bytes,
        feed_head=await feed.feed_head(session),
    )


@router.get("/feed", responses=PROBLEM_RESPONSES)
async def read_feed(
    session: Session,
    sessions: Sessions,
    background: BackgroundTasks,
    edge: CurrentEdge,
    after: Annotated[
        int, Query(ge=0, le=MAX_BIGINT, description="Return entries above this seq.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_FEED_LIMIT)] = 500,
    edge_id: Annotated[
        str | None,
        Query(
            pattern=r"^[a-z0-9-]{1,64}$",
            description="The reading edge, recorded in its status at the cloud.",
        ),
    ] = None,
) -> FeedPage:
    """
    Return feed entries with a seq above `after`, in seq order.

    Every new current version of a report (applied, merged, provisional,
    resolved) is one entry. Pass `next_after` as `after` to read on; read
    again while `has_more` is true. A seq below one you have seen never
    appears later, so a cursor never skips an entry. An edge is sent only
    entries within its clearance; `next_after` moves past the others.
    """
    if edge is not None:
        # An edge reads as itself and sees only what its clearance allows.
        edge_id = edge.edge_id
    clearance = None if edge is None else edge.clearance
    page = await feed.read_page(session, after, limit, clearance)
    if edge_id is not None:
        # Noted after the answer is sent: the edge's status at the cloud may
        # lag a moment, the edge's pull does not wait for a write.
        background.add_task(
            _note_pull, sessions, edge_id, page.next_after, datetime.now(UTC)
        )
    return page


async def _note_pull(
    sessions: async_sessionmaker[AsyncSession],
    edge_id: str,
    cursor: int,
    at: datetime,
) -> None:
    async with write_transaction(sessions) as writer:
        await record_pull(writer, edge_id, cursor, at)
