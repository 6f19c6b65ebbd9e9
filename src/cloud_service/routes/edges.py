"""The status of every edge."""

from __future__ import annotations

from fastapi import APIRouter

from cloud_service import edges, feed
from cloud_service.routes.deps import Session

router = APIRouter(prefix="/edges", tags=["edges"])


@router.get("")
async def list_edges(session: Session) -> edges.EdgesPublic:
    """
    List every edge that has pushed, with how far its pushes have arrived.

    `gap` is true when a change below `max_seq` never arrived; `lag` is how
    many feed entries the edge has not read yet.
    """
    return await edges.list_edges(session, await feed.feed_head(session))
