"""A change: one write by one analyst at one edge, as it travels."""

from __future__ import annotations

import enum
import uuid
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    model_validator,
)

from syncproto.clock import Clock, tick, validate_clock
from syncproto.report import AnalystId, EdgeId, ReportFields, ReportId
from syncproto.text import UtcDatetime

ClockField = Annotated[
    Clock,
    PlainValidator(validate_clock),
    Field(
        json_schema_extra={
            "type": "object",
            "additionalProperties": {"type": "integer"},
        }
    ),
]
# origin_seq stays within a signed 64-bit column on both databases.
OriginSeq = Annotated[int, Strict(), Field(ge=1, le=2**63 - 1)]


class ChangeOp(enum.StrEnum):
    """What a change does to its report."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class Change(BaseModel):
    """
    One write, with the report's full snapshot after it.

    ``clock`` is ``base_clock`` with the origin's counter ticked once; the
    validator refuses anything else, so a change always comes after its base.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    change_id: uuid.UUID
    report_id: ReportId
    op: ChangeOp
    fields: ReportFields
    base_clock: ClockField
    clock: ClockField
    origin: EdgeId
    origin_seq: OriginSeq
    author: AnalystId
    authored_at: UtcDatetime

    @model_validator(mode="after")
    def _check_shape(self) -> Self:
        if self.clock != tick(self.base_clock, self.origin):
            msg = "clock must be base_clock with the origin's counter plus one"
            raise ValueError(msg)
        if (self.op is ChangeOp.DELETE) != self.fields.deleted:
            msg = "fields.deleted must be true exactly when op is delete"
            raise ValueError(msg)
        if self.op is ChangeOp.CREATE and self.base_clock:
            msg = "a create has an empty base_clock"
            raise ValueError(msg)
        if self.op is not ChangeOp.CREATE and not self.base_clock:
            msg = f"an {self.op.value} needs the base_clock of the version it edits"
            raise ValueError(msg)
        return self
