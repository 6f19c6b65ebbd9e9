"""
The audit log's records and their hash chain, the same at the edge and the cloud.

Each record carries the hash of the one before it, and its own hash is
SHA-256 over a canonical encoding of every other field, the previous hash
included (docs/audit.md). Altering a record breaks its own hash; removing
one leaves a gap in the sequence; inserting one breaks the link of the record
after it, or the head the store keeps of its last record. :class:`ChainCheck`
reads records in sequence order, one at a time, so a store of any size or an
exported file is verified in constant memory.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from syncproto.report import ReportFields

GENESIS_HASH = "0" * 64
MAX_AUDIT_LIMIT = 1000


class AuditAction(StrEnum):
    """What a record is about."""

    # At the edge.
    REPORT_CREATED = "report.created"
    REPORT_UPDATED = "report.updated"
    REPORT_DELETED = "report.deleted"
    SYNC_PUSHED = "sync.pushed"
    SYNC_FAILED = "sync.failed"
    FEED_APPLIED = "feed.applied"
    # At the cloud.
    CHANGE_RECEIVED = "change.received"
    CONFLICT_OPENED = "conflict.opened"
    CONFLICT_JOINED = "conflict.joined"
    CONFLICT_RESOLVED = "conflict.resolved"
    EDGE_REGISTERED = "edge.registered"
    EDGE_REVOKED = "edge.revoked"
    AUTH_FAILED = "auth.failed"
    ACCESS_DENIED = "access.denied"
    # At both.
    AUDIT_EXPORTED = "audit.exported"


class AuditEvent(BaseModel):
    """What happened, before the store gives it a place in the chain."""

    model_config = ConfigDict(frozen=True)

    action: AuditAction
    actor: str = Field(description="Analyst sub, edge id, or 'anonymous'.")
    edge_id: str | None = Field(
        default=None, description="The edge the action came from or vouched for it."
    )
    report_id: str | None = None
    change_id: uuid.UUID | None = None
    conflict_id: uuid.UUID | None = None
    outcome: str | None = None
    reason: str | None = None
    before_digest: str | None = Field(
        default=None, description="SHA-256 of the report's fields before."
    )
    after_digest: str | None = Field(
        default=None, description="SHA-256 of the report's fields after."
    )
    classification: str | None = Field(
        default=None, description="The highest marking of the report it touched."
    )
    request_id: str | None = None
    detail: dict[str, Any] | None = Field(
        default=None, description="Counts and context: never a token or content."
    )


class AuditRecord(AuditEvent):
    """One stored record: an event with its place in the chain."""

    seq: int
    at: datetime
    prev_hash: str
    hash: str


# Every field of a record in the order exports and tables list them.
RECORD_FIELDS = (
    "seq",
    "at",
    "action",
    "actor",
    "edge_id",
    "report_id",
    "change_id",
    "conflict_id",
    "outcome",
    "reason",
    "before_digest",
    "after_digest",
    "classification",
    "request_id",
    "detail",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True)
class AuditFilter:
    """What an auditor asks for; ``since`` is inclusive, ``until`` exclusive."""

    report_id: str | None = None
    actor: str | None = None
    edge_id: str | None = None
    action: AuditAction | None = None
    since: datetime | None = None
    until: datetime | None = None

    def describe(self) -> dict[str, str]:
        """Return the filters given, as JSON text values for a record's detail."""
        given = {
            "report_id": self.report_id,
            "actor": self.actor,
            "edge_id": self.edge_id,
            "action": None if self.action is None else self.action.value,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
        }
        return {name: value for name, value in given.items() if value is not None}


class AuditPage(BaseModel):
    """A page of records in sequence order."""

    records: list[AuditRecord]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null on the last page."
    )


class AuditVerification(BaseModel):
    """The result of checking a whole chain against its head."""

    ok: bool
    checked: int = Field(description="Records read.")
    head_seq: int = Field(description="The last seq the store says it wrote.")
    head_hash: str
    first_bad_seq: int | None = Field(
        default=None, description="The first seq at which the chain is broken."
    )
    problem: str | None = None


def canonical_time(at: datetime) -> str:
    """Return *at* as the UTC text hashed: microseconds, ``Z`` suffix."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def _body(event: AuditEvent) -> dict[str, Any]:
    """Return the event's fields as the JSON values the hash covers."""
    # Built by hand, not with model_dump: a push chains hundreds of records
    # and this is most of their cost. RECORD_FIELDS' test keeps it complete.
    return {
        "action": event.action.value,
        "actor": event.actor,
        "edge_id": event.edge_id,
        "report_id": event.report_id,
        "change_id": None if event.change_id is None else str(event.change_id),
        "conflict_id": None if event.conflict_id is None else str(event.conflict_id),
        "outcome": event.outcome,
        "reason": event.reason,
        "before_digest": event.before_digest,
        "after_digest": event.after_digest,
        "classification": event.classification,
        "request_id": event.request_id,
        "detail": event.detail,
    }


def _seal(body: dict[str, Any], seq: int, stamp: str, prev_hash: str) -> str:
    body.update(seq=seq, at=stamp, prev_hash=prev_hash)
    return hashlib.sha256(_canonical(body)).hexdigest()


