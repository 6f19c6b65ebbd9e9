"""
The sync loop: push, pull and purge, every few seconds or when asked.

One task runs it for the life of the app (stored on ``app.state`` so it is
never garbage collected mid-run, BC-21). Any failure of a run is logged, and
the run is tried again after a backoff delay, forever, until the task is
cancelled at shutdown. Each failed run leaves one ``sync.failed`` audit
record, written with the failure in the status row, and is counted in the
metrics under the class of its failure.

Every log line of a run carries ``edge_id`` and ``sync_run`` (the run's
number since start), bound once for the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

import pydantic
import structlog
import tenacity

from edge_service import audit, meta, outbox
from edge_service.backoff import Backoff
from edge_service.metrics import EdgeMetrics, failure_reason
from edge_service.puller import Puller
from edge_service.pusher import Pusher
from edge_service.writer import Writer
from syncproto.audit import AuditAction, AuditEvent

log = structlog.get_logger()


class SyncLoop:
    """Run sync cycles until cancelled; see the module docstring."""

    def __init__(
        self,
        pusher: Pusher,
        puller: Puller,
        writer: Writer,
        backoff: Backoff,
        *,
        edge_id: str,
        interval: float,
        retention: tuple[timedelta, timedelta],
        purge_every: timedelta,
        now: Callable[[], datetime],
        metrics: EdgeMetrics,
    ) -> None:
        self.pusher = pusher
        self.puller = puller
        self._writer = writer
        self._backoff = backoff
        self._edge_id = edge_id
        self._interval = interval
        self._retention = retention
        self._purge_every = purge_every
        self._now = now
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self._started = 0
        self._finished = 0
        self._last_purge: datetime | None = None
        self.last_success_at: datetime | None = None

    async def run_forever(self) -> None:
        """Run a cycle now, then after each interval or wake-up."""
        retrying = tenacity.AsyncRetrying(
            wait=self._backoff,
            stop=tenacity.stop_never,
            retry=tenacity.retry_if_exception_type(Exception),
            before_sleep=self._on_failure,
            sleep=self._back_off,
            reraise=True,
        )
        while True:
            await retrying(self.run_cycle)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)

    async def _back_off(self, delay: float) -> None:
        # An analyst's "sync now" ends the backoff at once instead of waiting it out.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    async def run_now(self) -> None:
        """
        Ask for a cycle, and return once a cycle that started after the call ends.

        A failed cycle counts as ended. While the loop backs off after failures
        this can take long: bound the wait with ``asyncio.timeout``.
        """
        target = self._started + 1
        self._wake.set()
        async with self._progress:
            await self._progress.wait_for(lambda: self._finished >= target)

    async def run_cycle(self) -> None:
        """Push, pull and purge once; raise whatever went wrong."""
        self._wake.clear()
        self._started += 1
        with structlog.contextvars.bound_contextvars(
            edge_id=self._edge_id, sync_run=self._started
        ):
            try:
                await self._run_steps()
            except Exception as exc:
                # Recorded before the cycle counts as ended, so that whoever
                # asked for it ("sync now") reads the failure in the status.
                self._metrics.failed(exc)
                await self._note_failure(
                    f"{type(exc).__name__}: {describe_failure(exc)}"
                )
                raise
            finally:
                async with self._progress:
                    self._finished = self._started
                    self._progress.notify_all()

    async def _run_steps(self) -> None:
        await self.pusher.push_all()
        await self.puller.pull_all()
        await self.purge_if_due()
        now = self._now()
        await self._writer.run(partial(meta.record_success, now=now))
        self.last_success_at = now

    async def purge_if_due(self) -> None:
        """Purge the outbox when the last purge is older than the purge period."""
        now = self._now()
        if self._last_purge and now - self._last_purge < self._purge_every:
            return
        removed = await self.purge(now)
        self._last_purge = now
        if removed:
            log.info("outbox_purged", removed=removed)

    async def purge(self, now: datetime) -> int:
        """Delete outbox rows whose retention has passed at *now*."""
        delivered, rejected = self._retention

        def job(conn: sqlite3.Connection) -> int:
            removed = outbox.purge(
                conn,
                now,
                delivered_retention=delivered,
                rejected_retention=rejected,
            )
            meta.record_purge(conn, now)
            return removed

        return await self._writer.run(job)

    async def _on_failure(self, retry_state: tenacity.RetryCallState) -> None:
        assert retry_state.outcome is not None
        error = retry_state.outcome.exception()
        delay = retry_state.upcoming_sleep
        log.warning(
            "sync_failed",
            edge_id=self._edge_id,
            sync_run=self._started,
            error=type(error).__name__,
            reason=None if error is None else failure_reason(error),
            detail=None if error is None else describe_failure(error),
            attempt=retry_state.attempt_number,
            next_delay=round(delay, 3),
        )
        next_at = self._now() + timedelta(seconds=delay)
        await self._write_status(partial(meta.record_next_attempt, at=next_at))

    async def _note_failure(self, described: str) -> None:
        # *described* is the one line the status shows; it names the failure
        # (an exception and the cloud's problem detail), never a token.
        failed = AuditEvent(
            action=AuditAction.SYNC_FAILED,
            actor=self._edge_id,
            edge_id=self._edge_id,
            reason=described,
        )
        now = self._now()

        def job(conn: sqlite3.Connection) -> None:
            before = meta.load(conn)
            meta.record_failure(conn, described)
            # An edge offline for weeks fails every few seconds: one record
            # per streak and per new reason, the count stays in the status.
            if before.consecutive_failures == 0 or before.last_error != described:
                detail = {"failures_before": before.consecutive_failures}
                event = failed.model_copy(update={"detail": detail})
                audit.append(conn, [event], at=now)

        await self._write_status(job)

    async def _write_status(self, job: Callable[[sqlite3.Connection], None]) -> None:
        try:
            await self._writer.run(job)
        except Exception as exc:
            # The status row is a report, not a reason to stop retrying.
            log.warning("sync_status_not_recorded", error=type(exc).__name__)


def describe_failure(error: BaseException) -> str:
    """
    Return one line saying why a run failed, without the data it failed on.

    A validation error's own text quotes the rejected input, which may be a
    report's content; only where and what failed is kept of it.
    """
    if isinstance(error, pydantic.ValidationError):
        found = error.errors(
            include_url=False, include_input=False, include_context=False
        )
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or error.title}: {e['msg']}"
            for e in found[:3]
        )
    return str(error)
