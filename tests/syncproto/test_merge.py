"""Field-wise three-way merge and the outcome decision (docs/protocol.md, "Push")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncproto import (
    Change,
    Current,
    Outcome,
    ReportFields,
    Sibling,
    conflicting_fields,
    decide,
    merge_sides,
    provisional,
)

T0 = datetime(2024, 3, 10, 9, 30, tzinfo=UTC)
BASE = ReportFields(title="T0", content="C0", classification="CUI")


def fields(**overrides: Any) -> ReportFields:
    return ReportFields.model_validate({**BASE.model_dump(), **overrides})


def change(
    base_clock: dict[str, int], origin: str, snapshot: ReportFields, op: str = "update"
) -> Change:
    clock = dict(base_clock)
    clock[origin] = clock.get(origin, 0) + 1
    return Change(
        change_id=uuid.uuid4(),
        report_id="rpt-070",
        op=op,
        fields=snapshot,
        base_clock=base_clock,
        clock=clock,
        origin=origin,
        origin_seq=clock[origin],
        author="analyst-1",
        authored_at=T0,
    )


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        (fields(title="T-A"), fields(content="C-B"), ()),
        (fields(title="Same"), fields(title="Same"), ()),
        (fields(title="T-A"), fields(title="T-B", content="C-B"), ("title",)),
        (fields(deleted=True), fields(title="T-B"), ("title", "deleted")),
        (fields(deleted=True), fields(deleted=True), ()),
        (
            fields(classification="IL4"),
            fields(classification="IL5"),
            ("classification",),
        ),
    ],
    ids=["disjoint", "same-value", "overlap", "delete-edit", "delete-delete", "class"],
)
def test_conflicting_fields_table(
    left: ReportFields, right: ReportFields, expected: tuple[str, ...]
) -> None:
    """Only fields changed on both sides to different values conflict."""
    assert conflicting_fields(BASE, [left, right]) == expected


def test_missing_base_makes_every_difference_conflict() -> None:
    """Without a base version every differing field is conflicting."""
    left = fields(title="T-A")
    right = fields(content="C-B")

    assert conflicting_fields(None, [left, right]) == ("title", "content")
    assert conflicting_fields(None, [left, left]) == ()


def test_merge_takes_each_sides_change() -> None:
    """A field changed on one side only takes that side's value."""
    merged = merge_sides(BASE, [fields(title="T-A"), fields(content="C-B")])

    assert merged == fields(title="T-A", content="C-B")


def test_decide_applies_a_change_after_current() -> None:
    """A change whose clock is after the current one is applied."""
    current = Current(BASE, {"edge-a": 1})
    incoming = change({"edge-a": 1}, "edge-b", fields(title="T-B"))

    decision = decide(incoming, current, BASE)

    assert decision.outcome is Outcome.APPLIED
    assert decision.clock == {"edge-a": 1, "edge-b": 1}


def test_decide_applies_to_a_new_report() -> None:
    """A change to a report the cloud has no version of is applied."""
    incoming = change({}, "edge-a", BASE, op="create")

    assert decide(incoming, None, None).outcome is Outcome.APPLIED


@pytest.mark.parametrize("current_clock", [{"edge-a": 1}, {"edge-a": 2, "edge-b": 1}])
def test_decide_stale_when_equal_or_before(current_clock: dict[str, int]) -> None:
    """A change equal to or before the current version is stale."""
    incoming = change({}, "edge-a", BASE, op="create")

    decision = decide(incoming, Current(BASE, current_clock), None)

    assert decision.outcome is Outcome.STALE
    assert decision.fields is None


def test_decide_merges_disjoint_concurrent_edits() -> None:
    """BC-09 step 3: title on one side, content on the other merge under max clock."""
    current = Current(fields(title="T-A"), {"edge-a": 2})
    incoming = change({"edge-a": 1}, "edge-b", fields(content="C-B"))

    decision = decide(incoming, current, BASE)

    assert decision.outcome is Outcome.MERGED
    assert decision.fields == fields(title="T-A", content="C-B")
    assert decision.clock == {"edge-a": 2, "edge-b": 1}


def test_decide_conflicts_on_overlapping_edits() -> None:
    """BC-09 step 2: both sides changed the title differently, so it conflicts."""
    current = Current(fields(title="T-A"), {"edge-a": 2})
    incoming = change({"edge-a": 1}, "edge-b", fields(title="T-B", content="C-B"))

    decision = decide(incoming, current, BASE)

    assert decision.outcome is Outcome.CONFLICT
    assert decision.conflicting == ("title",)