def record_hash(record: AuditEvent, *, seq: int, at: datetime, prev_hash: str) -> str:
    """Return the hash of the record *record* would be at *seq*."""
    return _seal(_body(record), seq, canonical_time(at), prev_hash)


def links(
    events: Sequence[AuditEvent], *, last_seq: int, last_hash: str, at: datetime
) -> list[tuple[int, str, str]]:
    """Return each event's ``(seq, prev_hash, hash)`` after ``last_seq``."""
    stamp = canonical_time(at)
    sealed = []
    prev = last_hash
    for seq, event in enumerate(events, start=last_seq + 1):
        digest = _seal(_body(event), seq, stamp, prev)
        sealed.append((seq, prev, digest))
        prev = digest
    return sealed


def fields_digest(fields: ReportFields | None) -> str | None:
    """Return the SHA-256 of a report's fields, or None for no report."""
    if fields is None:
        return None
    return hashlib.sha256(_canonical(fields.model_dump(mode="json"))).hexdigest()


def chain(
    events: Sequence[AuditEvent], *, last_seq: int, last_hash: str, at: datetime
) -> list[AuditRecord]:
    """Return *events* as the records that follow ``last_seq``/``last_hash``."""
    sealed = links(events, last_seq=last_seq, last_hash=last_hash, at=at)
    # The events are valid already; validating them again would only cost.
    return [
        AuditRecord.model_construct(
            **event.__dict__, seq=seq, at=at, prev_hash=prev, hash=digest
        )
        for event, (seq, prev, digest) in zip(events, sealed, strict=True)
    ]


class ChainCheck:
    """
    Check records in sequence order; remember the first break.

    Start at seq 1 with :data:`GENESIS_HASH`, or, for a part of a chain, at
    the seq and previous hash of its first record (an export that does not
    start at 1 says where it starts).
    """

    def __init__(
        self,
        first_seq: int = 1,
        prev_hash: str = GENESIS_HASH,
        anchors: dict[int, str] | None = None,
    ) -> None:
        self.expected = first_seq
        self.prev_hash = prev_hash
        # Hashes noted earlier outside the store: they catch a chain that was
        # rewritten from some record on, hashes and head included.
        self.anchors = dict(anchors or {})
        self.checked = 0
        self.first_bad_seq: int | None = None
        self.problem: str | None = None

    @property
    def ok(self) -> bool:
        """Whether no break has been found so far."""
        return self.problem is None

    def add(self, record: AuditRecord) -> bool:
        """Check the next *record*; return False once the chain is broken."""
        if not self.ok:
            return False
        self.checked += 1
        if record.seq > self.expected:
            last = record.seq - 1
            gone = str(last) if last == self.expected else f"{self.expected}-{last}"
            return self._fail(self.expected, f"record {gone} is missing")
        if record.seq < self.expected:
            return self._fail(record.seq, f"record {record.seq} is out of order")
        if record.prev_hash != self.prev_hash:
            return self._fail(
                record.seq,
                f"record {record.seq} does not follow record {record.seq - 1}: "
                "a record was inserted or the one before it was replaced",
            )
        own = record_hash(
            record, seq=record.seq, at=record.at, prev_hash=record.prev_hash
        )
        if own != record.hash:
            return self._fail(record.seq, f"record {record.seq} was altered")
        anchored = self.anchors.pop(record.seq, record.hash)
        if anchored != record.hash:
            return self._fail(
                record.seq,
                f"record {record.seq} is not the one anchored: the chain was "
                "rewritten from here on",
            )
        self.expected = record.seq + 1
        self.prev_hash = record.hash
        return True

    def unreadable(self, seq: int) -> bool:
        """Note that stored record *seq* cannot be read as a record at all."""
        if not self.ok:
            return False
        self.checked += 1
        if seq > self.expected:
            return self._fail(self.expected, f"record {self.expected} is missing")
        return self._fail(
            seq, f"record {seq} is not a readable audit record: it was altered"
        )

    def finish(self, head_seq: int, head_hash: str) -> AuditVerification:
        """Compare the end of the chain with the head the store kept."""
        last = self.expected - 1
        if self.ok and last < head_seq:
            self._fail(last + 1, f"records {last + 1}-{head_seq} are missing")
        elif self.ok and last > head_seq:
            self._fail(
                head_seq + 1,
                f"record {head_seq + 1} is beyond the head of the log "
                f"(seq {head_seq}): it was not written by the service",
            )
        elif self.ok and self.prev_hash != head_hash:
            self._fail(last, f"record {last} is not the one the head names")
        if self.ok and self.anchors:
            gone = min(self.anchors)
            self._fail(gone, f"anchored record {gone} is not in the chain")
        return AuditVerification(
            ok=self.ok,
            checked=self.checked,
            head_seq=head_seq,
            head_hash=head_hash,
            first_bad_seq=self.first_bad_seq,
            problem=self.problem,
        )

    def _fail(self, seq: int, problem: str) -> bool:
        self.first_bad_seq = seq
        self.problem = problem
        return False
