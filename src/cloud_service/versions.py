"""
What a decided change does to its report, in the memory of one batch.

Each change leaves one history row with its own snapshot and clock. A
version the cloud makes itself (merged or provisional) gets a row of its own
too, so that a later change naming it as ``base_clock`` finds its fields.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from cloud_service.conflicts import add_to_conflict
from cloud_service.state import BatchView, ReportState, fields_columns
from syncproto import (
    Change,
    Clock,
    Outcome,
    ReportFields,
    VersionKind,
    clock_key,
    decide,
)


@dataclass(frozen=True)
class Applied:
    """The outcome of one change and the report's clock after it."""

    outcome: Outcome
    clock: Clock
    conflict_id: uuid.UUID | None = None


def apply_change(view: BatchView, change: Change, base_key: str) -> Applied:
    """
    Decide *change* against the batch's view of its report and record it.

    *base_key* is the ``clock_key`` of the change's ``base_clock``.
    """
    current = view.reports.get(change.report_id)
    base = view.bases.get((change.report_id, base_key))
    decision = decide(change, current.as_current() if current else None, base)
    key = _add_version(
        view, change, decision.outcome.value, change.fields, change.clock
    )

    if decision.outcome is Outcome.STALE:
        assert current is not None
        return Applied(Outcome.STALE, current.clock, current.conflict_id)
    if decision.outcome is Outcome.CONFLICT:
        assert current is not None
        return _apply_conflict(view, change, current, base)
    assert decision.fields is not None
    assert decision.clock is not None
    kind = VersionKind.APPLIED
    if decision.outcome is Outcome.MERGED:
        kind = VersionKind.MERGED
        key = _add_version(view, change, kind.value, decision.fields, decision.clock)
    version = Version(decision.fields, decision.clock, key, kind)
    state = _make_current(change, current, version)
    _publish(view, state)

    return Applied(decision.outcome, state.clock, state.conflict_id)


def _apply_conflict(
    view: BatchView,
    change: Change,
    current: ReportState,
    base: ReportFields | None,
) -> Applied:
    conflict = add_to_conflict(view, change, current, base)
    fields, clock = conflict.provisional()
    kind = VersionKind.PROVISIONAL
    key = _add_version(view, change, kind.value, fields, clock)
    state = _make_current(change, current, Version(fields, clock, key, kind))
    _publish(view, replace(state, conflict_id=conflict.conflict_id))

    return Applied(Outcome.CONFLICT, clock, conflict.conflict_id)


@dataclass(frozen=True)
class Version:
    """A version about to become current: its fields, clock and kind."""

    fields: ReportFields
    clock: Clock
    clock_key: str
    kind: VersionKind


def _make_current(
    change: Change, current: ReportState | None, version: Version
) -> ReportState:
    return ReportState(
        report_id=change.report_id,
        fields=version.fields,
        clock=version.clock,
        clock_key=version.clock_key,
        kind=version.kind,
        # Only an applied version is exactly the change's snapshot.
        change_id=change.change_id if version.kind is VersionKind.APPLIED else None,
        origin=change.origin,
        created_by=current.created_by if current else change.author,
        created_at=current.created_at if current else change.authored_at,
        updated_by=change.author,
        updated_at=change.authored_at,
        # An open conflict stays open until resolved
        # (docs/protocol.md, "Merge and conflicts").
        conflict_id=current.conflict_id if current else None,
    )


def _publish(view: BatchView, state: ReportState) -> None:
    view.reports[state.report_id] = state
    view.feed.append(state)


def _add_version(
    view: BatchView,
    change: Change,
    outcome: str,
    fields: ReportFields,
    clock: Clock,
) -> str:
    """Add a history row: the change's own, or one the cloud made; return its key."""
    made = outcome in _MADE_BY_CLOUD
    key = clock_key(clock)
    view.bases.setdefault((change.report_id, key), fields)
    view.versions.append(
        {
            "report_id": change.report_id,
            "change_id": None if made else change.change_id,
            "trigger_change_id": change.change_id if made else None,
            "outcome": outcome,
            "clock": clock,
            "clock_key": key,
            **fields_columns(fields),
            "origin": change.origin,
            "author": change.author,
            "authored_at": change.authored_at,
            "received_at": view.now,
        }
    )

    return key


_MADE_BY_CLOUD = frozenset({VersionKind.MERGED.value, VersionKind.PROVISIONAL.value})
