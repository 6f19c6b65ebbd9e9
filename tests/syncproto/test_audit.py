"""The audit hash chain: its encoding, and every way of breaking it."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from syncproto import ReportFields
from syncproto.audit import (
    GENESIS_HASH,
    RECORD_FIELDS,
    AuditAction,
    AuditEvent,
    AuditRecord,
    ChainCheck,
    chain,
    fields_digest,
)

AT = datetime(2026, 12, 4, 7, 0, 0, 123456, tzinfo=UTC)


def _records(count: int = 5) -> list[AuditRecord]:
    events = [
        AuditEvent(
            action=AuditAction.REPORT_CREATED,
            actor="analyst-1",
            edge_id="edge-a",
            report_id=f"rpt-{n:03}",
            reason="première",
        )
        for n in range(count)
    ]
    return chain(events, last_seq=0, last_hash=GENESIS_HASH, at=AT)


def _verify(records: list[AuditRecord], head_seq: int, head_hash: str) -> ChainCheck:
    check = ChainCheck()
    for record in records:
        if not check.add(record):
            break
    check.finish(head_seq, head_hash)
    return check


def test_the_hash_is_sha256_of_the_documented_canonical_encoding() -> None:
    """docs/audit.md: sorted keys, no spaces, UTF-8, `at` in UTC with a Z."""
    (record,) = _records(1)
    body = {
        "action": "report.created",
        "actor": "analyst-1",
        "after_digest": None,
        "at": "2026-12-04T07:00:00.123456Z",
        "before_digest": None,
        "change_id": None,
        "classification": None,
        "conflict_id": None,
        "detail": None,
        "edge_id": "edge-a",
        "outcome": None,
        "prev_hash": GENESIS_HASH,
        "reason": "première",
        "report_id": "rpt-000",
        "request_id": None,
        "seq": 1,
    }
    encoded = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert record.hash == hashlib.sha256(encoded.encode()).hexdigest()
    assert record.seq == 1
    assert record.prev_hash == GENESIS_HASH


def test_fields_digest_covers_every_field() -> None:
    fields = ReportFields(title="T", content="C", classification="IL4")
    expected = hashlib.sha256(
        b'{"classification":"IL4","content":"C","deleted":false,"title":"T"}'
    ).hexdigest()
    assert fields_digest(fields) == expected
    assert fields_digest(None) is None


def test_an_intact_chain_verifies() -> None:
    records = _records()
    result = _verify(records, 5, records[-1].hash).finish(5, records[-1].hash)
    assert result.ok
    assert result.checked == 5
    assert result.first_bad_seq is None


def test_an_altered_record_is_named() -> None:
    records = _records()
    records[2] = records[2].model_copy(update={"actor": "mallory"})
    check = _verify(records, 5, records[-1].hash)
    assert (check.first_bad_seq, check.problem) == (3, "record 3 was altered")


def test_a_removed_record_is_named() -> None:
    records = _records()
    del records[1]
    check = _verify(records, 5, records[-1].hash)
    assert check.first_bad_seq == 2
    assert check.problem == "record 2 is missing"


def test_a_removed_last_record_is_caught_by_the_head() -> None:
    records = _records()
    head = records[-1].hash
    check = _verify(records[:-1], 5, head)
    assert check.first_bad_seq == 5


def test_an_inserted_record_is_named() -> None:
    records = _records()
    forged = chain(
        [AuditEvent(action=AuditAction.REPORT_DELETED, actor="mallory")],
        last_seq=2,
        last_hash=records[1].hash,
        at=AT,
    )[0]
    # The forger renumbers the rest to make room: record 4 no longer follows.
    shifted = [r.model_copy(update={"seq": r.seq + 1}) for r in records[2:]]
    check = _verify([*records[:2], forged, *shifted], 5, records[-1].hash)
    assert check.first_bad_seq == 4


def test_a_record_beyond_the_head_is_named() -> None:
    records = _records()
    extra = chain(
        [AuditEvent(action=AuditAction.REPORT_DELETED, actor="mallory")],
        last_seq=5,
        last_hash=records[-1].hash,
        at=AT,
    )
    check = _verify([*records, *extra], 5, records[-1].hash)
    assert check.first_bad_seq == 6


@pytest.mark.parametrize("tail_from", [2, 4])
def test_an_anchor_catches_a_rewritten_tail(tail_from: int) -> None:
    """Rewriting every hash and the head after record 3 passes the chain alone."""
    records = _records()
    anchor = {3: records[2].hash}
    kept = records[: tail_from - 1]
    rewritten = chain(
        [AuditEvent(**dict(r)) for r in records[tail_from - 1 :]][:1]
        + [
            AuditEvent(action=AuditAction.REPORT_DELETED, actor="mallory")
            for _ in records[tail_from:]
        ],
        last_seq=tail_from - 1,
        last_hash=kept[-1].hash,
        at=AT,
    )
    forged = [*kept, *rewritten]
    alone = _verify(forged, 5, forged[-1].hash)
    anchored = ChainCheck(anchors=anchor)
    for record in forged:
        anchored.add(record)
    result = anchored.finish(5, forged[-1].hash)
    if tail_from > 3:
        # The anchored record itself was kept: the anchor holds, and it should.
        assert result.ok
    else:
        assert alone.ok
        assert result.first_bad_seq == 3


def test_an_anchor_beyond_the_chain_fails() -> None:
    records = _records(2)
    check = ChainCheck(anchors={9: "f" * 64})
    for record in records:
        check.add(record)
    result = check.finish(2, records[-1].hash)
    assert result.first_bad_seq == 9


def test_record_fields_name_every_field_once() -> None:
    """Exports and tables list RECORD_FIELDS: none may be missing or repeated."""
    assert len(RECORD_FIELDS) == len(set(RECORD_FIELDS))
    assert set(RECORD_FIELDS) == set(AuditRecord.model_fields)


def test_the_hash_covers_every_field_as_pydantic_encodes_it() -> None:
    """The hand-built encoding equals the model's JSON form, field for field."""
    event = AuditEvent(
        action=AuditAction.CONFLICT_OPENED,
        actor="analyst-1",
        edge_id="edge-a",
        report_id="rpt-001",
        change_id="00000000-0000-4000-8000-000000000001",
        conflict_id="00000000-0000-4000-8000-000000000002",
        outcome="conflict",
        reason="r",
        before_digest="a" * 64,
        after_digest="b" * 64,
        classification="IL4",
        request_id="req-1",
        detail={"fields": ["title"]},
    )
    (record,) = chain([event], last_seq=0, last_hash=GENESIS_HASH, at=AT)
    body = record.model_dump(mode="json", exclude={"hash"})
    body["at"] = "2026-12-04T07:00:00.123456Z"
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":"))
    assert record.hash == hashlib.sha256(encoded.encode()).hexdigest()


def test_an_unreadable_record_is_named() -> None:
    records = _records(3)
    check = ChainCheck()
    check.add(records[0])
    check.unreadable(2)
    assert (check.first_bad_seq, check.problem) == (
        2,
        "record 2 is not a readable audit record: it was altered",
    )
