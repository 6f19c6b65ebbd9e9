"""
Group commit through one writer thread.

SQLite allows one writer at a time, and a durable commit costs an fsync. The
:class:`Writer` owns the only writing connection: its thread takes every job
queued so far, runs them in one ``BEGIN IMMEDIATE`` transaction, each inside
its own savepoint, and commits once. A failing job rolls back its savepoint
only, and its caller gets the exception. Because every job runs on the same
connection, one after the other, a read-modify-write inside a job (a clock
tick, a cursor move) can never lose an update, and "database is locked"
cannot happen between edge writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import structlog

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], T]

log = structlog.get_logger()

# Enough to absorb a burst of concurrent requests in one commit while keeping
# any single transaction short for readers waiting on the WAL checkpoint.
MAX_JOBS_PER_COMMIT = 256


@dataclass
class _Queued(Generic[T]):
    job: Job[T]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]
    result: Any = None
    error: BaseException | None = field(default=None)


class WriterClosedError(RuntimeError):
    """Raised by :meth:`Writer.run` once the writer has been closed."""


class Writer:
    """
    Run write jobs in the writer thread and await their results.

    A job is a plain function taking the connection. It must not commit,
    roll back or open a transaction: the writer does that around it.
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._queue: queue.SimpleQueue[_Queued[Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._serve, name="edge-writer", daemon=True
        )
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._closed = False

    async def start(self) -> None:
        """Open the connection in the writer thread and start serving jobs."""
        self._thread.start()
        await asyncio.to_thread(self._ready.wait)
        if self._startup_error is not None:
            raise self._startup_error

    async def run(self, job: Job[T]) -> T:
        """
        Queue *job*, and return its result once its transaction has committed.

        If the caller is cancelled, the job still runs and commits: a write
        that was handed over is never half done.
        """
        if self._closed:
            msg = "the writer is closed"
            raise WriterClosedError(msg)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Queued(job, loop, future))

        return await future

    async def close(self) -> None:
        """Finish the jobs already queued, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)

    def _serve(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                batch, stop = self._take()
                if batch:
                    self._commit(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _take(self) -> tuple[list[_Queued[Any]], bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        while len(batch) < MAX_JOBS_PER_COMMIT:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _commit(self, conn: sqlite3.Connection, batch: list[_Queued[Any]]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            for item in batch:
                self._run_one(conn, item)
            conn.execute("COMMIT")
        except Exception as exc:
            # The transaction itself failed (disk full, I/O error): nothing of
            # this batch is stored, so every job's caller hears about it.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log.error("writer_commit_failed", jobs=len(batch), exc_info=exc)
            for item in batch:
                item.error = exc
        for item in batch:
            with contextlib.suppress(RuntimeError):
                # A closed loop means the caller is gone; the result is moot.
                item.loop.call_soon_threadsafe(_settle, item)

    @staticmethod
    def _run_one(conn: sqlite3.Connection, item: _Queued[Any]) -> None:
        conn.execute("SAVEPOINT job")
        try:
            item.result = item.job(conn)
        except Exception as exc:
            conn.execute("ROLLBACK TO job")
            item.error = exc
        conn.execute("RELEASE job")


def _settle(item: _Queued[Any]) -> None:
    if item.future.cancelled():
        return
    if item.error is not None:
        item.future.set_exception(item.error)
    else:
        item.future.set_result(item.result)
