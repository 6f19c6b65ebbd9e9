"""The report: the document analysts write, and the fields a change carries."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
)

from syncproto.text import MAX_TITLE_CHARS, Content, SafeText

ReportId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]


def _not_reserved(value: str) -> str:
    if value == "cloud":
        msg = "'cloud' is reserved for resolutions and cannot name an edge"
        raise ValueError(msg)
    return value


EdgeId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9-]{1,64}$"),
    AfterValidator(_not_reserved),
]
Title = Annotated[SafeText, Field(min_length=1, max_length=MAX_TITLE_CHARS)]
AnalystId = Annotated[SafeText, Field(min_length=1, max_length=128)]

FieldName = Literal["title", "content", "classification", "deleted"]
FIELD_NAMES: tuple[FieldName, ...] = ("title", "content", "classification", "deleted")


class Classification(enum.StrEnum):
    """Marking of a report, in increasing order of sensitivity."""

    CUI = "CUI"
    IL4 = "IL4"
    IL5 = "IL5"

    @property
    def rank(self) -> int:
        """Return the position in CUI < IL4 < IL5."""
        return _RANKS[self]


_RANKS = {Classification.CUI: 0, Classification.IL4: 1, Classification.IL5: 2}


class ReportFields(BaseModel):
    """
    The fields of a report that analysts edit and changes carry in full.

    These are the only fields the three-way merge looks at.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Title
    content: Content
    classification: Classification
    deleted: StrictBool = False
