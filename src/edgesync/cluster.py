"""
Real service processes on 127.0.0.1: a cloud and its edges, each a uvicorn.

Used by the demo and by the tests that need real processes and real HTTP.
Every process is started with its own environment and log file and is always
stopped again: terminate, then kill after a grace period.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from edgesync.certs import DevCerts, client_ssl_context

READY_TIMEOUT = 30.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Node:
    """One running service process."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] = field(repr=False)
    verify: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        """Return the node's base URL: https when it serves TLS."""
        scheme = "http" if self.verify is None else "https"
        return f"{scheme}://127.0.0.1:{self.port}"

    def client(self, **options: Any) -> httpx.AsyncClient:
        """Return an HTTP client for this node, trusting its certificate."""
        return httpx.AsyncClient(
            base_url=self.url, verify=self.verify or True, **options
        )

    async def wait_ready(self, within: float = READY_TIMEOUT) -> None:
        """Poll ``/readyz`` until it answers 200, or fail with the log's tail."""
        deadline = asyncio.get_running_loop().time() + within
        async with self.client(timeout=2.0) as client:
            while asyncio.get_running_loop().time() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        tail = self.log_path.read_text(errors="replace")[-2000:]
        msg = f"{self.name} did not become ready; its log ends with:\n{tail}"
        raise RuntimeError(msg)

    def stop(self, grace: float = 5.0) -> None:
        """Stop the process: SIGTERM, then SIGKILL after *grace* seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def start_node(
    name: str,
    args: list[str],
    env: dict[str, str],
    workdir: Path,
    verify: ssl.SSLContext | None = None,
) -> Node:
    """Start ``edgesync <args>`` as a process with *env* added to ours."""
    port = int(env["EDGESYNC_PORT"])
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    log = log_path.open("wb")
    # The argv is our own interpreter and fixed words, never outside input.
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "edgesync", *args],
        env={**os.environ, "EDGESYNC_LOG_FORMAT": "json", **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    return Node(name, port, process, log_path, log, verify)


def start_cloud(
    workdir: Path,
    database_url: str | None = None,
    certs: DevCerts | None = None,
    *,
    mutual: bool = False,
    extra: dict[str, str] | None = None,
) -> Node:
    """
    Start a cloud service; SQLite in *workdir* unless *database_url* is given.

    With *certs* it serves HTTPS with their server certificate and, *mutual*,
    admits only clients with a certificate of their CA; the node's own client
    then presents the first edge's certificate.
    """
    env = {
        "EDGESYNC_PORT": str(free_port()),
        "EDGESYNC_DATABASE_URL": database_url
        or f"sqlite+aiosqlite:///{workdir / 'cloud.db'}",
        **(extra or {}),
    }
    verify = None
    if certs is not None:
        env["EDGESYNC_TLS_CERTFILE"] = str(certs.server.cert)
        env["EDGESYNC_TLS_KEYFILE"] = str(certs.server.key)
        verify = client_ssl_context(certs.ca)
        if mutual:
            env["EDGESYNC_TLS_CLIENT_CA"] = str(certs.ca)
            pair = next(iter(certs.edges.values()))
            verify = client_ssl_context(certs.ca, pair.cert, pair.key)
    return start_node("cloud", ["cloud", "serve"], env, workdir, verify)


def start_edge(edge_id: str, cloud_url: str, workdir: Path, **extra: str) -> Node:
    """Start an edge service with its own SQLite file in *workdir*."""
    env = {
        "EDGESYNC_PORT": str(free_port()),
        "EDGESYNC_EDGE_ID": edge_id,
        "EDGESYNC_CLOUD_URL": cloud_url,
        "EDGESYNC_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / edge_id}.db",
        **extra,
    }
    return start_node(edge_id, ["edge", "serve"], env, workdir)
