"""
Resolving a conflict: one new version, after every sibling, that closes it.

A resolver keeps one sibling or gives field values (docs/protocol.md,
"Conflicts"). The resolved version's clock is the pointwise max of every
sibling and of the report's current version, with ``cloud`` ticked over it,
so every edge takes it over whatever it holds of the conflict, and a change
that arrives later is decided against it as usual.

The resolution is one write transaction that first takes the report's lock,
the one a push of the same report takes (``db.lock_reports``): a push and a
resolution of one report are decided one after the other, never
interleaved. The feed entry goes through ``feed.append`` last, as a push's do.

A resolver must send the conflict's ETag in ``If-Match``, so that nobody
resolves a conflict on the strength of siblings that are no longer all of them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_service import audit, conflicts, feed
from cloud_service.bulk import insert_rows, upsert_rows
from cloud_service.db import lock_reports
from cloud_service.errors import ConflictAlreadyResolved, ConflictChanged, NotASibling
from cloud_service.state import ReportState, fields_columns, fields_of
from cloud_service.tables import reports_table, versions_table
from syncproto import (
    CLOUD,
    Clock,
    ConflictPublic,
    ConflictResolution,
    ReportFields,
    ResolutionPublic,
    VersionKind,
    clock_key,
    merge_clocks,
    tick,
)
from syncproto.audit import AuditAction, AuditEvent, fields_digest
from syncproto.merge import highest_classification

log = structlog.get_logger()
_reports = reports_table
_versions = versions_table


def conflict_etag(conflict: ConflictPublic, report_clock: Clock) -> str:
    """
    Return the entity tag of *conflict*: its status, siblings and report clock.

    It changes when a sibling joins, when the conflict is resolved, and when a
    later change moves the report on, which is exactly when a resolver's view
    of it goes stale: keeping a sibling must not undo an edit they never saw.
    """
    siblings = sorted((str(s.change_id), clock_key(s.clock)) for s in conflict.siblings)
    state = [conflict.status.value, siblings, clock_key(report_clock)]
    text = json.dumps(state, separators=(",", ":"))

    return '"' + hashlib.sha256(text.encode()).hexdigest() + '"'


def etag_matches(if_match: str, etag: str) -> bool:
    """
    Say whether an ``If-Match`` header value names *etag* (RFC 9110, 13.1.1).

    ``*`` is not enough here: the point is that the caller read this conflict.
    """
    return etag in (tag.strip() for tag in if_match.split(","))


@dataclass(frozen=True)
class CurrentVersion:
    """What the resolution needs of the report's current version."""

    fields: ReportFields
    clock: Clock
    created_by: str
    created_at: datetime


async def resolve_conflict(
    session: AsyncSession,
    conflict_id: uuid.UUID,
    resolution: ConflictResolution,
    *,
    resolver: str,
    if_match: str,
    now: datetime,
) -> ConflictPublic:
    """
    Resolve conflict *conflict_id* as *resolver* decided; return it resolved.

    Raises ``ConflictNotFound``, ``ConflictAlreadyResolved``,
    ``ConflictChanged`` when *if_match* is not its ETag, or ``NotASibling``.
    """
    report_id = await conflicts.conflict_report_id(session, conflict_id)
    await lock_reports(session, [report_id])
    # Read again under the lock: a push may have added a sibling meanwhile.
    conflict = await conflicts.get_conflict(session, conflict_id)
    current = await _load_current(session, report_id)
    _check_precondition(conflict, current.clock, if_match)

    fields = _resolved_fields(conflict, resolution, current.fields)
    clock = tick(
        merge_clocks([*(s.clock for s in conflict.siblings), current.clock]), CLOUD
    )
    outcome = ResolutionPublic(
        change_id=uuid.uuid4(),
        kept_change_id=resolution.keep,
        resolved_by=resolver,
        resolved_at=now,
        reason=resolution.reason,
        clock=clock,
        fields=fields,
    )
    await _save(session, report_id, current, conflict_id, outcome)
    log.info(
        "conflict_resolved",
        conflict_id=str(conflict_id),
        report_id=report_id,
        resolver=resolver,
        kept_change_id=str(resolution.keep) if resolution.keep else None,
    )

    return await conflicts.get_conflict(session, conflict_id)


