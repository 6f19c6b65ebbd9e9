"""
Push: drain the outbox to the cloud's inbox, oldest change first.

Batches are bounded by the cloud's advertised count and body size, measured
on the exact bytes sent. A change that cannot fit any body is held; a 413 or a
whole-batch 400/422 splits the batch in halves until the change at fault is
alone, so one bad change never blocks the ones behind it (docs/protocol.md, "Push").

Each batch the cloud answers leaves one ``sync.pushed`` audit record, written
in the job that stores the answers. A batch refused whole and split
records nothing itself: its halves are recorded when they are answered.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import structlog

from edge_service import audit, meta, outbox
from edge_service.cloud_client import (
    BatchRefusedError,
    BodyTooLargeError,
    CloudClient,
    CloudUnavailableError,
)
from edge_service.db import ReaderPool
from edge_service.metrics import EdgeMetrics
from edge_service.models import OutboxState
from edge_service.outbox import Answer, PendingChange
from edge_service.writer import Writer
from syncproto import PushResult
from syncproto.audit import AuditAction, AuditEvent

log = structlog.get_logger()


@dataclass(frozen=True)
class BatchLimits:
    """How many changes, and how many body bytes, one push may carry."""

    changes: int
    body_bytes: int


class Envelope:
    """The bytes of a ``PushBatch`` around its changes, built without re-encoding."""

    def __init__(self, edge_id: str) -> None:
        self._head = b'{"edge_id":' + json.dumps(edge_id).encode() + b',"changes":['
        self._tail = b"]}"

    def size(self, payload_bytes: int, count: int) -> int:
        """Return the body size for *count* changes of *payload_bytes* in total."""
        commas = max(count - 1, 0)
        return len(self._head) + payload_bytes + commas + len(self._tail)

    def encode(self, changes: Sequence[PendingChange]) -> bytes:
        """Return the body of a batch of *changes*."""
        return self._head + b",".join(c.payload for c in changes) + self._tail


def pack(
    changes: Sequence[PendingChange], envelope: Envelope, limits: BatchLimits
) -> tuple[list[list[PendingChange]], list[PendingChange]]:
    """
    Split *changes*, in order, into batches within *limits*.

    Returns the batches and the changes too large to travel in any batch.
    """
    batches: list[list[PendingChange]] = []
    too_large: list[PendingChange] = []
    batch: list[PendingChange] = []
    batch_bytes = 0
    for change in changes:
        if envelope.size(len(change.payload), 1) > limits.body_bytes:
            too_large.append(change)
            continue
        grown = envelope.size(batch_bytes + len(change.payload), len(batch) + 1)
        if batch and (grown > limits.body_bytes or len(batch) >= limits.changes):
            batches.append(batch)
            batch, batch_bytes = [], 0
        batch.append(change)
        batch_bytes += len(change.payload)
    if batch:
        batches.append(batch)

    return batches, too_large


class Pusher:
    """Send every pending change and record the cloud's answers."""

    def __init__(
        self,
        client: CloudClient,
        writer: Writer,
        reader: ReaderPool,
        *,
        edge_id: str,
        batch_size: int,
        now: Callable[[], datetime],
        metrics: EdgeMetrics,
    ) -> None:
        self._client = client
        self._writer = writer
        self._reader = reader
        self._edge_id = edge_id
        self._envelope = Envelope(edge_id)
        self._batch_size = batch_size
        self._now = now
        self._metrics = metrics

    async def push_all(self) -> None:
        """Push until no pending change is left; raise on a transport failure."""
        limits: BatchLimits | None = None
        if await self._reader.run(outbox.count_held):
            # A held change goes out again once the cloud's limit lets it.
            limits = await self._limits()
            fits = limits.body_bytes - self._envelope.size(0, 1)
            await self._writer.run(partial(outbox.release_held, max_payload_bytes=fits))
        after = 0
        while True:
            changes = await self._reader.run(
                partial(outbox.pending_changes, after=after, limit=self._batch_size)
            )
            if not changes:
                return
            if limits is None:
                # Asked only when there is something to send, so that a sync
                # with nothing new costs no round trip for it.
                limits = await self._limits()
            after = changes[-1].origin_seq
            batches, too_large = pack(changes, self._envelope, limits)
            if too_large:
                await self._hold(too_large, limits.body_bytes)
            for batch in batches:
                await self._send(batch)

    async def _limits(self) -> BatchLimits:
        info = await self._client.info()
        return BatchLimits(
            changes=min(self._batch_size, info.max_batch_changes),
            body_bytes=info.max_body_bytes,
        )

    async def _send(self, batch: list[PendingChange]) -> None:
        body = self._envelope.encode(batch)
        try:
            result = await self._client.push(body)
        except BodyTooLargeError as exc:
            if len(batch) == 1:
                await self._hold(batch, len(body) - 1, str(exc))
                return
            await self._split(batch)
        except BatchRefusedError as exc:
            if len(batch) == 1:
                await self._reject(batch[0], exc.detail)
                return
            await self._split(batch)
        except CloudUnavailableError:
            await self._writer.run(
                partial(outbox.count_attempt, change_ids=[c.change_id for c in batch])
            )
            raise
        else:
            await self._record(batch, result)

    async def _split(self, batch: list[PendingChange]) -> None:
        middle = len(batch) // 2
        await self._send(batch[:middle])
        await self._send(batch[middle:])

    async def _record(self, batch: list[PendingChange], result: PushResult) -> None:
        sent = {c.change_id for c in batch}
        answers = [
            Answer(r.change_id, OutboxState(r.outcome.value), r.reason)
            for r in result.results
            if r.change_id in sent
        ]
        await self._store(answers, self._pushed(len(batch), answers))
        self._metrics.answered(a.state for a in answers)
        log.info(
            "outbox_batch_sent",
            batch_size=len(batch),
            first_origin_seq=batch[0].origin_seq,
            acked_seq=result.acked_seq,
            feed_head=result.feed_head,
            outcomes=dict(Counter(a.state.value for a in answers)),
        )
        for answer in answers:
            log.debug(
                "change_answered", change_id=answer.change_id, outcome=answer.state
            )
        if len(answers) < len(batch):
            # Unanswered changes stay pending and go out again next run.
            log.warning(
                "push_answer_incomplete",
                batch_size=len(batch),
                answered=len(answers),
            )

    async def _hold(
        self, changes: list[PendingChange], limit: int, refusal: str | None = None
    ) -> None:
        answers = []
        for change in changes:
            reason = (
                f"change is {len(change.payload)} bytes encoded, too large for "
                f"a push body of at most {limit} bytes"
            )
            if refusal:
                reason += f" (cloud answered 413: {refusal})"
            answers.append(Answer(change.change_id, OutboxState.HELD, reason))
            log.warning(
                "change_held",
                change_id=change.change_id,
                origin_seq=change.origin_seq,
                payload_bytes=len(change.payload),
            )
        # Held unsent is the edge's own decision; held on a 413 is an answer.
        pushed = (
            None if refusal is None else self._pushed(len(changes), answers, refusal)
        )
        await self._store(answers, pushed)

    async def _reject(self, change: PendingChange, detail: str) -> None:
        reason = f"the cloud refused the batch holding only this change: {detail}"
        log.warning(
            "change_rejected",
            change_id=change.change_id,
            origin_seq=change.origin_seq,
        )
        answers = [Answer(change.change_id, OutboxState.REJECTED, reason)]
        await self._store(answers, self._pushed(1, answers, detail))
        self._metrics.answered([OutboxState.REJECTED])

    def _pushed(
        self, sent: int, answers: Sequence[Answer], refusal: str | None = None
    ) -> AuditEvent:
        """Describe one answered batch by counts per outcome, never by content."""
        detail: dict[str, int] = {"changes": sent}
        detail.update(Counter(a.state.value for a in answers))
        if len(answers) < sent:
            detail["unanswered"] = sent - len(answers)
        return AuditEvent(
            action=AuditAction.SYNC_PUSHED,
            actor=self._edge_id,
            edge_id=self._edge_id,
            reason=refusal,
            detail=detail,
        )

    async def _store(self, answers: list[Answer], pushed: AuditEvent | None) -> None:
        now = self._now()

        def job(conn: sqlite3.Connection) -> None:
            outbox.record_answers(conn, answers, now)
            meta.record_push(conn, now)
            if pushed is not None:
                audit.append(conn, [pushed], at=now)

        await self._writer.run(job)
