"""The change feed: every new current version, in one strictly rising order."""

from __future__ import annotations

import enum
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from syncproto.change import ClockField
from syncproto.report import AnalystId, ReportFields, ReportId
from syncproto.text import UtcDatetime

MAX_FEED_LIMIT = 1000
FeedSeq = Annotated[int, Field(ge=0, le=2**63 - 1)]


class VersionKind(enum.StrEnum):
    """How a version became current at the cloud."""

    APPLIED = "applied"
    MERGED = "merged"
    PROVISIONAL = "provisional"
    RESOLVED = "resolved"


class FeedEntry(BaseModel):
    """One current version of one report, as every edge must end up holding it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: FeedSeq
    report_id: ReportId
    kind: VersionKind
    fields: ReportFields
    clock: ClockField
    change_id: uuid.UUID | None = None
    origin: str
    created_by: AnalystId
    created_at: UtcDatetime
    updated_by: AnalystId
    updated_at: UtcDatetime
    conflict_id: uuid.UUID | None = Field(
        default=None, description="Set while the report has an open conflict."
    )


class FeedPage(BaseModel):
    """Entries after a cursor; ``next_after`` is the cursor for the next page."""

    model_config = ConfigDict(extra="forbid")

    entries: list[FeedEntry]
    next_after: FeedSeq
    head: FeedSeq
    has_more: bool
