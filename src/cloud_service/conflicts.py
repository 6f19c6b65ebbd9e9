"""
Conflicts: opening them, adding siblings, storing them and showing them.

A conflict's siblings are the concurrent versions that could not be merged.
Its ``base`` is the version the first concurrent change edited; every
sibling's fields are compared with it to find the conflicting fields, and
shown against it field by field. Resolving one is ``cloud_service.resolution``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from sqlalchemy import ColumnElement, bindparam, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_service.db import dialect_insert
from cloud_service.errors import ConflictNotFound
from cloud_service.state import (
    BatchView,
    ConflictState,
    ReportState,
    SiblingRecord,
)
from cloud_service.tables import (
    conflicts_table,
    reports_table,
    siblings_table,
    versions_table,
)
from syncproto import (
    FIELD_NAMES,
    Change,
    Classification,
    ConflictPublic,
    ConflictSibling,
    ConflictsPublic,
    ConflictStatus,
    ReportFields,
    ResolutionPublic,
    Sibling,
    VersionKind,
    changed_fields,
    clock_key,
    diff_siblings,
)

log = structlog.get_logger()
_conflicts = conflicts_table
_siblings = siblings_table
_versions = versions_table


def add_to_conflict(
    view: BatchView, change: Change, current: ReportState, base: ReportFields | None
) -> ConflictState:
    """Open a conflict between *current* and *change*, or add *change* to it."""
    if current.conflict_id is None:
        conflict = _open(view, change, current, base)
    else:
        conflict = view.conflicts[current.conflict_id]
        if current.kind is not VersionKind.PROVISIONAL:
            # A version applied over the provisional one is concurrent with
            # the newcomer too, and must not vanish from the visible state.
            conflict.join(SiblingRecord.of_report(current, view.now))
    conflict.join(SiblingRecord.of_change(change, view.now))

    return conflict


def _open(
    view: BatchView, change: Change, current: ReportState, base: ReportFields | None
) -> ConflictState:
    conflict = ConflictState(
        conflict_id=uuid.uuid4(),
        report_id=change.report_id,
        base_clock=change.base_clock,
        base=base,
        siblings=[],
        conflicting=(),
        opened_at=view.now,
        is_new=True,
    )
    conflict.join(SiblingRecord.of_report(current, view.now))
    view.conflicts[conflict.conflict_id] = conflict
    log.info(
        "conflict_opened",
        conflict_id=str(conflict.conflict_id),
        report_id=change.report_id,
        change_id=str(change.change_id),
    )

    return conflict


async def load_open_conflicts(
    session: AsyncSession, conflict_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ConflictState]:
    """Return the conflicts *conflict_ids* with their siblings, in two queries."""
    ids = list(set(conflict_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(_conflicts).where(_conflicts.c.conflict_id.in_(ids))
    )
    siblings = await _load_siblings(session, ids)
    return {
        row.conflict_id: ConflictState(
            conflict_id=row.conflict_id,
            report_id=row.report_id,
            base_clock=row.base_clock,
            base=None if row.base is None else ReportFields.model_validate(row.base),
            siblings=siblings.get(row.conflict_id, []),
            conflicting=tuple(row.conflicting_fields),
            opened_at=row.opened_at,
        )
        for row in rows
    }


async def _load_siblings(
    session: AsyncSession, conflict_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[SiblingRecord]]:
    rows = await session.execute(
        select(_siblings)
        .where(_siblings.c.conflict_id.in_(conflict_ids))
        .order_by(_siblings.c.id)
    )
    found: dict[uuid.UUID, list[SiblingRecord]] = {}
    for row in rows:
        fields = ReportFields.model_validate(row.fields)
        sibling = Sibling(fields, row.clock, row.origin, row.authored_at)
        record = SiblingRecord(row.change_id, row.author, sibling)
        found.setdefault(row.conflict_id, []).append(record)
    return found


async def save_conflicts(session: AsyncSession, view: BatchView) -> None:
    """Write the conflicts this batch opened or added siblings to."""
    touched = [c for c in view.conflicts.values() if c.added]
    new = [_conflict_row(c) for c in touched if c.is_new]
    if new:
        await session.execute(_conflicts.insert(), new)
    grown = [
        {"cid": c.conflict_id, "fields": list(c.conflicting)}
        for c in touched
        if not c.is_new
    ]
    if grown:
        await session.execute(_GROW, grown)
    siblings = [_sibling_row(c, s) for c in touched for s in c.added]
    if siblings:
        insert = dialect_insert(session, _siblings).on_conflict_do_nothing()
        await session.execute(insert, siblings)


_GROW = (
    update(_conflicts)
    .where(_conflicts.c.conflict_id == bindparam("cid"))
    .values(conflicting_fields=bindparam("fields"))
)


def _conflict_row(conflict: ConflictState) -> dict[str, Any]:
    return {
        "conflict_id": conflict.conflict_id,
        "report_id": conflict.report_id,
        "status": ConflictStatus.OPEN.value,
        "base_clock": conflict.base_clock,
        "base": None
        if conflict.base is None
        else conflict.base.model_dump(mode="json"),
        "conflicting_fields": list(conflict.conflicting),
        "opened_at": conflict.opened_at,
    }


def _sibling_row(conflict: ConflictState, record: SiblingRecord) -> dict[str, Any]:
    s = record.sibling
    return {
        "conflict_id": conflict.conflict_id,
        "change_id": record.change_id,
        "origin": s.origin,
        "author": record.author,
        "authored_at": s.authored_at,
        "clock": s.clock,
        "fields": s.fields.model_dump(mode="json"),
    }


async def conflict_report_id(session: AsyncSession, conflict_id: uuid.UUID) -> str:
    """Return the report of conflict *conflict_id*, or raise ``ConflictNotFound``."""
    report_id: str | None = await session.scalar(
        select(_conflicts.c.report_id).where(_conflicts.c.conflict_id == conflict_id)
    )
    if report_id is None:
        raise ConflictNotFound(conflict_id)
    return report_id


async def get_conflict(session: AsyncSession, conflict_id: uuid.UUID) -> ConflictPublic:
    """Return one conflict, or raise ``ConflictNotFound``."""
    row = (
        await session.execute(
            select(_conflicts).where(_conflicts.c.conflict_id == conflict_id)
        )
    ).first()
    if row is None:
        raise ConflictNotFound(conflict_id)
    (conflict,) = await _publics(session, [row])
    return conflict


async def list_conflicts(
    session: AsyncSession,
    *,
    status: ConflictStatus | None,
    report_id: str | None,
    edge_id: str | None,
    limit: int,
    offset: int,
    visible: frozenset[Classification] | None = None,
) -> ConflictsPublic:
    """
    Return a page of conflicts, oldest first, and how many match in all.

    With *visible*, only conflicts on reports of those classifications.
    """
    where: list[ColumnElement[bool]] = []
    if visible is not None:
        reports = reports_table.c
        readable = select(reports.report_id).where(
            reports.classification.in_(sorted(visible))
        )
        where.append(_conflicts.c.report_id.in_(readable))
    if status is not None:
        where.append(_conflicts.c.status == status.value)
    if report_id is not None:
        where.append(_conflicts.c.report_id == report_id)
    if edge_id is not None:
        from_edge = select(_siblings.c.conflict_id).where(_siblings.c.origin == edge_id)
        where.append(_conflicts.c.conflict_id.in_(from_edge))
    count = await session.scalar(
        select(func.count()).select_from(_conflicts).where(*where)
    )
    rows = (
        await session.execute(
            select(_conflicts)
            .where(*where)
            .order_by(_conflicts.c.opened_at, _conflicts.c.conflict_id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return ConflictsPublic(conflicts=await _publics(session, rows), count=count or 0)


async def mark_resolved(
    session: AsyncSession, conflict_id: uuid.UUID, resolution: ResolutionPublic
) -> None:
    """Close conflict *conflict_id* with *resolution*."""
    await session.execute(
        update(_conflicts)
        .where(_conflicts.c.conflict_id == conflict_id)
        .values(
            status=ConflictStatus.RESOLVED.value,
            resolved_by=resolution.resolved_by,
            resolved_at=resolution.resolved_at,
            reason=resolution.reason,
            resolution_change_id=resolution.change_id,
            resolution_clock=resolution.clock,
            resolution_fields=resolution.fields.model_dump(mode="json"),
            kept_change_id=resolution.kept_change_id,
        )
    )


async def _publics(session: AsyncSession, rows: Sequence[Any]) -> list[ConflictPublic]:
    siblings = await _load_siblings(session, [r.conflict_id for r in rows])
    producers = await _producing_changes(session, rows, siblings)
    return [_public(r, siblings.get(r.conflict_id, []), producers) for r in rows]


async def _producing_changes(
    session: AsyncSession,
    rows: Sequence[Any],
    siblings: dict[uuid.UUID, list[SiblingRecord]],
) -> dict[tuple[str, str], uuid.UUID]:
    """
    Return the change that produced each sibling the cloud made itself.

    A merged version becomes a sibling without a change id of its own; the
    change that triggered it names it for a resolver (``keep``). The result
    is keyed by report id and the sibling's ``clock_key``.
    """
    report_of = {row.conflict_id: row.report_id for row in rows}
    wanted = {
        (report_of[conflict_id], clock_key(record.sibling.clock))
        for conflict_id, records in siblings.items()
        for record in records
        if record.change_id is None
    }
    if not wanted:
        return {}
    columns = (_versions.c.report_id, _versions.c.clock_key)
    found = await session.execute(
        select(*columns, _versions.c.trigger_change_id)
        .where(
            tuple_(*columns).in_(list(wanted)),
            _versions.c.trigger_change_id.is_not(None),
        )
        # Newest first, so the oldest version of a clock is the one kept.
        .order_by(_versions.c.id.desc())
    )
    return {(row.report_id, row.clock_key): row.trigger_change_id for row in found}


def _public(
    row: Any,
    records: list[SiblingRecord],
    producers: dict[tuple[str, str], uuid.UUID],
) -> ConflictPublic:
    base = None if row.base is None else ReportFields.model_validate(row.base)
    siblings = [
        _sibling(
            record,
            base,
            producers.get((row.report_id, clock_key(record.sibling.clock))),
        )
        for record in records
    ]
    return ConflictPublic(
        conflict_id=row.conflict_id,
        report_id=row.report_id,
        status=ConflictStatus(row.status),
        base_clock=row.base_clock,
        base=base,
        conflicting_fields=row.conflicting_fields,
        siblings=siblings,
        diff=diff_siblings(base, siblings, row.conflicting_fields),
        opened_at=row.opened_at,
        resolution=_resolution(row),
    )


def _sibling(
    record: SiblingRecord, base: ReportFields | None, producer: uuid.UUID | None
) -> ConflictSibling:
    s = record.sibling
    changed = changed_fields(base, s.fields)
    return ConflictSibling(
        change_id=record.change_id or producer,
        origin=s.origin,
        author=record.author,
        authored_at=s.authored_at,
        clock=s.clock,
        fields=s.fields,
        changed_fields=[name for name in FIELD_NAMES if name in changed],
    )


def _resolution(row: Any) -> ResolutionPublic | None:
    if row.resolution_change_id is None:
        return None
    return ResolutionPublic(
        change_id=row.resolution_change_id,
        kept_change_id=row.kept_change_id,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
        reason=row.reason,
        clock=row.resolution_clock,
        fields=ReportFields.model_validate(row.resolution_fields),
    )
