"""
The feed: every new current version, under a strictly increasing seq.

Ordering guarantee. docs/protocol.md requires that a reader never sees seq N+1
before a lower seq has committed, even with concurrent pushes and several
cloud processes. A push therefore takes its seqs as the very last step before
commit, with ``UPDATE feed_head SET seq = seq + n RETURNING seq``. The row
lock that UPDATE takes is held until commit, so the next push cannot take
seqs until this one has committed (or rolled back, which hands the same seqs
out again): seqs become visible in the order they were handed out. On SQLite
only one writer runs at a time, which gives the same order.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_service.bulk import insert_rows
from cloud_service.state import ReportState, fields_of, version_columns
from cloud_service.tables import feed_head_table, feed_table
from syncproto import Classification, FeedEntry, FeedPage

_feed = feed_table
_TAKE = text("UPDATE feed_head SET seq = seq + :n WHERE id = 1 RETURNING seq")


async def append(session: AsyncSession, versions: list[ReportState]) -> dict[str, int]:
    """
    Append *versions* to the feed; return each report's newest seq.

    Call this last in the transaction (see the module docstring).
    """
    if not versions:
        return {}
    last = (await session.execute(_TAKE, {"n": len(versions)})).scalar_one()
    first = last - len(versions) + 1
    rows = [{"seq": first + i, **v.columns()} for i, v in enumerate(versions)]
    await insert_rows(session, _feed, rows, skip_existing=False)

    return {row["report_id"]: row["seq"] for row in rows}


async def feed_head(session: AsyncSession) -> int:
    """Return the highest seq handed out and committed."""
    head = feed_head_table.c
    seq = await session.scalar(select(head.seq).where(head.id == 1))
    return seq or 0


async def read_page(
    session: AsyncSession,
    after: int,
    limit: int,
    clearance: Classification | None = None,
) -> FeedPage:
    """
    Return up to *limit* entries with a seq above *after*, in seq order.

    With a *clearance*, entries above it are left out, and the cursor still
    moves past them so the reader never asks for them again.
    """
    head = await feed_head(session)
    rows = (
        await session.execute(
            select(_feed)
            .where(_feed.c.seq > after)
            .order_by(_feed.c.seq)
            .limit(limit + 1)
        )
    ).all()
    scanned = rows[:limit]
    last = scanned[-1].seq if scanned else after
    entries = [
        _entry(row)
        for row in scanned
        if clearance is None
        or Classification(row.classification).rank <= clearance.rank
    ]
    return FeedPage(
        entries=entries,
        next_after=last,
        head=max(head, scanned[-1].seq if scanned else 0),
        has_more=len(rows) > limit,
    )


def _entry(row: Any) -> FeedEntry:
    return FeedEntry(seq=row.seq, **version_columns(row), fields=fields_of(row))
