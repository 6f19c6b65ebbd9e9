"""
Durable edge writes through the HTTP API, 8 concurrent clients.

A real edge process (uvicorn, SQLite in WAL with synchronous=FULL) takes
``POST /reports`` from 8 clients that each wait for an answer before sending
the next write. Its cloud is unreachable, so the sync loop stays idle in
backoff and the figure is the write path alone.

The load comes from ``wrk`` (8 connections) when it is installed: a Python
client on the same two cores would use more CPU than the server it measures.
Without wrk, 8 httpx clients in this process stand in, and the figures say so.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from common import emit, machine, percentile

from edgesync.cluster import free_port, start_edge

CLIENTS = 8
SECONDS = 10
WRITES_PER_CLIENT = 1500
WARMUP = 400
BODY = (
    '{"report_id":"%s-%d-%d","title":"Checkpoint","content":"'
    + "Convoy passed at 0600, no contact. " * 4
    + '","classification":"CUI"}'
)
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local next_thread = 0
local body = [[%s]]
setup = function(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
end
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, "/reports", nil, string.format(body, "%s", tid, n))
end
"""
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


async def httpx_writes(url: str, prefix: str, count: int) -> list[float]:
    """Send *count* creates one after another; return each latency in seconds."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
        for n in range(count):
            started = time.perf_counter()
            response = await client.post(
                "/reports",
                content=BODY % (prefix, 0, n),
                headers={"content-type": "application/json"},
            )
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
    return latencies


def wrk_figures(wrk: str, url: str, workdir: Path) -> dict[str, float]:
    """Run *wrk* against *url*; return writes/s and p50/p99 latency in ms."""
    script = workdir / "post.lua"
    script.write_text(LUA % (BODY, uuid.uuid4().hex[:8]))
    output = subprocess.run(  # noqa: S603 - fixed argv
        [
            wrk,
            "-t1",
            f"-c{CLIENTS}",
            f"-d{SECONDS}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        msg = f"writes failed under load:\n{output}"
        raise RuntimeError(msg)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    figures = {"writes_per_s": rate}
    for pct in ("50", "99"):
        found = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)\b", output)
        assert found is not None, output
        figures[f"p{pct}"] = float(found[1]) * _UNITS[found[2]]
    return figures


async def httpx_figures(url: str) -> dict[str, float]:
    """Drive the edge with 8 httpx clients; return the same figures."""
    await httpx_writes(url, "warmup", WARMUP)
    started = time.perf_counter()
    per_client = await asyncio.gather(
        *(httpx_writes(url, f"c{i}", WRITES_PER_CLIENT) for i in range(CLIENTS))
    )
    elapsed = time.perf_counter() - started
    latencies = [latency for client in per_client for latency in client]
    return {
        "writes_per_s": len(latencies) / elapsed,
        "p50": percentile(latencies, 50) * 1000,
        "p99": percentile(latencies, 99) * 1000,
    }


async def main() -> None:
    """Run the benchmark and print its figures."""
    workdir = Path(tempfile.mkdtemp(prefix="edgesync-bench-"))
    edge = start_edge(
        "bench-edge",
        f"http://127.0.0.1:{free_port()}",
        workdir,
        EDGESYNC_SYNC_INTERVAL="3600",
        EDGESYNC_BACKOFF_BASE="600",
        EDGESYNC_BACKOFF_CAP="600",
        EDGESYNC_LOG_LEVEL="WARNING",
        # The figures are the protocol's; docs/performance.md says what a
        # token check adds (one RS256 verify per request).
        EDGESYNC_ALLOW_ANONYMOUS="true",
    )
    wrk = shutil.which("wrk")
    client = "wrk" if wrk else "httpx"
    try:
        await edge.wait_ready()
        if wrk:
            await httpx_writes(edge.url, "warmup", WARMUP)
            figures = await asyncio.to_thread(wrk_figures, wrk, edge.url, workdir)
        else:
            figures = await httpx_figures(edge.url)
    finally:
        edge.stop()
    context = {"clients": CLIENTS, "load": client, **machine()}
    emit("edge_writes", "writes_per_s", figures["writes_per_s"], "1/s", **context)
    emit("edge_writes", "p50_latency", figures["p50"], "ms", **context)
    emit("edge_writes", "p99_latency", figures["p99"], "ms", **context)


if __name__ == "__main__":
    asyncio.run(main())
