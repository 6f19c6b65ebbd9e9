"""
Fixtures of the browser tests: Debian's Chromium, and a running cluster.

The cluster is real processes on 127.0.0.1, as ``make demo`` runs them: a
cloud serving HTTPS with a development CA that the edges trust, two edges,
authentication on (the edges registered by an administrator, analysts with
issuer tokens). The edges sync only when asked, so a test sees each step.

Playwright's async API only: its sync API leaves an event loop running that
breaks every later pytest-asyncio test of the process (STACK.md §5).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright

from edgesync.certs import create_dev_certs
from edgesync.cluster import Node, start_cloud, start_edge
from edgesync.devauth import DevIdentities
from edgesync.tokens import Role

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
EDGES = ("edge-a", "edge-b")
# The loops sleep for an hour: only Sync now (or POST /sync/run) syncs.
QUIET = {"EDGESYNC_SYNC_INTERVAL": "3600", "EDGESYNC_BACKOFF_BASE": "60"}
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Cluster:
    """The running cloud and edges, and the identities that sign their tokens."""

    cloud: Node
    edges: dict[str, Node]
    identities: DevIdentities

    def token(self, sub: str, *roles: Role) -> str:
        """Return an analyst token of full clearance."""
        return self.identities.token(sub, *roles)

    def api(self, name: str) -> httpx.AsyncClient:
        """Return an HTTP client of analyst-1 for the node *name*."""
        node = self.cloud if name == "cloud" else self.edges[name]
        return node.client(
            timeout=30, headers=self.identities.bearer("analyst-1", Role.ANALYST)
        )


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; missing, the tests skip, or fail under CI=true."""
    if CHROMIUM.exists():
        return CHROMIUM
    message = (
        f"the browser tests need Chromium at {CHROMIUM}: `make browser` installs "
        "it (apt-get install chromium)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """A headless Chromium driven by Playwright."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=LAUNCH_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    """Where the screenshots go: ``EDGESYNC_TEST_ARTIFACTS``, else test-artifacts/."""
    root = Path(os.environ.get("EDGESYNC_TEST_ARTIFACTS") or REPO / "test-artifacts")
    folder = root / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    """A cloud over HTTPS and edges edge-a and edge-b, authenticated."""
    workdir = tmp_path_factory.mktemp("browser-cluster")
    certs = create_dev_certs(workdir / "certs", list(EDGES))
    identities = DevIdentities.create(workdir / "keys", EDGES)
    with contextlib.ExitStack() as running:
        cloud = start_cloud(workdir, certs=certs, extra=identities.cloud_env())
        running.callback(cloud.stop)
        await cloud.wait_ready()
        async with cloud.client(timeout=30) as admin:
            await identities.register_edges(admin)
        edges: dict[str, Node] = {}
        for edge_id in EDGES:
            edges[edge_id] = start_edge(
                edge_id,
                cloud.url,
                workdir,
                EDGESYNC_CLOUD_CA_FILE=str(certs.ca),
                **QUIET,
                **identities.edge_env(edge_id),
            )
            running.callback(edges[edge_id].stop)
        for edge in edges.values():
            await edge.wait_ready()
        yield Cluster(cloud, edges, identities)