async def report_clock(session: AsyncSession, report_id: str) -> Clock:
    """Return the clock of the report's current version."""
    clock: Clock = (
        await session.execute(
            select(_reports.c.clock).where(_reports.c.report_id == report_id)
        )
    ).scalar_one()
    return clock


def _check_precondition(
    conflict: ConflictPublic, current_clock: Clock, if_match: str
) -> None:
    if conflict.resolution is not None:
        raise ConflictAlreadyResolved(conflict, conflict.resolution)
    etag = conflict_etag(conflict, current_clock)
    if not etag_matches(if_match, etag):
        raise ConflictChanged(conflict, etag)


def _resolved_fields(
    conflict: ConflictPublic, resolution: ConflictResolution, current: ReportFields
) -> ReportFields:
    if resolution.fields is not None:
        return resolution.fields.overlay(current)
    for sibling in conflict.siblings:
        if sibling.change_id == resolution.keep:
            return sibling.fields
    assert resolution.keep is not None
    raise NotASibling(
        resolution.keep, [s.change_id for s in conflict.siblings if s.change_id]
    )


async def _load_current(session: AsyncSession, report_id: str) -> CurrentVersion:
    row = (
        await session.execute(select(_reports).where(_reports.c.report_id == report_id))
    ).one()
    return CurrentVersion(fields_of(row), row.clock, row.created_by, row.created_at)


async def _save(
    session: AsyncSession,
    report_id: str,
    current: CurrentVersion,
    conflict_id: uuid.UUID,
    outcome: ResolutionPublic,
) -> None:
    """Write the history row, the conflict, the feed entry, the report, the audit."""
    state = ReportState(
        report_id=report_id,
        fields=outcome.fields,
        clock=outcome.clock,
        clock_key=clock_key(outcome.clock),
        kind=VersionKind.RESOLVED,
        change_id=outcome.change_id,
        origin=CLOUD,
        created_by=current.created_by,
        created_at=current.created_at,
        updated_by=outcome.resolved_by,
        updated_at=outcome.resolved_at,
        conflict_id=None,
    )
    await insert_rows(session, _versions, [_version_row(state)], skip_existing=False)
    await conflicts.mark_resolved(session, conflict_id, outcome)
    seqs = await feed.append(session, [state])
    row = {**state.columns(), "clock_key": state.clock_key, "feed_seq": seqs[report_id]}
    await upsert_rows(session, _reports, [row], "report_id")
    kept = outcome.kept_change_id
    event = AuditEvent(
        action=AuditAction.CONFLICT_RESOLVED,
        actor=outcome.resolved_by,
        report_id=report_id,
        change_id=outcome.change_id,
        conflict_id=conflict_id,
        outcome="kept" if kept else "edited",
        reason=outcome.reason,
        before_digest=fields_digest(current.fields),
        after_digest=fields_digest(outcome.fields),
        classification=highest_classification([current.fields, outcome.fields]).value,
        detail=None if kept is None else {"kept_change_id": str(kept)},
    )
    await audit.append(session, [event])


def _version_row(state: ReportState) -> dict[str, Any]:
    return {
        "report_id": state.report_id,
        "change_id": state.change_id,
        "trigger_change_id": None,
        "outcome": VersionKind.RESOLVED.value,
        "clock": state.clock,
        "clock_key": state.clock_key,
        **fields_columns(state.fields),
        "origin": state.origin,
        "author": state.updated_by,
        "authored_at": state.updated_at,
        "received_at": state.updated_at,
    }
