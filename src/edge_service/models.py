"""
What the edge's HTTP API reads and answers, apart from the wire protocol.

Inputs validate with the protocol's own types (``syncproto``), so a report the
edge accepts is one the cloud accepts too (docs/protocol.md, "A change on the wire").
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from syncproto import (
    Classification,
    ClockField,
    Content,
    EdgeId,
    ReportFields,
    ReportId,
    Title,
)


class SyncState(enum.StrEnum):
    """Where a report stands with the cloud."""

    PENDING = "pending"
    SYNCED = "synced"
    CONFLICT = "conflict"
    REJECTED = "rejected"


class OutboxState(enum.StrEnum):
    """Where a change stands: waiting, answered with an outcome, or held."""

    PENDING = "pending"
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    MERGED = "merged"
    CONFLICT = "conflict"
    REJECTED = "rejected"
    HELD = "held"


class AuditFormat(enum.StrEnum):
    """The file an audit export is streamed as."""

    NDJSON = "ndjson"
    CSV = "csv"

    @property
    def media_type(self) -> str:
        """Return the Content-Type of an export in this format."""
        return "application/x-ndjson" if self is AuditFormat.NDJSON else "text/csv"


class ReportBase(BaseModel):
    """The fields an analyst writes."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    content: Content
    classification: Classification


class ReportCreate(ReportBase):
    """A new report; the client chooses its id."""

    report_id: ReportId


class ReportUpdate(BaseModel):
    """
    A partial edit; absent fields keep their value.

    ``base_clock``, when given, must be the report's current clock, so that an
    analyst never overwrites an edit they have not seen.
    """

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    content: Content | None = None
    classification: Classification | None = None
    base_clock: ClockField | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        # An edit that changes nothing would still tick the clock and travel.
        if self.title is None and self.content is None and self.classification is None:
            msg = "give at least one of title, content or classification"
            raise ValueError(msg)
        return self


class CloudVersion(BaseModel):
    """The newest version of a report the cloud has sent through the feed."""

    fields: ReportFields
    clock: ClockField


class ReportPublic(BaseModel):
    """A report as the edge holds it, with its clock and sync state."""

    report_id: str
    title: str
    content: str
    classification: Classification
    deleted: bool
    clock: ClockField
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    sync_state: SyncState
    cloud: CloudVersion | None = Field(
        default=None, description="The cloud's version, shown while in conflict."
    )


class ReportsPublic(BaseModel):
    """A page of reports ordered by id; pass ``next_after`` for the next one."""

    reports: list[ReportPublic]
    next_after: str | None


class OutboxEntryPublic(BaseModel):
    """One change in the outbox, without its content."""

    change_id: uuid.UUID
    report_id: str
    origin_seq: int
    state: OutboxState
    outcome: str | None
    reason: str | None
    attempts: int
    created_at: datetime
    answered_at: datetime | None


class OutboxPublic(BaseModel):
    """A page of the outbox in ``origin_seq`` order."""

    entries: list[OutboxEntryPublic]
    next_after: int | None


class ChangeReason(BaseModel):
    """Why a change was held or rejected."""

    change_id: uuid.UUID
    report_id: str
    origin_seq: int
    reason: str | None


class SyncStatus(BaseModel):
    """How far this edge is from the cloud, and how its sync loop is doing."""

    edge_id: EdgeId
    pending: int
    oldest_pending_age: float | None = Field(description="Seconds")
    held: int
    rejected: int
    recent_held: list[ChangeReason]
    recent_rejected: list[ChangeReason]
    in_conflict: int = Field(description="Reports awaiting the cloud's verdict")
    outbox: dict[OutboxState, int] = Field(
        description="Outbox rows by state: what this edge pushed and how it ended"
    )
    feed_cursor: int
    feed_head: int = Field(description="The feed head the cloud named at the last pull")
    lag: int = Field(description="Feed entries not applied here, as of the last pull")
    entries_pulled: int = Field(description="Feed entries applied here, in all")
    last_push_at: datetime | None
    last_pull_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    next_attempt_at: datetime | None
    loop_alive: bool


class Health(BaseModel):
    """Liveness of the sync loop."""

    loop_alive: bool
    last_success_at: datetime | None


class Readiness(BaseModel):
    """Whether the database answers and its schema is at the newest revision."""

    database: bool
    revision: str | None
    head: str | None
