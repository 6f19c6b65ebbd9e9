"""
The in-memory view of one batch: report states, bases and open conflicts.

A push loads what its changes touch in a few set-wise queries, decides every
change in order against this view (a batch may hold several changes of one
report), and writes what changed in bulk at the end.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncproto import (
    Change,
    Clock,
    Current,
    FieldName,
    ReportFields,
    Sibling,
    VersionKind,
    clamp_future,
    clock_key,
    conflicting_fields,
    provisional,
)


@dataclass(frozen=True)
class ReportState:
    """One version of a report as it is, or was, current at the cloud."""

    report_id: str
    fields: ReportFields
    clock: Clock
    clock_key: str
    kind: VersionKind
    change_id: uuid.UUID | None
    origin: str
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    conflict_id: uuid.UUID | None = None

    def as_current(self) -> Current:
        """Return the view ``syncproto.decide`` needs."""
        return Current(self.fields, self.clock, self.conflict_id is not None)

    def columns(self) -> dict[str, Any]:
        """Return the columns shared by the reports and feed tables."""
        return {
            "report_id": self.report_id,
            **fields_columns(self.fields),
            "clock": self.clock,
            "kind": self.kind.value,
            "change_id": self.change_id,
            "origin": self.origin,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_by": self.updated_by,
            "updated_at": self.updated_at,
            "conflict_id": self.conflict_id,
        }


@dataclass(frozen=True)
class SiblingRecord:
    """A conflict sibling with the change that wrote it, if the cloud has it."""

    change_id: uuid.UUID | None
    author: str
    sibling: Sibling

    @classmethod
    def of_change(cls, change: Change, now: datetime) -> SiblingRecord:
        """Return *change* as a sibling, its future wall clock clamped to *now*."""
        authored_at = clamp_future(change.authored_at, now)
        sibling = Sibling(change.fields, change.clock, change.origin, authored_at)
        return cls(change.change_id, change.author, sibling)

    @classmethod
    def of_report(cls, report: ReportState, now: datetime) -> SiblingRecord:
        """Return the current version of a report as a sibling."""
        authored_at = clamp_future(report.updated_at, now)
        sibling = Sibling(report.fields, report.clock, report.origin, authored_at)
        return cls(report.change_id, report.updated_by, sibling)


@dataclass
class ConflictState:
    """An open conflict, with the siblings it gained during this batch."""

    conflict_id: uuid.UUID
    report_id: str
    base_clock: Clock | None
    base: ReportFields | None
    siblings: list[SiblingRecord]
    conflicting: tuple[FieldName, ...]
    opened_at: datetime
    is_new: bool = False
    added: list[SiblingRecord] = field(default_factory=list)

    def join(self, record: SiblingRecord) -> None:
        """Add *record* as a sibling unless it already is one."""
        key = (record.change_id, clock_key(record.sibling.clock))
        if any((s.change_id, clock_key(s.sibling.clock)) == key for s in self.siblings):
            return
        self.siblings.append(record)
        self.added.append(record)
        sides = [s.sibling.fields for s in self.siblings]
        self.conflicting = conflicting_fields(self.base, sides)

    def provisional(self) -> tuple[ReportFields, Clock]:
        """Return the version every node shows while the conflict is open."""
        return provisional(self.base, [s.sibling for s in self.siblings])


@dataclass
class BatchView:
    """Everything one push reads and writes, keyed for lookups in memory."""

    now: datetime
    reports: dict[str, ReportState]
    bases: dict[tuple[str, str], ReportFields]
    conflicts: dict[uuid.UUID, ConflictState]
    versions: list[dict[str, Any]] = field(default_factory=list)
    feed: list[ReportState] = field(default_factory=list)


def fields_columns(fields: ReportFields) -> dict[str, Any]:
    """Return a report's fields as the columns that hold them."""
    return {
        "title": fields.title,
        "content": fields.content,
        "classification": fields.classification.value,
        "deleted": fields.deleted,
    }


def version_columns(row: Any) -> dict[str, Any]:
    """Return what a reports row and a feed row share, ready for the models."""
    return {
        "report_id": row.report_id,
        "clock": row.clock,
        "kind": VersionKind(row.kind),
        "change_id": row.change_id,
        "origin": row.origin,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "updated_by": row.updated_by,
        "updated_at": row.updated_at,
        "conflict_id": row.conflict_id,
    }


def fields_of(row: Any) -> ReportFields:
    """Return the report fields held in the columns of *row*."""
    return ReportFields(
        title=row.title,
        content=row.content,
        classification=row.classification,
        deleted=row.deleted,
    )
