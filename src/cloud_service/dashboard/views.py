"""
What the dashboard's pages work out from the API's data, without I/O.

Kept apart from the routes so that the rules a person relies on (which edges
still lack a report, what a resolve form asks the API to do) are plain
functions with their own tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cloud_service.edges import EdgePublic
from cloud_service.reports import ReportPublic
from edgesync.problems import describe_errors
from syncproto import ConflictResolution, ReportFields

EDIT = "edit"


@dataclass(frozen=True)
class Reach:
    """Which edges hold a report's current version, and which still lack it."""

    reached: tuple[str, ...]
    waiting: tuple[str, ...]


def reach(report: ReportPublic, edges: Sequence[EdgePublic]) -> Reach:
    """
    Say which edges have pulled *report*'s current version from the feed.

    An edge has it once its feed cursor is at or past the version's seq. Only
    edges that may receive it count: not revoked, and cleared for its
    classification (an edge the cloud never registered has no clearance and
    counts, as it does with authentication off).
    """
    expected = [
        edge
        for edge in edges
        if edge.revoked_at is None
        and (
            edge.clearance is None or report.classification.rank <= edge.clearance.rank
        )
    ]
    reached = tuple(
        edge.edge_id
        for edge in expected
        if edge.feed_cursor is not None and edge.feed_cursor >= report.feed_seq
    )
    waiting = tuple(edge.edge_id for edge in expected if edge.edge_id not in reached)

    return Reach(reached, waiting)


def fields_of(report: ReportPublic) -> ReportFields:
    """Return the fields of a report's current version."""
    return ReportFields(
        title=report.title,
        content=report.content,
        classification=report.classification,
        deleted=report.deleted,
    )


class FormError(ValueError):
    """A resolve form the API could not take; the message says what to fix."""


@dataclass(frozen=True)
class ResolveForm:
    """What a resolver entered: a sibling to keep or field values, and why."""

    decision: str
    reason: str
    title: str
    content: str
    classification: str
    deleted: bool
    resolver: str = ""

    @classmethod
    def initial(cls, current: ReportFields) -> ResolveForm:
        """Return the empty form, its fields showing the provisional version."""
        return cls(
            decision="",
            reason="",
            title=current.title,
            content=current.content,
            classification=current.classification.value,
            deleted=current.deleted,
        )


def resolution(form: ResolveForm, current: ReportFields) -> ConflictResolution:
    """
    Turn a resolve form into the API's resolution, or raise :class:`FormError`.

    Only the fields that differ from the provisional version are sent: the
    API keeps the others as they are, byte for byte. Browsers send a
    textarea's line breaks as CRLF, so line breaks are compared, and sent, as
    LF: a text the resolver left alone is never rewritten.
    """
    if not form.decision:
        msg = "choose a sibling to keep, or to edit the fields"
        raise FormError(msg)
    reason = _lines(form.reason).strip()
    if not reason:
        msg = "give a reason: it is kept with the resolution and in the audit log"
        raise FormError(msg)
    raw: dict[str, Any] = {"reason": reason}
    if form.decision == EDIT:
        given: dict[str, Any] = {
            "title": form.title,
            "content": _lines(form.content),
            "classification": form.classification,
            "deleted": form.deleted,
        }
        shown = current.model_dump(mode="json")
        shown["content"] = _lines(current.content)
        raw["fields"] = {
            name: value for name, value in given.items() if value != shown[name]
        }
    else:
        raw["keep"] = form.decision
    try:
        return ConflictResolution.model_validate(raw)
    except ValidationError as invalid:
        errors = [_as_labelled(error) for error in invalid.errors()]
        raise FormError(describe_errors(errors)) from invalid


def _as_labelled(error: Any) -> dict[str, Any]:
    """Word a validation error as the form's labels and a person would."""
    # "title", as the form labels it, not "fields.title".
    loc = tuple(part for part in error["loc"] if part != "fields")
    message = error["msg"]
    limits = error.get("ctx") or {}
    if error["type"] == "too_short" and "min_length" in limits:
        message = f"give at least {limits['min_length']} character(s)"
    elif error["type"] == "too_long" and "max_length" in limits:
        message = f"give at most {limits['max_length']} characters"
    return {**error, "loc": loc, "msg": message}


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n")
