"""
Cases that need real processes: a cloud and an edge as uvicorn processes on
127.0.0.1, with a TCP proxy between them that can cut or slow the link.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from edgesync.cluster import Node, start_cloud, start_edge
from edgesync.netproxy import NetProxy

pytestmark = pytest.mark.slow

# These cases are about durability and the link, not about who calls: both
# services run without authentication, which they refuse unless told.
ANONYMOUS = {"EDGESYNC_ALLOW_ANONYMOUS": "true"}


@asynccontextmanager
async def linked_edge(
    tmp_path: Path, edge_env: dict[str, str], *, cut: bool = False
) -> AsyncIterator[tuple[Node, NetProxy, httpx.AsyncClient]]:
    """Run a cloud process and an edge process joined by a proxy."""
    cloud = start_cloud(tmp_path, extra=ANONYMOUS)
    proxy: NetProxy | None = None
    edge: Node | None = None
    try:
        await cloud.wait_ready()
        proxy = NetProxy("127.0.0.1", cloud.port)
        await proxy.start()
        if cut:
            await proxy.cut()
        edge = start_edge("edge-a", proxy.url, tmp_path, **ANONYMOUS, **edge_env)
        await edge.wait_ready()
        async with httpx.AsyncClient(base_url=edge.url, timeout=30) as client:
            yield edge, proxy, client
    finally:
        if proxy is not None:
            await proxy.close()
        for node in (edge, cloud):
            if node is not None:
                node.stop()


def log_events(node: Node, event: str) -> list[dict[str, Any]]:
    """Return the JSON log lines of *node* whose event is *event*."""
    found = []
    for line in node.log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == event:
                found.append(record)
    return found


async def write_reports(client: httpx.AsyncClient, count: int) -> None:
    for n in range(count):
        body = {
            "report_id": f"rpt-{n:03d}",
            "title": "T",
            "content": "C",
            "classification": "CUI",
        }
        response = await client.post("/reports", json=body)
        assert response.status_code == 201, response.text


async def wait_for(predicate: Any, within: float) -> float:
    """Poll *predicate* until true; return the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if await predicate():
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    pytest.fail(f"condition not met within {within} s")


async def test_bc15_retry_resumes_without_a_new_write(tmp_path: Path) -> None:
    """
    BC-15: with the cloud unreachable for 30 s the edge keeps trying with
    growing gaps and shows the last error and next attempt; within cap plus
    jitter of recovery its 3 changes are applied, with no new write.
    """
    env = {
        "EDGESYNC_BACKOFF_BASE": "0.5",
        "EDGESYNC_BACKOFF_CAP": "10",
        "EDGESYNC_SYNC_INTERVAL": "3600",
    }
    async with linked_edge(tmp_path, env, cut=True) as (edge, proxy, client):
        await write_reports(client, 3)
        await asyncio.sleep(30)
        during = (await client.get("/sync/status")).json()
        await proxy.restore()

        async def drained() -> bool:
            status = (await client.get("/sync/status")).json()
            return bool(status["pending"] == 0)

        took = await wait_for(drained, within=20)

    assert during["pending"] == 3
    assert during["last_error"]
    assert during["next_attempt_at"]
    delays = [record["next_delay"] for record in log_events(edge, "sync_failed")]
    assert len(delays) > 3
    assert all(0.5 <= delay <= 10 for delay in delays)
    assert max(delays[3:]) > max(delays[:2])
    assert took <= 15


async def test_bc21_sigterm_mid_batch_leaves_no_half_marked_batch(
    tmp_path: Path,
) -> None:
    """
    BC-21: SIGTERM while a batch waits for the cloud's answer stops the edge
    within 5 s with no pending-task warning, and the batch's outbox rows are
    all answered or all still pending, never half marked.
    """
    env = {"EDGESYNC_SYNC_INTERVAL": "3600", "EDGESYNC_BATCH_SIZE": "50"}
    async with linked_edge(tmp_path, env) as (edge, proxy, client):
        await write_reports(client, 120)
        proxy.response_delay = 3.0
        sync = asyncio.create_task(client.post("/sync/run"))
        await wait_for(_pushing(proxy), within=10)
        started = time.monotonic()
        edge.process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(edge.process.wait, 10)
        stopped_in = time.monotonic() - started
        sync.cancel()
        await asyncio.gather(sync, return_exceptions=True)

    # uvicorn re-raises the signal after a graceful shutdown, so the exit
    # status names SIGTERM; the lifespan's last log line shows it ran to the end.
    assert code in (0, -signal.SIGTERM)
    assert stopped_in < 5
    assert log_events(edge, "edge_stopped")
    log = edge.log_path.read_text(errors="replace")
    assert "Task was destroyed" not in log
    with sqlite3.connect(tmp_path / "edge-a.db") as conn:
        rows = conn.execute(
            "SELECT origin_seq, state FROM outbox ORDER BY 1"
        ).fetchall()
    for start in range(0, 120, 50):
        batch = {state for seq, state in rows if start < seq <= start + 50}
        assert batch in ({"pending"}, {"applied"}), (start, batch)


def _pushing(proxy: NetProxy) -> Any:
    async def started() -> bool:
        return any(line.startswith(b"POST /sync/push") for line in proxy.requests)

    return started
