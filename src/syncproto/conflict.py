"""Conflicts as the cloud shows them: siblings that could not be merged."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from syncproto.change import ClockField
from syncproto.report import FieldName, ReportFields


class ConflictStatus(enum.StrEnum):
    """Whether a conflict still waits for a resolver."""

    OPEN = "open"
    RESOLVED = "resolved"


class ConflictSibling(BaseModel):
    """One concurrent version that takes part in a conflict."""

    change_id: uuid.UUID | None
    origin: str
    author: str
    authored_at: datetime
    clock: ClockField
    fields: ReportFields


class ConflictPublic(BaseModel):
    """A conflict: its siblings, the fields they disagree on, and its state."""

    conflict_id: uuid.UUID
    report_id: str
    status: ConflictStatus
    base_clock: ClockField | None = Field(
        description="Clock of the version the first concurrent change edited."
    )
    base: ReportFields | None = Field(
        description="That version's fields, or null when the cloud never saw it."
    )
    conflicting_fields: list[FieldName]
    siblings: list[ConflictSibling]
    opened_at: datetime
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    reason: str | None = None


class ConflictsPublic(BaseModel):
    """A page of conflicts."""

    conflicts: list[ConflictPublic]
    count: int
