"""
The cloud's audit log: one chain shared by every replica.

Appending. Records are chained by hash (``syncproto.audit``), so each one
needs the hash of the one before it, including across cloud processes. A
transaction therefore appends its records as its very last step, with
``UPDATE audit_head SET seq = seq + n RETURNING seq, hash``: the row lock
that UPDATE takes is held until commit, so the next transaction's records
follow this one's, never interleave with them, and a rollback hands the same
seqs out again. It is the feed's pattern (``cloud_service.feed``), taken
after the feed head, always in that order, so two transactions never wait on
each other crosswise. The records go into the transaction of the action they
record: no action without its record, no record without its action.

Reading. Lists and exports page by seq on an index; records at or below a
seq never change, so an export bounded by the seq it starts at is consistent
without holding a transaction open. Verifying reads the head and every record
in one snapshot, so records appended meanwhile are neither missed nor blamed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud_service.bulk import insert_rows
from cloud_service.tables import audit_head_table, audit_table
from edgesync.requestlog import current_request_id
from syncproto import Classification
from syncproto.audit import (
    AuditEvent,
    AuditFilter,
    AuditPage,
    AuditRecord,
    AuditVerification,
    ChainCheck,
    links,
)

_audit = audit_table
_TAKE = text("UPDATE audit_head SET seq = seq + :n WHERE id = 1 RETURNING seq, hash")
_SET_HASH = text("UPDATE audit_head SET hash = :hash WHERE id = 1")
_HEAD = select(audit_head_table.c.seq, audit_head_table.c.hash).where(
    audit_head_table.c.id == 1
)
_PAGE = 1000


async def append(
    session: AsyncSession, events: Sequence[AuditEvent]
) -> tuple[int, str]:
    """
    Append *events* to the chain in this transaction; return the new head.

    Call this last in the transaction, after ``feed.append`` if there is one
    (see the module docstring). Events without a request id get the id of
    the request being served. The head is the last record's seq and hash.
    """
    if not events:
        return await head(session)
    taken = (await session.execute(_TAKE, {"n": len(events)})).one()
    # Stamped once the head is held, so that time order follows seq order.
    now = datetime.now(UTC)
    request_id = current_request_id()
    if request_id is not None:
        events = [
            e if e.request_id else e.model_copy(update={"request_id": request_id})
            for e in events
        ]
    sealed = links(
        events, last_seq=taken.seq - len(events), last_hash=taken.hash, at=now
    )
    rows = [
        _row(event, now, seq, prev, digest)
        for event, (seq, prev, digest) in zip(events, sealed, strict=True)
    ]
    await insert_rows(session, _audit, rows, skip_existing=False)
    last_seq, _, last_hash = sealed[-1]
    await session.execute(_SET_HASH, {"hash": last_hash})

    return last_seq, last_hash


def _row(
    event: AuditEvent,
    at: datetime,
    seq: int,
    prev_hash: str,
    digest: str,
) -> dict[str, Any]:
    row = dict(event.__dict__)
    row.update(
        action=event.action.value, seq=seq, at=at, prev_hash=prev_hash, hash=digest
    )
    return row


def _matching(
    filters: AuditFilter,
    visible: frozenset[Classification] | None,
    after: int,
    up_to: int | None = None,
) -> Select[Any]:
    """
    Return the records above seq *after* that match, in seq order.

    With *visible*, records about reports marked otherwise are left out.
    """
    columns = _audit.c
    query = select(_audit).where(columns.seq > after).order_by(columns.seq)
    if up_to is not None:
        query = query.where(columns.seq <= up_to)
    for name in ("report_id", "actor", "edge_id"):
        value = getattr(filters, name)
        if value is not None:
            query = query.where(columns[name] == value)
    if filters.action is not None:
        query = query.where(columns.action == filters.action.value)
    if filters.since is not None:
        query = query.where(columns.at >= filters.since)
    if filters.until is not None:
        query = query.where(columns.at < filters.until)
    if visible is not None:
        query = query.where(
            columns.classification.is_(None)
            | columns.classification.in_(sorted(c.value for c in visible))
        )
    return query


async def list_records(
    session: AsyncSession,
    filters: AuditFilter,
    after: int,
    limit: int,
    visible: frozenset[Classification] | None = None,
) -> AuditPage:
    """Return one page of the records that match *filters*, within *visible*."""
    query = _matching(filters, visible, after).limit(limit + 1)
    rows = (await session.execute(query)).all()
    records = [_record(row) for row in rows[:limit]]
    next_after = records[-1].seq if len(rows) > limit else None
    return AuditPage(records=records, next_after=next_after)


async def stream_records(
    sessions: async_sessionmaker[AsyncSession],
    filters: AuditFilter,
    up_to: int,
    visible: frozenset[Classification] | None = None,
    page: int = _PAGE,
) -> AsyncIterator[AuditRecord]:
    """Yield every matching record up to seq *up_to*, one page in memory at a time."""
    after = 0
    while True:
        async with sessions() as session:
            rows = (
                await session.execute(
                    _matching(filters, visible, after, up_to).limit(page)
                )
            ).all()
        for row in rows:
            yield _record(row)
        if len(rows) < page:
            return
        after = rows[-1].seq


async def head(session: AsyncSession) -> tuple[int, str]:
    """Return the seq and hash of the last record written."""
    row = (await session.execute(_HEAD)).one()
    return int(row.seq), str(row.hash)


async def verify(
    sessions: async_sessionmaker[AsyncSession],
    anchors: dict[int, str] | None = None,
    page: int = _PAGE,
) -> AuditVerification:
    """Check the whole chain against its head, in one snapshot."""
    check = ChainCheck(anchors=anchors)
    async with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            await session.connection(
                execution_options={"isolation_level": "REPEATABLE READ"}
            )
        # SQLite keeps the snapshot of a read transaction's first read.
        found = (await session.execute(_HEAD)).first()
        if found is None:
            return AuditVerification(
                ok=False,
                checked=0,
                head_seq=0,
                head_hash="",
                problem="the audit head is gone: the log was tampered with",
            )
        after = 0
        while check.ok:
            records, unreadable = await _page(session, after, page)
            for record in records:
                if not check.add(record):
                    break
            if unreadable is not None:
                check.unreadable(unreadable)
            if len(records) < page or unreadable is not None:
                break
            after = records[-1].seq
    return check.finish(int(found.seq), str(found.hash))


# What a row altered outside the service can fail with when it is read.
_UNREADABLE = (ValueError, TypeError, LookupError)


async def _page(
    session: AsyncSession, after: int, page: int
) -> tuple[list[AuditRecord], int | None]:
    """Return the records after *after*, and the seq of an unreadable one."""
    query = select(_audit).where(_audit.c.seq > after).order_by(_audit.c.seq)
    try:
        rows = (await session.execute(query.limit(page))).all()
        return [_record(row) for row in rows], None
    except _UNREADABLE:
        pass
    # Read again one record at a time to find the first that cannot be read.
    seqs = (
        await session.execute(
            select(_audit.c.seq)
            .where(_audit.c.seq > after)
            .order_by(_audit.c.seq)
            .limit(page)
        )
    ).scalars()
    records = []
    for seq in list(seqs):
        try:
            row = (
                await session.execute(select(_audit).where(_audit.c.seq == seq))
            ).one()
            records.append(_record(row))
        except _UNREADABLE:
            return records, int(seq)
    return records, None


def _record(row: Any) -> AuditRecord:
    return AuditRecord.model_validate(row._asdict())
