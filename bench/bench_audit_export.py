"""
Exporting and verifying the cloud's audit log: memory stays flat, on SQLite
and on PostgreSQL.

The log is filled straight through ``cloud_service.audit.append``, 1,000
records a transaction, to 10,000 and then 100,000 records. At each size a
fresh cloud process (anonymous, one worker) serves ``GET /audit/export``
(NDJSON) to one client that reads the stream to the end and throws it away,
then ``GET /audit/verify``. While each call runs, the process's resident set
(``VmRSS`` in ``/proc/<pid>/status``) is read every 50 ms; the figures are
that before the call, its peak, the growth, the seconds the call took and
records per second. An export whose growth is the same at both sizes holds
one page of records, not the log.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from common import emit, machine, scratch_database

from cloud_service import audit
from cloud_service.db import create_engine, session_factory, write_transaction
from cloud_service.settings import CloudSettings
from edgesync.cluster import Node, start_cloud
from edgesync.logs import configure_logging
from edgesync.migrate import upgrade
from syncproto.audit import AuditAction, AuditEvent

BENCH = "audit_export"
SIZES = (10_000, 100_000)
PER_TRANSACTION = 1_000
SAMPLE_SECONDS = 0.05
# No call here should take this long; a sampler or a client stops at it.
CALL_TIMEOUT = 600.0
MB = 1024 * 1024


def events(first: int, count: int) -> list[AuditEvent]:
    """Return *count* changes received, numbered from *first*, as the inbox records."""
    return [
        AuditEvent(
            action=AuditAction.CHANGE_RECEIVED,
            actor=f"analyst-edge-{n % 8}",
            edge_id=f"edge-{n % 8}",
            report_id=f"rpt-{n:07d}",
            change_id=uuid.uuid4(),
            outcome="applied",
            before_digest=None if n % 4 == 0 else _digest(n - 1),
            after_digest=_digest(n),
            classification="CUI",
            request_id=uuid.uuid4().hex,
        )
        for n in range(first, first + count)
    ]


def _digest(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


async def fill(database_url: str, have: int, want: int) -> None:
    """Append records until the log holds *want*, 1,000 a transaction."""
    engine = create_engine(CloudSettings(database_url=database_url))
    sessions = session_factory(engine)
    try:
        for first in range(have + 1, want + 1, PER_TRANSACTION):
            count = min(PER_TRANSACTION, want + 1 - first)
            async with write_transaction(sessions) as session:
                await audit.append(session, events(first, count))
    finally:
        await engine.dispose()


def rss_bytes(pid: int) -> int:
    """Return the resident set of process *pid*, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    msg = f"no VmRSS for process {pid}"
    raise RuntimeError(msg)


@dataclass
class Sampler:
    """Read a process's resident set every 50 ms in a thread; keep the peak."""

    pid: int
    peak: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self.peak = rss_bytes(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak = max(self.peak, rss_bytes(self.pid))

    def _run(self) -> None:
        deadline = time.monotonic() + CALL_TIMEOUT
        while not self._stop.wait(SAMPLE_SECONDS) and time.monotonic() < deadline:
            self.peak = max(self.peak, rss_bytes(self.pid))


def export(client: httpx.Client) -> int:
    """Read a whole NDJSON export and return how many records it held."""
    lines = 0
    with client.stream("GET", "/audit/export", params={"format": "ndjson"}) as body:
        body.raise_for_status()
        for chunk in body.iter_bytes():
            lines += chunk.count(b"\n")
    return lines


def verify(client: httpx.Client) -> int:
    """Verify the whole chain and return how many records were checked."""
    response = client.get("/audit/verify")
    response.raise_for_status()
    result = response.json()
    assert result["ok"], result
    checked: int = result["checked"]
    return checked


def measure(
    node: Node, op: str, call: Callable[[], int], database: str, size: int
) -> None:
    """Run *call* once under the sampler and emit its figures."""
    before = rss_bytes(node.process.pid)
    with Sampler(node.process.pid) as sampler:
        started = time.perf_counter()
        records = call()
        seconds = time.perf_counter() - started
    context = {"op": op, "database": database, "size": size, **machine()}
    figures = (
        ("records", records, "1"),
        ("rss_before_mb", before / MB, "MB"),
        ("rss_peak_mb", sampler.peak / MB, "MB"),
        ("rss_growth_mb", (sampler.peak - before) / MB, "MB"),
        ("seconds", seconds, "s"),
        ("records_per_s", records / seconds, "1/s"),
    )
    for metric, value, unit in figures:
        emit(BENCH, metric, value, unit, **context)


async def measure_size(
    database: str, database_url: str, workdir: Path, size: int
) -> None:
    """Serve the log of *size* records from a fresh cloud; export, then verify."""
    node = start_cloud(
        workdir,
        database_url,
        extra={"EDGESYNC_ALLOW_ANONYMOUS": "true", "EDGESYNC_LOG_LEVEL": "WARNING"},
    )
    try:
        await node.wait_ready()
        # A blocking client in a thread of its own, beside the sampler's.
        await asyncio.to_thread(measure_calls, node, database, size)
    finally:
        node.stop()


def measure_calls(node: Node, database: str, size: int) -> None:
    """Warm the cloud up, then measure one export and one verification."""
    with httpx.Client(base_url=node.url, timeout=CALL_TIMEOUT) as client:
        # Load the export's code first, with an export that matches nothing.
        warm = client.get("/audit/export", params={"action": "edge.revoked"})
        warm.raise_for_status()
        measure(node, "export", lambda: export(client), database, size)
        measure(node, "verify", lambda: verify(client), database, size)


async def run(database: str, database_url: str, workdir: Path) -> None:
    """Migrate, then fill the log size by size and measure each."""
    await upgrade("cloud", database_url)
    have = 0
    for size in SIZES:
        await fill(database_url, have, size)
        await measure_size(database, database_url, workdir, size)
        # The warm-up and the measured export each appended their record.
        have = size + 2


async def main() -> None:
    """Measure on SQLite, then on a scratch PostgreSQL database."""
    configure_logging("console", "WARNING")
    with tempfile.TemporaryDirectory(prefix="edgesync-bench-audit-") as folder:
        workdir = Path(folder)
        await run("sqlite", f"sqlite+aiosqlite:///{workdir / 'cloud.db'}", workdir)
        with scratch_database() as url:
            await run("postgresql", url, workdir)


if __name__ == "__main__":
    asyncio.run(main())
