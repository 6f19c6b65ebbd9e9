"""The inbox's decision for one change, as a pure function of what is stored."""

from __future__ import annotations

from dataclasses import dataclass, field

from syncproto.change import Change
from syncproto.clock import Clock, Ordering, compare, merge_clocks
from syncproto.merge import conflicting_fields, merge_sides
from syncproto.push import Outcome
from syncproto.report import FieldName, ReportFields


@dataclass(frozen=True)
class Current:
    """The report's current version at the cloud."""

    fields: ReportFields
    clock: Clock
    conflict_open: bool = False


@dataclass(frozen=True)
class Decision:
    """
    What to do with a change that is neither a duplicate nor rejected.

    ``fields`` and ``clock`` are the new current version for ``applied`` and
    ``merged``; for ``conflict`` the caller computes the provisional version
    from every sibling; for ``stale`` nothing becomes current.
    """

    outcome: Outcome
    fields: ReportFields | None = None
    clock: Clock | None = None
    conflicting: tuple[FieldName, ...] = field(default=())


def decide(
    change: Change, current: Current | None, base: ReportFields | None
) -> Decision:
    """
    Decide the outcome of *change* against the *current* version.

    *base* is the stored version whose clock equals ``change.base_clock``, or
    ``None`` when the cloud never saw it. While a conflict is open every
    concurrent change joins it as another sibling instead of merging.
    """
    if current is None:
        return Decision(Outcome.APPLIED, change.fields, change.clock)

    ordering = compare(change.clock, current.clock)
    if ordering is Ordering.AFTER:
        return Decision(Outcome.APPLIED, change.fields, change.clock)
    if ordering is not Ordering.CONCURRENT:
        return Decision(Outcome.STALE)

    sides = [current.fields, change.fields]
    conflicting = conflicting_fields(base, sides)
    if current.conflict_open or conflicting:
        return Decision(Outcome.CONFLICT, conflicting=conflicting)

    merged = merge_sides(base, sides)
    return Decision(Outcome.MERGED, merged, merge_clocks([current.clock, change.clock]))
