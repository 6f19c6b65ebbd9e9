"""Vector clock comparison, ticking and merging (docs/protocol.md, "Vector clocks")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncproto import Ordering, clock_key, compare, merge_clocks, tick, validate_clock

edge_ids = st.sampled_from(["edge-a", "edge-b", "edge-c", "edge-d"])
clocks = st.dictionaries(edge_ids, st.integers(min_value=1, max_value=50), max_size=4)

OPPOSITE = {
    Ordering.EQUAL: Ordering.EQUAL,
    Ordering.BEFORE: Ordering.AFTER,
    Ordering.AFTER: Ordering.BEFORE,
    Ordering.CONCURRENT: Ordering.CONCURRENT,
}


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ({}, {}, Ordering.EQUAL),
        ({"edge-a": 1}, {"edge-a": 1}, Ordering.EQUAL),
        ({"edge-a": 1}, {"edge-a": 2}, Ordering.BEFORE),
        ({}, {"edge-a": 1}, Ordering.BEFORE),
        ({"edge-a": 2, "edge-b": 1}, {"edge-a": 1}, Ordering.AFTER),
        ({"edge-a": 2}, {"edge-a": 1, "edge-b": 1}, Ordering.CONCURRENT),
        ({"edge-a": 1}, {"edge-b": 1}, Ordering.CONCURRENT),
    ],
)
def test_compare_table(
    a: dict[str, int], b: dict[str, int], expected: Ordering
) -> None:
    """Each pair of clocks relates as the protocol's definition says."""
    assert compare(a, b) is expected


@given(clocks, clocks)
def test_compare_is_antisymmetric(a: dict[str, int], b: dict[str, int]) -> None:
    """Swapping the operands swaps before and after and keeps the rest."""
    assert compare(b, a) is OPPOSITE[compare(a, b)]


@given(clocks, edge_ids)
def test_tick_is_after_its_base(base: dict[str, int], edge: str) -> None:
    """A change's clock (base ticked at its edge) comes after its base."""
    assert compare(tick(base, edge), base) is Ordering.AFTER


@given(st.lists(clocks, min_size=1, max_size=5))
def test_pointwise_max_dominates_each(parts: list[dict[str, int]]) -> None:
    """The pointwise max of clocks is after or equal to every one of them."""
    merged = merge_clocks(parts)

    for part in parts:
        assert compare(merged, part) in (Ordering.AFTER, Ordering.EQUAL)


def test_clock_key_ignores_order_and_zeroes() -> None:
    """Equal clocks have one canonical key whatever their key order."""
    assert clock_key({"edge-b": 1, "edge-a": 2}) == clock_key(
        {"edge-a": 2, "edge-b": 1}
    )
    assert clock_key({"edge-a": 2, "edge-c": 0}) == '{"edge-a":2}'


@pytest.mark.parametrize(
    "bad",
    [
        {"edge-a": -1},
        {"edge-a": 1.5},
        {"edge-a": 1.0},
        {"edge-a": True},
        {"edge-a": "1"},
        {"Edge_A": 1},
        {"": 1},
        {f"e{i}": 1 for i in range(1025)},
        [1, 2],
    ],
)
def test_invalid_clocks_are_refused(bad: object) -> None:
    """Negative, non-integer, oversized or badly keyed clocks are invalid input."""
    with pytest.raises(ValueError, match="clock"):
        validate_clock(bad)


def test_largest_valid_clock_is_accepted() -> None:
    """A clock of exactly 1,024 entries is valid."""
    clock = {f"e{i}": 1 for i in range(1024)}

    assert validate_clock(clock) == clock


@given(clocks)
def test_clock_key_is_the_compact_sorted_json(clock: dict[str, int]) -> None:
    """The key is exactly the compact JSON of the sorted clock, so SQL can parse it."""
    import json

    expected = json.dumps(dict(sorted(clock.items())), separators=(",", ":"))

    assert clock_key(clock) == expected
