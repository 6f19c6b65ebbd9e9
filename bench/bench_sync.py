"""
Push and pull throughput against a real cloud process on PostgreSQL.

Push: changes go to ``POST /sync/push`` in batches of 500, pre-encoded so the
client's JSON work is not measured; each change is checked for duplicates and
conflicts, and its history row and feed entry are written. Measured from one
edge, then from four edges at once (creates, then one update of each report).

Pull: a fresh edge process, kept from the cloud by a cut proxy until the feed
holds every entry, then ``POST /sync/run`` pulls and applies the whole feed.
Last, the same call with nothing new: the cost of a sync that finds nothing.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from common import change, emit, machine, percentile, scratch_database

from edgesync.cluster import start_cloud, start_edge
from edgesync.netproxy import NetProxy

BATCH = 500
REPORTS_ONE_EDGE = 20_000
REPORTS_PER_EDGE_OF_FOUR = 10_000
NOOP_SYNCS = 50
# The cloud holds no state in a process: N workers are N replicas.
WORKERS = (1,)


def batches(edge: str, reports: int) -> list[bytes]:
    """Return encoded push bodies: a create, then an update, of each report."""
    changes = [
        change(edge, f"{edge}-bench-{n:06d}", n + 1, 1, f"Report {n}")
        for n in range(reports)
    ]
    changes += [
        change(edge, f"{edge}-bench-{n:06d}", reports + n + 1, 2, f"Report {n} v2")
        for n in range(reports)
    ]
    return [
        json.dumps({"edge_id": edge, "changes": changes[i : i + BATCH]}).encode()
        for i in range(0, len(changes), BATCH)
    ]


async def push_all(url: str, bodies: list[bytes]) -> None:
    """Send every body in order, as one edge's sync loop would."""
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, timeout=120.0) as client:
        for body in bodies:
            response = await client.post("/sync/push", content=body, headers=headers)
            response.raise_for_status()
            outcomes = {r["outcome"] for r in response.json()["results"]}
            assert outcomes == {"applied"}, outcomes


async def push_figures(url: str, workers: int) -> None:
    """Measure push throughput from one and from four edges."""
    one = batches("bench-1", REPORTS_ONE_EDGE)
    started = time.perf_counter()
    await push_all(url, one)
    elapsed = time.perf_counter() - started
    sent = REPORTS_ONE_EDGE * 2
    emit("push", "changes_per_s", sent / elapsed, "1/s", edges=1, workers=workers)

    four = [batches(f"bench-{n}", REPORTS_PER_EDGE_OF_FOUR) for n in range(2, 6)]
    started = time.perf_counter()
    await asyncio.gather(*(push_all(url, bodies) for bodies in four))
    elapsed = time.perf_counter() - started
    sent = REPORTS_PER_EDGE_OF_FOUR * 2 * 4
    emit("push", "changes_per_s", sent / elapsed, "1/s", edges=4, workers=workers)


async def pull_figures(cloud_port: int, workdir: Path, head: int) -> None:
    """Measure one edge pulling the whole feed, then a sync with nothing new."""
    proxy = NetProxy("127.0.0.1", cloud_port)
    await proxy.start()
    await proxy.cut()
    edge = start_edge(
        "bench-puller",
        proxy.url,
        workdir,
        EDGESYNC_SYNC_INTERVAL="3600",
        EDGESYNC_BACKOFF_CAP="0.5",
        EDGESYNC_PULL_LIMIT="1000",
        EDGESYNC_LOG_LEVEL="WARNING",
        # The figures are the protocol's; docs/performance.md says what a
        # token check adds (one RS256 verify per request).
        EDGESYNC_ALLOW_ANONYMOUS="true",
    )
    try:
        await edge.wait_ready()
        await proxy.restore()
        async with httpx.AsyncClient(base_url=edge.url, timeout=600.0) as client:
            started = time.perf_counter()
            await client.post("/sync/run")
            elapsed = time.perf_counter() - started
            status = (await client.get("/sync/status")).json()
            assert status["feed_cursor"] == head, (status["feed_cursor"], head)
            emit("pull", "changes_per_s", head / elapsed, "1/s", entries=head)

            noop: list[float] = []
            for _ in range(NOOP_SYNCS):
                started = time.perf_counter()
                await client.post("/sync/run")
                noop.append(time.perf_counter() - started)
        emit("pull", "noop_sync_p50", statistics.median(noop) * 1000, "ms")
        emit("pull", "noop_sync_p99", percentile(noop, 99) * 1000, "ms")
    finally:
        edge.stop()
        await proxy.close()


async def main() -> None:
    """Run the push benchmarks with one and two cloud workers, then the pull."""
    for workers in WORKERS:
        workdir = Path(tempfile.mkdtemp(prefix="edgesync-bench-"))
        with scratch_database() as url:
            cloud = start_cloud(
                workdir,
                url,
                extra={
                    "EDGESYNC_LOG_LEVEL": "WARNING",
                    "EDGESYNC_WORKERS": str(workers),
                    "EDGESYNC_ALLOW_ANONYMOUS": "true",
                },
            )
            try:
                await cloud.wait_ready()
                await push_figures(cloud.url, workers)
                if workers == WORKERS[-1]:
                    async with httpx.AsyncClient(base_url=cloud.url) as client:
                        info = (await client.get("/sync/info")).json()
                    await pull_figures(cloud.port, workdir, info["feed_head"])
            finally:
                cloud.stop()
    emit("machine", "cpus", float(machine()["cpus"] or 0), "cores", **machine())


if __name__ == "__main__":
    asyncio.run(main())
