"""
Durable edge writes through the HTTP API, 8 concurrent clients.

A real edge process (uvicorn, SQLite in WAL with synchronous=FULL) takes
``POST /reports`` from 8 clients that each wait for an answer before sending
the next write. Its cloud is unreachable, so the sync loop stays idle in
backoff and the figure is the write path alone.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import httpx
from common import emit, machine, percentile

from edgesync.cluster import free_port, start_edge

CLIENTS = 8
WRITES_PER_CLIENT = 1500
WARMUP = 400


async def client_writes(url: str, prefix: str, count: int) -> list[float]:
    """Send *count* creates one after another; return each latency in seconds."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
        for n in range(count):
            body = {
                "report_id": f"{prefix}-{n:06d}",
                "title": f"Checkpoint {n}",
                "content": "Convoy passed at 0600, no contact. " * 4,
                "classification": "CUI",
            }
            started = time.perf_counter()
            response = await client.post("/reports", json=body)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
    return latencies


async def main() -> None:
    """Run the benchmark and print its figures."""
    workdir = Path(tempfile.mkdtemp(prefix="edgesync-bench-"))
    unreachable = f"http://127.0.0.1:{free_port()}"
    edge = start_edge(
        "bench-edge",
        unreachable,
        workdir,
        EDGESYNC_SYNC_INTERVAL="3600",
        EDGESYNC_BACKOFF_BASE="600",
        EDGESYNC_BACKOFF_CAP="600",
        EDGESYNC_LOG_LEVEL="WARNING",
    )
    try:
        await edge.wait_ready()
        await client_writes(edge.url, "warmup", WARMUP)
        started = time.perf_counter()
        per_client = await asyncio.gather(
            *(
                client_writes(edge.url, f"c{i}", WRITES_PER_CLIENT)
                for i in range(CLIENTS)
            )
        )
        elapsed = time.perf_counter() - started
    finally:
        edge.stop()
    latencies = [latency for client in per_client for latency in client]
    context = {"clients": CLIENTS, "writes": len(latencies), **machine()}
    emit("edge_writes", "writes_per_s", len(latencies) / elapsed, "1/s", **context)
    emit(
        "edge_writes", "p50_latency", percentile(latencies, 50) * 1000, "ms", **context
    )
    emit(
        "edge_writes", "p99_latency", percentile(latencies, 99) * 1000, "ms", **context
    )


if __name__ == "__main__":
    asyncio.run(main())
