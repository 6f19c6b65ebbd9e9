"""
What the cloud knows of each edge: how far its pushes arrived, and its pulls.

``acked_seq`` is the highest ``origin_seq`` such that every change from 1 to
it is in the inbox (rejected ones included: they arrived). A change that
never arrived leaves ``max_seq`` above ``acked_seq``: the gap is visible here
instead of passing silently (docs/protocol.md, "Vocabulary").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_service.db import dialect_insert
from cloud_service.tables import edges_table, inbox_table
from syncproto import Classification

_edges = edges_table
_inbox = inbox_table
# How far one push looks past acked_seq; the next push carries on from there.
_ACK_WINDOW = 10_000
_ZEROS = {"acked_seq": 0, "max_seq": 0, "changes_received": 0, "rejected": 0}


@dataclass(frozen=True)
class PushCounts:
    """What one push brought from an edge."""

    received: int
    rejected: int
    max_seq: int


class EdgePublic(BaseModel):
    """An edge's push and pull status."""

    edge_id: str
    acked_seq: int = Field(description="Every change 1..acked_seq has arrived.")
    max_seq: int = Field(description="Highest origin_seq that arrived.")
    gap: bool = Field(description="Some change below max_seq never arrived.")
    changes_received: int
    rejected: int
    first_push_at: datetime | None
    last_push_at: datetime | None
    last_pull_at: datetime | None
    feed_cursor: int | None
    lag: int | None = Field(description="Feed entries the edge has not read yet.")
    clearance: Classification | None = Field(
        default=None, description="Registered clearance; null if never registered."
    )
    registered_at: datetime | None = None
    revoked_at: datetime | None = None


class EdgesPublic(BaseModel):
    """Every edge the cloud has heard from."""

    edges: list[EdgePublic]


async def record_push(
    session: AsyncSession, edge_id: str, counts: PushCounts, now: datetime
) -> int:
    """Update *edge_id*'s counters after a push; return its new ``acked_seq``."""
    await session.execute(
        dialect_insert(session, _edges)
        .values(edge_id=edge_id, first_push_at=now, **_ZEROS)
        .on_conflict_do_nothing()
    )
    acked = await session.scalar(
        select(_edges.c.acked_seq).where(_edges.c.edge_id == edge_id)
    )
    acked = await _advance(session, edge_id, acked or 0)
    max_seq = _edges.c.max_seq
    await session.execute(
        update(_edges)
        .where(_edges.c.edge_id == edge_id)
        .values(
            acked_seq=acked,
            max_seq=case((max_seq < counts.max_seq, counts.max_seq), else_=max_seq),
            changes_received=_edges.c.changes_received + counts.received,
            rejected=_edges.c.rejected + counts.rejected,
            last_push_at=now,
        )
    )

    return acked


async def _advance(session: AsyncSession, edge_id: str, acked: int) -> int:
    """Return the end of the run of contiguous origin_seqs after *acked*."""
    seqs = await session.scalars(
        select(_inbox.c.origin_seq)
        .where(_inbox.c.origin == edge_id, _inbox.c.origin_seq > acked)
        .distinct()
        .order_by(_inbox.c.origin_seq)
        .limit(_ACK_WINDOW)
    )
    for seq in seqs:
        if seq != acked + 1:
            break
        acked = seq

    return acked


async def record_pull(
    session: AsyncSession, edge_id: str, cursor: int, now: datetime
) -> None:
    """Remember that *edge_id* has read the feed up to *cursor*."""
    # An edge that only reads still shows up in the cloud's list of edges.
    await session.execute(
        dialect_insert(session, _edges)
        .values(edge_id=edge_id, **_ZEROS)
        .on_conflict_do_nothing()
    )
    await session.execute(
        update(_edges)
        .where(_edges.c.edge_id == edge_id)
        .values(last_pull_at=now, feed_cursor=cursor)
    )


async def register_edge(
    session: AsyncSession,
    edge_id: str,
    public_key_pem: str,
    clearance: Classification,
    now: datetime,
) -> None:
    """Register (or re-key) *edge_id*; a new registration lifts a revocation."""
    registration = {
        "public_key_pem": public_key_pem,
        "clearance": clearance.value,
        "registered_at": now,
        "revoked_at": None,
    }
    await session.execute(
        dialect_insert(session, _edges)
        .values(edge_id=edge_id, **_ZEROS, **registration)
        .on_conflict_do_update(index_elements=[_edges.c.edge_id], set_=registration)
    )


async def revoke_edge(session: AsyncSession, edge_id: str, now: datetime) -> bool:
    """Refuse *edge_id*'s tokens from now on; False when it was never registered."""
    result = await session.execute(
        update(_edges)
        .where(_edges.c.edge_id == edge_id, _edges.c.public_key_pem.is_not(None))
        .values(revoked_at=func.coalesce(_edges.c.revoked_at, now))
    )
    return bool(getattr(result, "rowcount", 0))


async def get_edge(
    session: AsyncSession, edge_id: str, feed_head: int
) -> EdgePublic | None:
    """Return one edge's status, if the cloud knows it."""
    row = (
        await session.execute(select(_edges).where(_edges.c.edge_id == edge_id))
    ).first()
    return None if row is None else _public(row, feed_head)


async def list_edges(session: AsyncSession, feed_head: int) -> EdgesPublic:
    """Return every edge's status, ordered by edge id."""
    rows = await session.execute(select(_edges).order_by(_edges.c.edge_id))
    return EdgesPublic(edges=[_public(edge, feed_head) for edge in rows])


def _public(edge: Any, feed_head: int) -> EdgePublic:
    cursor = edge.feed_cursor
    return EdgePublic(
        edge_id=edge.edge_id,
        acked_seq=edge.acked_seq,
        max_seq=edge.max_seq,
        gap=edge.max_seq > edge.acked_seq,
        changes_received=edge.changes_received,
        rejected=edge.rejected,
        first_push_at=edge.first_push_at,
        last_push_at=edge.last_push_at,
        last_pull_at=edge.last_pull_at,
        feed_cursor=cursor,
        lag=None if cursor is None else max(feed_head - cursor, 0),
        clearance=edge.clearance,
        registered_at=edge.registered_at,
        revoked_at=edge.revoked_at,
    )
