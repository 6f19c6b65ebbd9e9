"""
Field-wise three-way merge of concurrent versions of one report.

Each side is compared with the base, the version both started from. A field
changed on one side only takes that side's value; changed on several sides to
one value is fine; changed to different values is a conflicting field. Without
a base every field that differs between the sides is conflicting. Deleting a
report while another side edits it is always a conflict (docs/protocol.md).

A merged or provisional version is classified at least as high as every side
it is made of: its fields may come from any of them, and each side's fields
were written under that side's marking (the classification high-water mark).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from syncproto.clock import Clock, merge_clocks
from syncproto.report import FIELD_NAMES, Classification, FieldName, ReportFields


@dataclass(frozen=True)
class Sibling:
    """One side of a concurrent edit: a snapshot and who wrote it when."""

    fields: ReportFields
    clock: Clock
    origin: str
    authored_at: datetime


def changed_fields(base: ReportFields | None, side: ReportFields) -> set[FieldName]:
    """Return the fields *side* changed against *base* (all, without a base)."""
    if base is None:
        return set(FIELD_NAMES)
    return {name for name in FIELD_NAMES if getattr(side, name) != getattr(base, name)}


def conflicting_fields(
    base: ReportFields | None, sides: Sequence[ReportFields]
) -> tuple[FieldName, ...]:
    """Return the fields that concurrent *sides* changed to different values."""
    conflicting: set[FieldName] = set()
    for name in FIELD_NAMES:
        values = {
            getattr(side, name) for side in sides if name in changed_fields(base, side)
        }
        if len(values) > 1:
            conflicting.add(name)
    conflicting |= _delete_against_edit(base, sides)

    return tuple(name for name in FIELD_NAMES if name in conflicting)


def _delete_against_edit(
    base: ReportFields | None, sides: Sequence[ReportFields]
) -> set[FieldName]:
    deleters = [side for side in sides if side.deleted and not (base and base.deleted)]
    editors = [side for side in sides if not side.deleted]
    edited = set().union(*(changed_fields(base, side) for side in editors))
    if deleters and edited:
        return {"deleted", *edited}
    return set()


def highest_classification(sides: Sequence[ReportFields]) -> Classification:
    """Return the most sensitive marking among *sides*."""
    return max((side.classification for side in sides), key=lambda c: c.rank)


def merge_sides(
    base: ReportFields | None, sides: Sequence[ReportFields]
) -> ReportFields:
    """
    Return the merge of *sides*, which must have no conflicting field.

    Each field takes the value of the side that changed it, else the base's.
    """
    if base is None:
        return sides[0]
    values = base.model_dump()
    for side in sides:
        for name in changed_fields(base, side):
            values[name] = getattr(side, name)
    values["classification"] = highest_classification(sides)

    return ReportFields.model_validate(values)


def provisional(
    base: ReportFields | None, siblings: Sequence[Sibling]
) -> tuple[ReportFields, Clock]:
    """
    Return the state every node shows while a conflict is open.

    The winner is the sibling with the latest ``authored_at``, ties broken by
    the greater ``origin``. Its fields are kept, and every field it left alone
    that exactly one value was written to by the others is merged in. The
    clock is the pointwise max of the siblings, so the state dominates them.
    Its classification is the highest of the siblings'.
    """
    winner = max(siblings, key=lambda s: (s.authored_at, s.origin))
    clock = merge_clocks(s.clock for s in siblings)
    values = winner.fields.model_dump()
    if base is None:
        values["classification"] = highest_classification([s.fields for s in siblings])
        return ReportFields.model_validate(values), clock

    untouched = set(FIELD_NAMES) - changed_fields(base, winner.fields)
    for name in untouched:
        written = {
            getattr(s.fields, name)
            for s in siblings
            if name in changed_fields(base, s.fields)
        }
        if len(written) == 1:
            values[name] = written.pop()
    # Last, so no merged-in marking can lower it below a sibling's.
    values["classification"] = highest_classification([s.fields for s in siblings])

    return ReportFields.model_validate(values), clock
