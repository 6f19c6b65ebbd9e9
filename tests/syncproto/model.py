"""
An in-memory model of the whole protocol: N edges and one cloud.

Storage is dictionaries; every decision is the real one from syncproto
(``decide``, ``provisional``, ``conflicting_fields``, clock comparison), and
the edge's pull rules follow docs/protocol.md. Property tests drive it with
random writes, cut-offs, lost answers, duplicate and reordered batches.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from syncproto import (
    Change,
    ChangeOp,
    Clock,
    Current,
    Ordering,
    Outcome,
    ReportFields,
    Sibling,
    clock_key,
    compare,
    conflicting_fields,
    decide,
    merge_clocks,
    provisional,
    tick,
)

T0 = datetime(2026, 12, 3, tzinfo=UTC)


@dataclass
class Version:
    """A report's current version at the cloud or at an edge."""

    fields: ReportFields
    clock: Clock
    origin: str
    authored_at: datetime
    conflict_id: int | None = None


@dataclass
class Conflict:
    """Siblings that could not be merged, around one report."""

    report_id: str
    base: ReportFields | None
    siblings: list[Sibling]
    change_ids: list[uuid.UUID]


@dataclass
class Cloud:
    """The inbox, the versions, the conflicts and the feed."""

    current: dict[str, Version] = field(default_factory=dict)
    versions: dict[tuple[str, str], ReportFields] = field(default_factory=dict)
    inbox: dict[uuid.UUID, Outcome] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    feed: list[tuple[str, Version]] = field(default_factory=list)
    effects: dict[uuid.UUID, int] = field(default_factory=dict)

    def push(self, changes: list[Change]) -> dict[uuid.UUID, Outcome]:
        """Decide a batch and answer one outcome per change."""
        answers = {}
        for change in changes:
            if change.change_id in self.inbox:
                answers[change.change_id] = Outcome.DUPLICATE
                continue
            outcome = self._decide(change)
            self.inbox[change.change_id] = outcome
            self.effects[change.change_id] = self.effects.get(change.change_id, 0) + 1
            answers[change.change_id] = outcome
        return answers

    def _decide(self, change: Change) -> Outcome:
        self.versions.setdefault(
            (change.report_id, clock_key(change.clock)), change.fields
        )
        current = self.current.get(change.report_id)
        base = self.versions.get((change.report_id, clock_key(change.base_clock)))
        view = None
        if current is not None:
            view = Current(
                current.fields, current.clock, current.conflict_id is not None
            )
        decision = decide(change, view, base if change.base_clock else None)
        sibling = Sibling(
            change.fields, change.clock, change.origin, change.authored_at
        )
        if decision.outcome is Outcome.CONFLICT:
            assert current is not None
            self._conflict(change, current, base, sibling)
        elif decision.fields is not None and decision.clock is not None:
            conflict_id = current.conflict_id if current else None
            self._publish(
                change.report_id,
                Version(
                    decision.fields,
                    decision.clock,
                    change.origin,
                    change.authored_at,
                    conflict_id,
                ),
            )
        return decision.outcome

    def _conflict(
        self,
        change: Change,
        current: Version,
        base: ReportFields | None,
        sibling: Sibling,
    ) -> None:
        if current.conflict_id is None:
            shown = Sibling(
                current.fields, current.clock, current.origin, current.authored_at
            )
            conflict = Conflict(change.report_id, base, [shown], [])
            self.conflicts.append(conflict)
            current.conflict_id = len(self.conflicts) - 1
        conflict = self.conflicts[current.conflict_id]
        if compare(current.clock, merge_clocks(s.clock for s in conflict.siblings)) in (
            Ordering.AFTER,
            Ordering.CONCURRENT,
        ):
            # A version applied on top of the provisional one joins as well,
            # so that its fields stay visible.
            conflict.siblings.append(
                Sibling(
                    current.fields, current.clock, current.origin, current.authored_at
                )
            )
        conflict.siblings.append(sibling)
        conflict.change_ids.append(change.change_id)
        fields, clock = provisional(conflict.base, conflict.siblings)
        self._publish(
            change.report_id,
            Version(fields, clock, "cloud", change.authored_at, current.conflict_id),
        )

    def _publish(self, report_id: str, version: Version) -> None:
        self.current[report_id] = version
        self.versions.setdefault((report_id, clock_key(version.clock)), version.fields)
        self.feed.append((report_id, version))


@dataclass
class Edge:
    """One site: its reports, its outbox and its feed cursor."""

    edge_id: str
    reports: dict[str, Version] = field(default_factory=dict)
    outbox: list[Change] = field(default_factory=list)
    answered: set[uuid.UUID] = field(default_factory=set)
    cursor: int = 0
    ticks: int = 0

    def write(self, report_id: str, title: str | None, content: str | None) -> None:
        """An analyst creates or edits a report here."""
        self.ticks += 1
        now = T0 + timedelta(seconds=self.ticks)
        current = self.reports.get(report_id)
        if current is None:
            fields = ReportFields(
                title=title or "T", content=content or "C", classification="CUI"
            )
            op, base = ChangeOp.CREATE, {}
        else:
            fields = ReportFields(
                title=title or current.fields.title,
                content=content or current.fields.content,
                classification="CUI",
            )
            op, base = ChangeOp.UPDATE, current.clock
        clock = tick(base, self.edge_id)
        change = Change(
            change_id=uuid.uuid4(),
            report_id=report_id,
            op=op,
            fields=fields,
            base_clock=base,
            clock=clock,
            origin=self.edge_id,
            origin_seq=len(self.outbox) + 1,
            author="analyst-1",
            authored_at=now,
        )
        self.outbox.append(change)
        self.reports[report_id] = Version(fields, clock, self.edge_id, now)

    def pending(self) -> list[Change]:
        """Return the changes not answered yet, oldest first."""
        return [c for c in self.outbox if c.change_id not in self.answered]

    def record(self, answers: dict[uuid.UUID, Outcome]) -> None:
        """Take the cloud's answers for a batch."""
        self.answered.update(answers)

    def pull(self, cloud: Cloud) -> None:
        """Apply every feed entry after the cursor, with the protocol's clock rules."""
        waiting = self.pending()
        for report_id, version in cloud.feed[self.cursor :]:
            local = self.reports.get(report_id)
            ordering = (
                Ordering.AFTER if local is None else compare(version.clock, local.clock)
            )
            local_pending = any(c.report_id == report_id for c in waiting)
            if ordering is Ordering.AFTER or (
                ordering is Ordering.CONCURRENT and not local_pending
            ):
                self.reports[report_id] = version
        self.cursor = len(cloud.feed)


def conflicting_pairs(cloud: Cloud) -> list[tuple[uuid.UUID, ...]]:
    """Return, per conflict, the ids of the changes that joined it."""
    return [tuple(c.change_ids) for c in cloud.conflicts]


def check_conflicts_are_real(cloud: Cloud) -> None:
    """Every conflict's siblings disagree on some field against its base."""
    for conflict in cloud.conflicts:
        sides = [s.fields for s in conflict.siblings]
        assert conflicting_fields(conflict.base, sides), conflict
