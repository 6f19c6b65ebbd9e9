"""Validation of changes as they travel (docs/protocol.md, "A change on the wire")."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from syncproto import MAX_CONTENT_BYTES, Change

GOOD: dict[str, Any] = {
    "change_id": "00000000-0000-4000-8000-000000000001",
    "report_id": "rpt-001",
    "op": "create",
    "fields": {"title": "Alpha", "content": "one", "classification": "CUI"},
    "base_clock": {},
    "clock": {"edge-a": 1},
    "origin": "edge-a",
    "origin_seq": 1,
    "author": "analyst-1",
    "authored_at": "2024-03-10T15:00:00+05:30",
}


def with_(**changes: Any) -> dict[str, Any]:
    raw = dict(GOOD)
    for key, value in changes.items():
        if key in ("title", "content", "classification"):
            raw["fields"] = {**raw["fields"], key: value}
        else:
            raw[key] = value
    return raw


def test_deleted_must_be_a_boolean() -> None:
    """A string or number for deleted is refused, never read as true."""
    for loose in ("yes", 1, "off"):
        raw = with_()
        raw["fields"] = {**raw["fields"], "deleted": loose}

        with pytest.raises(ValidationError, match="boolean"):
            Change.model_validate(raw)


def test_authored_at_is_normalised_to_utc() -> None:
    """BC-13: +05:30 becomes the same instant in UTC, shown with Z."""
    change = Change.model_validate(GOOD)

    assert change.model_dump(mode="json")["authored_at"] == "2024-03-10T09:30:00Z"


def test_text_is_kept_byte_for_byte() -> None:
    """No Unicode normalisation: a decomposed é stays decomposed."""
    change = Change.model_validate(with_(title="Cafe\u0301"))

    assert change.fields.title == "Cafe\u0301"


def test_content_limit_counts_utf8_bytes() -> None:
    """Content at 64 KiB of UTF-8 passes; one more byte is refused."""
    two_byte = "\u0436"
    at_limit = two_byte * (MAX_CONTENT_BYTES // 2)
    Change.model_validate(with_(content=at_limit))

    with pytest.raises(ValidationError, match="bytes in UTF-8"):
        Change.model_validate(with_(content=at_limit + "x"))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (with_(authored_at="2024-03-10T09:30:00"), "timezone"),
        (with_(title="a\x00b"), "U\\+0000"),
        (with_(content="x\ud800y"), "surrogate"),
        (with_(classification="IL6"), "classification"),
        (with_(title=""), "title"),
        (with_(title="t" * 201), "title"),
        (with_(report_id="bad id"), "report_id"),
        (with_(origin="Edge_A"), "origin"),
        (with_(clock={"edge-a": 2}), "base_clock with the origin"),
        (with_(op="delete"), "deleted"),
        (with_(base_clock={"edge-a": 1}, clock={"edge-a": 2}), "empty base_clock"),
        (with_(op="update"), "needs the base_clock"),
        (with_(origin_seq=0), "origin_seq"),
        (with_(surplus=1), "surplus"),
        (with_(origin_seq=1.0), "origin_seq"),
        (with_(origin_seq=True), "origin_seq"),
        (with_(origin_seq="1"), "origin_seq"),
        (with_(authored_at=1733220000), "not numbers"),
        (with_(authored_at="0001-01-01T00:00:00+05:00"), "out of range"),
        (with_(authored_at="9999-12-31T23:59:59-14:00"), "out of range"),
        (with_(authored_at="1969-12-31T23:59:59Z"), "between 1970"),
        (with_(origin="cloud", clock={"cloud": 1}), "reserved"),
    ],
)
def test_invalid_changes_are_refused(bad: dict[str, Any], message: str) -> None:
    """Each kind of invalid change fails validation with a message naming it."""
    with pytest.raises(ValidationError, match=message):
        Change.model_validate(bad)
