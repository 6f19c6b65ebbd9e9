"""
Vector clocks: one counter per edge, compared pointwise.

A clock is a plain ``dict[str, int]`` so that it round-trips through JSON, SQL
JSON columns and pydantic without a wrapper type. Keys are edge ids; the
reserved key ``cloud`` is only ever ticked by a conflict resolution.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable, Mapping

Clock = dict[str, int]

CLOUD = "cloud"
MAX_ENTRIES = 1024
# Counters stay below 2**53 so that every JSON parser, JavaScript's included,
# reads them back exactly.
MAX_COUNTER = 2**53 - 1
_KEY = re.compile(r"[a-z0-9-]{1,64}")


class Ordering(enum.StrEnum):
    """How two clocks relate."""

    EQUAL = "equal"
    BEFORE = "before"
    AFTER = "after"
    CONCURRENT = "concurrent"


def validate_clock(value: object) -> Clock:
    """
    Return *value* as a clock, or raise ``ValueError`` saying what is wrong.

    Zero counters are dropped: ``{"a": 0}`` and ``{}`` are the same version,
    and keeping one canonical form makes clocks comparable as SQL keys.
    """
    if not isinstance(value, Mapping):
        msg = "a clock must be a JSON object of edge id to counter"
        raise ValueError(msg)
    if len(value) > MAX_ENTRIES:
        msg = f"a clock has at most {MAX_ENTRIES} entries, got {len(value)}"
        raise ValueError(msg)
    clock: Clock = {}
    for key, counter in value.items():
        if not isinstance(key, str) or not _is_edge_id(key):
            msg = f"clock key {key!r} is not an edge id (1..64 of a-z0-9-)"
            raise ValueError(msg)
        if type(counter) is not int or not 0 <= counter <= MAX_COUNTER:
            msg = f"clock counter for {key!r} must be an integer 1..2**53-1"
            raise ValueError(msg)
        if counter:
            clock[key] = counter
    return clock


@functools.lru_cache(maxsize=4096)
def _is_edge_id(key: str) -> bool:
    # A deployment has a few hundred edges; every clock of every change names
    # some of them, so the answer is worth remembering.
    return _KEY.fullmatch(key) is not None


def compare(a: Mapping[str, int], b: Mapping[str, int]) -> Ordering:
    """Compare two clocks: equal, *a* before *b*, *a* after *b*, or concurrent."""
    a_less = b_less = False
    for key in a.keys() | b.keys():
        x, y = a.get(key, 0), b.get(key, 0)
        if x < y:
            a_less = True
        elif y < x:
            b_less = True
        if a_less and b_less:
            return Ordering.CONCURRENT
    if a_less:
        return Ordering.BEFORE
    if b_less:
        return Ordering.AFTER
    return Ordering.EQUAL


def tick(clock: Mapping[str, int], node: str) -> Clock:
    """Return the clock of a write at *node* on top of *clock*."""
    ticked = dict(clock)
    ticked[node] = ticked.get(node, 0) + 1

    return ticked


def merge_clocks(clocks: Iterable[Mapping[str, int]]) -> Clock:
    """Return the pointwise maximum of *clocks*, which dominates each of them."""
    merged: Clock = {}
    for clock in clocks:
        for key, counter in clock.items():
            if counter > merged.get(key, 0):
                merged[key] = counter

    return merged


def clock_key(clock: Mapping[str, int]) -> str:
    """
    Return a canonical text form of *clock*, equal for equal clocks.

    The cloud indexes versions by this key to find a change's base version.
    It is the compact JSON of the sorted clock; keys are edge ids, which need
    no escaping, so it is built by hand on this hot path.
    """
    entries = ",".join(f'"{k}":{v}' for k, v in sorted(clock.items()) if v)
    return "{" + entries + "}"
