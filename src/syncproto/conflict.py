"""Conflicts as the cloud shows them, and the resolver's answer to one."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from syncproto.change import ClockField
from syncproto.report import (
    Classification,
    FieldName,
    ReportFields,
    Title,
)
from syncproto.text import Content, SafeText

MAX_REASON_CHARS = 1000
Reason = Annotated[SafeText, Field(min_length=1, max_length=MAX_REASON_CHARS)]
FieldValue = str | bool


class ConflictStatus(enum.StrEnum):
    """Whether a conflict still waits for a resolver."""

    OPEN = "open"
    RESOLVED = "resolved"


class ConflictSibling(BaseModel):
    """One concurrent version that takes part in a conflict."""

    change_id: uuid.UUID | None = Field(
        description="The change to name in `keep`. For a version the cloud "
        "made (merged, resolved) it is the change that produced it."
    )
    origin: str
    author: str
    authored_at: datetime
    clock: ClockField
    fields: ReportFields
    changed_fields: list[FieldName] = Field(
        description="The fields this sibling changed against the base; every "
        "field when the base is unknown."
    )


class SiblingValue(BaseModel):
    """One sibling's value of one field."""

    change_id: uuid.UUID | None
    value: FieldValue
    changed: bool = Field(description="Whether the sibling changed the field.")


class FieldDiff(BaseModel):
    """A conflicting field: its value in the base and in every sibling."""

    field: FieldName
    base: FieldValue | None = Field(description="Null when the base is unknown.")
    values: list[SiblingValue]


class ResolutionPublic(BaseModel):
    """How a conflict was resolved, by whom and why."""

    change_id: uuid.UUID = Field(description="The id of the resolved version.")
    kept_change_id: uuid.UUID | None = Field(
        description="The sibling kept, or null when field values were given."
    )
    resolved_by: str
    resolved_at: datetime
    reason: str
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
    diff: list[FieldDiff] = Field(
        description="Each conflicting field with the base's and every sibling's value."
    )
    opened_at: datetime
    resolution: ResolutionPublic | None = None


class ConflictsPublic(BaseModel):
    """A page of conflicts."""

    conflicts: list[ConflictPublic]
    count: int


class ResolutionFields(BaseModel):
    """Field values a resolver gives; an absent field keeps the current value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Title | None = None
    content: Content | None = None
    classification: Classification | None = None
    deleted: StrictBool | None = None

    def overlay(self, current: ReportFields) -> ReportFields:
        """Return *current* with every field given here replaced."""
        given = self.model_dump(exclude_none=True)
        return ReportFields.model_validate(current.model_dump() | given)


class ConflictResolution(BaseModel):
    """
    A resolver's decision: keep one sibling, or give field values.

    Exactly one of ``keep`` and ``fields`` is set; ``reason`` is kept with the
    resolution for the audit.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    keep: uuid.UUID | None = Field(
        default=None, description="The `change_id` of the sibling to keep."
    )
    fields: ResolutionFields | None = Field(
        default=None,
        description="Field values; absent ones come from the report's current "
        "(provisional) version.",
    )
    reason: Reason

    @model_validator(mode="after")
    def _check_one_form(self) -> Self:
        if (self.keep is None) == (self.fields is None):
            msg = "give exactly one of keep and fields"
            raise ValueError(msg)
        return self


def diff_siblings(
    base: ReportFields | None,
    siblings: Sequence[ConflictSibling],
    conflicting: Sequence[FieldName],
) -> list[FieldDiff]:
    """Return each of the *conflicting* fields with its base and sibling values."""
    base_values = None if base is None else base.model_dump(mode="json")
    sibling_values = [s.fields.model_dump(mode="json") for s in siblings]
    return [
        FieldDiff(
            field=name,
            base=None if base_values is None else base_values[name],
            values=[
                SiblingValue(
                    change_id=sibling.change_id,
                    value=values[name],
                    changed=name in sibling.changed_fields,
                )
                for sibling, values in zip(siblings, sibling_values, strict=True)
            ],
        )
        for name in conflicting
    ]