def test_decide_joins_an_open_conflict() -> None:
    """A concurrent change joins an open conflict even if it would merge cleanly."""
    current = Current(
        fields(title="T-A"), {"edge-a": 2, "edge-b": 1}, conflict_open=True
    )
    incoming = change({"edge-a": 1}, "edge-c", fields(content="C-C"))

    assert decide(incoming, current, BASE).outcome is Outcome.CONFLICT


def test_provisional_winner_is_latest_authored_then_greater_origin() -> None:
    """The latest authored_at wins; a tie goes to the greater origin."""
    a = Sibling(fields(title="T-A"), {"edge-a": 2}, "edge-a", T0 + timedelta(seconds=5))
    b = Sibling(
        fields(title="T-B", content="C-B"), {"edge-a": 1, "edge-b": 1}, "edge-b", T0
    )

    state, clock = provisional(BASE, [a, b])
    assert state == fields(title="T-A", content="C-B")
    assert clock == {"edge-a": 2, "edge-b": 1}

    tied = Sibling(a.fields, a.clock, a.origin, T0)
    state, _ = provisional(BASE, [tied, b])
    assert state == fields(title="T-B", content="C-B")


def test_provisional_with_three_siblings() -> None:
    """
    The tie goes to edge-c; the title, written differently by the two others,
    overlaps and so keeps the winner's value, not either loser's.
    """
    a = Sibling(fields(title="T-A"), {"edge-a": 2}, "edge-a", T0)
    b = Sibling(fields(title="T-B"), {"edge-a": 1, "edge-b": 1}, "edge-b", T0)
    c = Sibling(fields(classification="IL4"), {"edge-a": 1, "edge-c": 1}, "edge-c", T0)

    state, clock = provisional(BASE, [a, b, c])

    assert state == fields(classification="IL4")
    assert clock == {"edge-a": 2, "edge-b": 1, "edge-c": 1}


snapshots = st.builds(
    ReportFields,
    title=st.sampled_from(["T0", "T1", "T2"]),
    content=st.sampled_from(["C0", "C1"]),
    classification=st.sampled_from(["CUI", "IL4"]),
    deleted=st.booleans(),
)


@given(st.lists(snapshots, min_size=2, max_size=4), st.permutations(range(4)))
def test_provisional_ignores_arrival_order(
    sides: list[ReportFields], order: list[int]
) -> None:
    """Every node computes one provisional state whatever order siblings came in."""
    siblings = [
        Sibling(s, {f"edge-{i}": 1}, f"edge-{i}", T0 + timedelta(seconds=i % 2))
        for i, s in enumerate(sides)
    ]
    shuffled = [siblings[i] for i in order if i < len(siblings)]

    assert provisional(BASE, siblings) == provisional(BASE, shuffled)


def test_merge_keeps_the_highest_marking_of_its_sides() -> None:
    """A downgrade merged with an edit made under IL5 stays IL5 (high-water mark)."""
    secret = fields(classification="IL5")
    lowered = fields(classification="CUI")
    edited = fields(classification="IL5", content="written under IL5")

    merged = merge_sides(secret, [lowered, edited])

    assert merged.classification == "IL5"
    assert merged.content == "written under IL5"


def test_provisional_is_never_below_a_sibling_whose_fields_it_shows() -> None:
    """
    Edge-a raises to IL5 and writes IL5 content; edge-b lowers to IL4 later.
    The provisional shows edge-b's marking choice only if no IL5 field leaks.
    """
    raised = Sibling(
        fields(classification="IL5", content="IL5 detail"), {"edge-a": 1}, "edge-a", T0
    )
    lowered = Sibling(
        fields(classification="IL4"), {"edge-b": 1}, "edge-b", T0 + timedelta(seconds=5)
    )

    state, _ = provisional(BASE, [raised, lowered])

    assert state.content == "IL5 detail"
    assert state.classification == "IL5"


def test_provisional_winner_leaving_the_marking_keeps_its_own() -> None:
    """The winner edits IL5 content; a sibling's lowering cannot declassify it."""
    secret = fields(classification="IL5")
    winner = Sibling(
        fields(classification="IL5", content="new IL5"),
        {"edge-a": 1},
        "edge-a",
        T0 + timedelta(seconds=5),
    )
    lowering = Sibling(
        fields(classification="CUI", title="T-B"),
        {"edge-b": 1},
        "edge-b",
        T0,
    )

    state, _ = provisional(secret, [winner, lowering])

    assert state.content == "new IL5"
    assert state.classification == "IL5"
