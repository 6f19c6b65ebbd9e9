"""The inbox exchange: a batch of changes in, one outcome per change out."""

from __future__ import annotations

import enum
import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from syncproto.change import ClockField
from syncproto.report import EdgeId

MAX_BATCH_CHANGES = 500
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024


class Outcome(enum.StrEnum):
    """What the cloud did with one change (docs/protocol.md, "Push")."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    MERGED = "merged"
    CONFLICT = "conflict"
    REJECTED = "rejected"


class PushBatch(BaseModel):
    """
    A batch of changes from one edge, oldest first.

    Each item is validated on its own as a ``Change``: one malformed change is
    answered ``rejected`` without failing the rest of the batch.
    """

    model_config = ConfigDict(extra="forbid")

    edge_id: EdgeId
    changes: Annotated[
        list[dict[str, Any]],
        Field(min_length=1, max_length=MAX_BATCH_CHANGES),
    ]


class ChangeResult(BaseModel):
    """The cloud's answer for one change of a batch."""

    change_id: str
    outcome: Outcome
    reason: str | None = None
    conflict_id: uuid.UUID | None = None
    clock: ClockField | None = Field(
        default=None, description="The report's current clock after this change."
    )


class PushResult(BaseModel):
    """The answer to a batch: one result per change, in the batch's order."""

    results: list[ChangeResult]
    acked_seq: int = Field(
        description="Highest origin_seq below which the cloud holds every change "
        "of this edge; a gap above it means a change never arrived."
    )
    feed_head: int


class SyncInfo(BaseModel):
    """Limits the cloud advertises so that edges never send what it refuses."""

    max_batch_changes: int
    max_body_bytes: int
    feed_head: int
