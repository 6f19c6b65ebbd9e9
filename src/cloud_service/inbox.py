"""
The inbox: a batch of changes in, one outcome per change out.

A batch is one transaction and is handled set-wise, never with a round trip
per change: lock the reports, load the inbox entries, the current reports,
the base versions and the open conflicts of the whole batch in a few queries,
decide every change in order in memory, then write in bulk.

Correctness under concurrency comes from the database, never from this
process's memory, because several cloud processes share one PostgreSQL:
per-report advisory locks (``db.lock_reports``) serialise batches touching
the same report, so a change sent in two concurrent requests is seen by the
second as a duplicate; inbox rows go in with ``ON CONFLICT DO NOTHING`` as a
last guard. Feed seqs are taken last (see ``cloud_service.feed``).
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_service import audit, conflicts, feed
from cloud_service.bulk import insert_rows, one_of, upsert_rows
from cloud_service.db import lock_reports
from cloud_service.edges import PushCounts, record_push
from cloud_service.state import BatchView, ReportState, fields_of, version_columns
from cloud_service.tables import inbox_table, reports_table, versions_table
from cloud_service.versions import apply_change
from syncproto import (
    Change,
    ChangeResult,
    Classification,
    Clock,
    Outcome,
    PushBatch,
    PushResult,
    ReportFields,
    clock_key,
)
from syncproto.audit import AuditAction, AuditEvent, fields_digest
from syncproto.merge import highest_classification

log = structlog.get_logger()
_inbox = inbox_table
_reports = reports_table
_versions = versions_table
_REPORT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_MAX_SEQ = 2**63 - 1
_MAX_REASON = 1000


@dataclass(frozen=True)
class Item:
    """One raw change of a batch, parsed as far as it goes."""

    change_id: str
    key: uuid.UUID | None
    change: Change | None
    reason: str | None
    remember: bool
    origin_seq: int | None
    report_id: str | None
    # The clock_key of the change's base_clock, worked out once; empty when
    # there is no valid change.
    base_key: str = ""


@dataclass(frozen=True)
class First:
    """The first outcome of a change id, returned again for its duplicates."""

    outcome: str
    reason: str | None
    conflict_id: uuid.UUID | None


async def push(
    session: AsyncSession,
    batch: PushBatch,
    now: datetime,
    clearance: Classification | None = None,
) -> PushResult:
    """
    Decide and store every change of *batch*; answer in batch order.

    With a *clearance* (the authenticated edge's), a change classified above
    it is rejected.
    """
    items = [parse_item(raw, batch.edge_id, clearance) for raw in batch.changes]
    changes = [item.change for item in items if item.change is not None]
    await lock_reports(session, [c.report_id for c in changes] + [batch.edge_id])
    keys = [item.key for item in items if item.key is not None]
    seqs = [item.origin_seq for item in items if item.origin_seq is not None]
    run = _Run(
        edge_id=batch.edge_id,
        view=await _load_view(session, items, now),
        seen=await _load_seen(session, keys),
        taken=await _load_taken(session, batch.edge_id, seqs),
        clearance=clearance,
    )
    results = [run.handle(item) for item in items]

    acked = await _save(session, batch.edge_id, run, results)
    head = await feed.feed_head(session)
    log.info(
        "push_received",
        edge_id=batch.edge_id,
        batch_size=len(items),
        outcomes=dict(Counter(r.outcome.value for r in results)),
        acked_seq=acked,
        feed_head=head,
    )
    for item, result in zip(items, results, strict=True):
        log.debug(
            "change_decided",
            edge_id=batch.edge_id,
            change_id=result.change_id,
            report_id=item.report_id,
            outcome=result.outcome.value,
        )

    return PushResult(results=results, acked_seq=acked, feed_head=head)


class _Run:
    """The in-memory pass over one batch, in order."""

    def __init__(
        self,
        edge_id: str,
        view: BatchView,
        seen: dict[uuid.UUID, First],
        taken: dict[int, uuid.UUID],
        clearance: Classification | None = None,
    ) -> None:
        self.edge_id = edge_id
        self.clearance = clearance
        self.view = view
        self.seen = seen
        self.taken = taken
        self.inbox: list[dict[str, Any]] = []
        self.audit: list[AuditEvent] = []
        self._announced: set[uuid.UUID] = set()
        self.max_seq = 0

    def handle(self, item: Item) -> ChangeResult:
        """Return the result for *item*, recording it for the inbox."""
        first = self.seen.get(item.key) if item.remember and item.key else None
        if first is not None:
            # A duplicate was received before and recorded then: no record.
            return _duplicate(item.change_id, first)
        report_id = item.change.report_id if item.change else item.report_id
        before = self.view.reports.get(report_id) if report_id else None
        result = self._decide(item)
        if item.remember and item.key is not None:
            self._remember(item, item.key, result)
        self._record(item, result, before)
        return result

    def _record(
        self, item: Item, result: ChangeResult, before: ReportState | None
    ) -> None:
        """Add the audit records of one received change."""
        change = item.change
        report_id = change.report_id if change else item.report_id
        after = self.view.reports.get(report_id) if report_id else None
        old = before.fields if before else None
        new = after.fields if after else None
        # Every value is valid already (a change of a validated batch), and
        # validating hundreds of events again would cost more than the push.
        event = AuditEvent.model_construct(
            action=AuditAction.CHANGE_RECEIVED,
            actor=change.author if change else self.edge_id,
            edge_id=self.edge_id,
            report_id=report_id,
            change_id=item.key,
            conflict_id=result.conflict_id,
            outcome=result.outcome.value,
            reason=result.reason,
            before_digest=fields_digest(old),
            after_digest=fields_digest(new),
            classification=_highest(old, new, change.fields if change else None),
            detail=None if item.origin_seq is None else {"origin_seq": item.origin_seq},
        )
        self.audit.append(event)
        if result.outcome is Outcome.CONFLICT and result.conflict_id is not None:
            self.audit.append(self._conflict_event(event, result.conflict_id))

    def _conflict_event(
        self, received: AuditEvent, conflict_id: uuid.UUID
    ) -> AuditEvent:
        conflict = self.view.conflicts[conflict_id]
        opened = conflict.is_new and conflict_id not in self._announced
        self._announced.add(conflict_id)
        action = AuditAction.CONFLICT_OPENED if opened else AuditAction.CONFLICT_JOINED
        return received.model_copy(
            update={
                "action": action,
                "outcome": None,
                "reason": None,
                "detail": {"fields": list(conflict.conflicting)},
            }
        )

    def _decide(self, item: Item) -> ChangeResult:
        if item.change is None:
            return _rejected(item.change_id, item.reason or "invalid change")
        owner = self.taken.get(item.change.origin_seq)
        if owner is not None and owner != item.key:
            reason = f"origin_seq {item.change.origin_seq} belongs to change {owner}"
            return _rejected(item.change_id, reason)
        current = self.view.reports.get(item.change.report_id)
        if self._above_clearance(current):
            # Checked against the report as it stands, not only the change's
            # own marking: an edge must not reclassify what it cannot read.
            reason = "the report is classified above the edge's clearance"
            return _rejected(item.change_id, reason)
        applied = apply_change(self.view, item.change, item.base_key)
        return _result(
            change_id=item.change_id,
            outcome=applied.outcome,
            conflict_id=applied.conflict_id,
            clock=applied.clock,
        )

    def _above_clearance(self, current: ReportState | None) -> bool:
        if self.clearance is None or current is None:
            return False
        return current.fields.classification.rank > self.clearance.rank

    def _remember(self, item: Item, key: uuid.UUID, result: ChangeResult) -> None:
        first = First(result.outcome.value, result.reason, result.conflict_id)
        self.seen[key] = first
        if item.origin_seq is not None:
            self.taken.setdefault(item.origin_seq, key)
            self.max_seq = max(self.max_seq, item.origin_seq)
        self.inbox.append(
            {
                "change_id": key,
                "origin": self.edge_id,
                "origin_seq": item.origin_seq,
                "report_id": item.report_id,
                "outcome": first.outcome,
                "reason": first.reason,
                "conflict_id": first.conflict_id,
                "received_at": self.view.now,
            }
        )


def _highest(*sides: ReportFields | None) -> str | None:
    """Return the highest marking of the versions a record is about, if any."""
    known = [side for side in sides if side is not None]
    return highest_classification(known).value if known else None


def _duplicate(change_id: str, first: First) -> ChangeResult:
    reason = f"first outcome: {first.outcome}"
    if first.reason:
        reason += f" ({first.reason})"
    return _result(
        change_id=change_id,
        outcome=Outcome.DUPLICATE,
        reason=reason,
        conflict_id=first.conflict_id,
    )


def _rejected(change_id: str, reason: str) -> ChangeResult:
    return _result(change_id=change_id, outcome=Outcome.REJECTED, reason=reason)


def _result(
    *,
    change_id: str,
    outcome: Outcome,
    reason: str | None = None,
    conflict_id: uuid.UUID | None = None,
    clock: Clock | None = None,
) -> ChangeResult:
    # Every value here is already valid (clocks come from validated changes),
    # and validating 500 results again would cost more than deciding them.
    return ChangeResult.model_construct(
        change_id=change_id,
        outcome=outcome,
        reason=reason,
        conflict_id=conflict_id,
        clock=clock,
    )


def parse_item(
    raw: dict[str, Any], edge_id: str, clearance: Classification | None = None
) -> Item:
    """Validate one raw change of a batch sent by *edge_id*."""
    echo = _clean(str(raw.get("change_id", "")))[:64]
    key = _uuid(raw.get("change_id"))
    seq = _int(raw.get("origin_seq"))
    report_id = _report_id(raw.get("report_id"))
    if raw.get("origin") != edge_id:
        # Not remembered: no edge may block ids that another edge will send.
        reason = f"origin {_clean(str(raw.get('origin')))[:80]!r} is not the sender"
        return Item(echo, key, None, reason, False, None, None)
    try:
        change = Change.model_validate(raw)
    except ValidationError as exc:
        return Item(echo, key, None, _summary(exc), key is not None, seq, report_id)
    marking = change.fields.classification
    if clearance is not None and marking.rank > clearance.rank:
        reason = f"classification {marking} is above the edge's clearance {clearance}"
        return Item(echo, key, None, reason, True, seq, report_id)
    base_key = clock_key(change.base_clock)
    return Item(echo, key, change, None, True, seq, report_id, base_key)


def _summary(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "change"
        parts.append(f"{where}: {error['msg']}")
    more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return _clean("; ".join(parts) + more)[:_MAX_REASON]


def _clean(text: str) -> str:
    """Make *text* storable and encodable: no NUL, no lone surrogate."""
    return text.replace("\x00", "\\0").encode("utf-8", "replace").decode("utf-8")


def _uuid(value: object) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _int(value: object) -> int | None:
    if type(value) is int and 1 <= value <= _MAX_SEQ:
        return value
    return None


def _report_id(value: object) -> str | None:
    if isinstance(value, str) and _REPORT_ID.fullmatch(value):
        return value
    return None


async def _load_seen(
    session: AsyncSession, keys: Sequence[uuid.UUID]
) -> dict[uuid.UUID, First]:
    if not keys:
        return {}
    rows = await session.execute(
        select(
            _inbox.c.change_id, _inbox.c.outcome, _inbox.c.reason, _inbox.c.conflict_id
        ).where(one_of(session, _inbox.c.change_id, set(keys)))
    )
    return {
        row.change_id: First(row.outcome, row.reason, row.conflict_id) for row in rows
    }


async def _load_taken(
    session: AsyncSession, edge_id: str, seqs: Sequence[int]
) -> dict[int, uuid.UUID]:
    """Return who holds each of *seqs*, and maybe a few other seqs of the edge."""
    if not seqs:
        return {}
    low, high = min(seqs), max(seqs)
    origin_seq = _inbox.c.origin_seq
    # A batch's seqs are usually one contiguous run: a range scan is cheaper
    # than an IN list with a parameter per seq, and while the seqs are dense
    # it reads at most twice as many rows.
    dense = high - low < 2 * len(seqs)
    rows = await session.execute(
        select(origin_seq, _inbox.c.change_id).where(
            _inbox.c.origin == edge_id,
            origin_seq.between(low, high)
            if dense
            else one_of(session, origin_seq, set(seqs)),
        )
    )
    return {row.origin_seq: row.change_id for row in rows}


async def _load_view(
    session: AsyncSession, items: Sequence[Item], now: datetime
) -> BatchView:
    # A rejected change's report is loaded too: its audit record takes the
    # report's marking, so that auditors below it do not learn of it.
    named = (item.change.report_id if item.change else item.report_id for item in items)
    report_ids = {report_id for report_id in named if report_id is not None}
    reports = await _load_reports(session, report_ids)
    open_ids = (r.conflict_id for r in reports.values() if r.conflict_id)
    return BatchView(
        now=now,
        reports=reports,
        bases=await _load_bases(session, items),
        conflicts=await conflicts.load_open_conflicts(session, open_ids),
    )


async def _load_reports(
    session: AsyncSession, report_ids: set[str]
) -> dict[str, ReportState]:
    if not report_ids:
        return {}
    rows = await session.execute(
        select(_reports).where(one_of(session, _reports.c.report_id, report_ids))
    )
    return {row.report_id: _report_state(row) for row in rows}


def _report_state(row: Any) -> ReportState:
    return ReportState(
        **version_columns(row), fields=fields_of(row), clock_key=row.clock_key
    )


async def _load_bases(
    session: AsyncSession, items: Sequence[Item]
) -> dict[tuple[str, str], ReportFields]:
    pairs = {
        (item.change.report_id, item.base_key)
        for item in items
        if item.change and item.change.base_clock
    }
    if not pairs:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        # A row-value IN with a thousand parameters plans badly on PostgreSQL.
        report_ids, keys = zip(*pairs, strict=True)
        params = {"report_ids": list(report_ids), "clock_keys": list(keys)}
        rows = await session.execute(_BASES, params)
    else:
        columns = (_versions.c.report_id, _versions.c.clock_key)
        rows = await session.execute(
            select(*columns, *_FIELDS).where(tuple_(*columns).in_(list(pairs)))
        )
    return {(row.report_id, row.clock_key): fields_of(row) for row in rows}


_FIELDS = (
    _versions.c.title,
    _versions.c.content,
    _versions.c.classification,
    _versions.c.deleted,
)
# One index probe per wanted pair. OFFSET 0 keeps the planner from flattening
# the LATERAL subquery into a plain join, which it would run as a scan and
# sort of the whole versions table while that table is young.
_BASES = text(
    "SELECT wanted.report_id, wanted.clock_key,"
    " found.title, found.content, found.classification, found.deleted"
    " FROM unnest(CAST(:report_ids AS text[]), CAST(:clock_keys AS text[]))"
    " AS wanted (report_id, clock_key)"
    " CROSS JOIN LATERAL (SELECT title, content, classification, deleted"
    " FROM versions WHERE versions.report_id = wanted.report_id"
    " AND versions.clock_key = wanted.clock_key OFFSET 0) AS found"
)


async def _save(
    session: AsyncSession, edge_id: str, run: _Run, results: list[ChangeResult]
) -> int:
    """Write the batch; the feed goes last, just before commit."""
    view = run.view
    await insert_rows(session, _inbox, run.inbox, skip_existing=True)
    # A change resent after its inbox entry was purged already has its
    # history row; it must not get a second one.
    await insert_rows(session, _versions, view.versions, skip_existing=True)
    await conflicts.save_conflicts(session, view)
    counts = PushCounts(
        received=sum(r.outcome is not Outcome.DUPLICATE for r in results),
        rejected=sum(r.outcome is Outcome.REJECTED for r in results),
        max_seq=run.max_seq,
    )
    acked = await record_push(session, edge_id, counts, view.now)
    seqs = await feed.append(session, view.feed)
    await _save_reports(session, view, seqs)
    await audit.append(session, run.audit)

    return acked


async def _save_reports(
    session: AsyncSession, view: BatchView, seqs: dict[str, int]
) -> None:
    rows = [
        {
            **view.reports[report_id].columns(),
            "clock_key": view.reports[report_id].clock_key,
            "feed_seq": seq,
        }
        for report_id, seq in seqs.items()
    ]
    await upsert_rows(session, _reports, rows, "report_id")
