"""
In-process clusters for whole-system tests: one cloud app and several edges.

Each edge reaches the cloud through a :class:`Link`, an httpx transport that
can be cut, can answer with scripted failures, or can lose a response after
the cloud has committed, the faults the cases in docs/protocol.md are about.
Every service runs its real lifespan, its real database and real HTTP
semantics; only the socket is replaced by an in-memory ASGI call.
"""

from __future__ import annotations

import json
import sqlite3
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from cloud_service.app import create_app as create_cloud
from cloud_service.settings import CloudSettings
from edge_service.app import create_app as create_edge
from edge_service.settings import EdgeSettings

CLOUD_URL = "http://127.0.0.1:8000"


class Link(httpx.AsyncBaseTransport):
    """The path from one edge to the cloud, with faults a test can switch on."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.cut = False
        self.scripted: deque[int] = deque()
        self.lose_push_responses = 0
        self.refused_paths: set[str] = set()
        self.truncate_paths: set[str] = set()
        self.poison: bytes | None = None
        self.bodies: list[tuple[str, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Forward *request* unless a fault says otherwise."""
        path = request.url.path
        if self.cut or path in self.refused_paths:
            msg = "link cut"
            raise httpx.ConnectError(msg, request=request)
        body = await request.aread()
        self.bodies.append((path, len(body)))
        if self.scripted:
            return _problem(self.scripted.popleft(), "scripted failure")
        if self.poison is not None and self.poison in body:
            # A proxy or gateway that refuses the whole batch for one item.
            return _problem(400, "the batch holds an item this gateway refuses")
        response = await self.inner.handle_async_request(request)
        if path in self.truncate_paths:
            content = await response.aread()
            return httpx.Response(
                response.status_code,
                content=content[: len(content) // 2],
                headers={"content-type": "application/json"},
            )
        if path == "/sync/push" and self.lose_push_responses:
            self.lose_push_responses -= 1
            await response.aread()
            msg = "response lost after the cloud committed"
            raise httpx.ReadTimeout(msg, request=request)
        return response

    def pushes(self) -> list[int]:
        """Return the body sizes of the pushes that reached the cloud."""
        return [size for path, size in self.bodies if path == "/sync/push"]


def _problem(status: int, detail: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"title": "refused", "status": status, "detail": detail},
        headers={"content-type": "application/problem+json"},
    )


@dataclass
class Edge:
    """A running edge app, its HTTP client and its link to the cloud."""

    edge_id: str
    app: FastAPI
    client: httpx.AsyncClient
    link: Link
    database: Path

    async def write(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send an analyst's request and fail the test on a server error."""
        headers = {"X-Analyst": "analyst-1", **kwargs.pop("headers", {})}
        response = await self.client.request(method, path, headers=headers, **kwargs)
        assert response.status_code < 500, response.text
        return response

    async def sync(self) -> dict[str, Any]:
        """Run one sync cycle now and return the edge's status."""
        response = await self.client.post("/sync/run")
        assert response.status_code == 200, response.text
        status = await self.client.get("/sync/status")
        result: dict[str, Any] = status.json()
        return result

    def outbox_payload(self, origin_seq: int) -> dict[str, Any]:
        """Return the change stored in the outbox row *origin_seq*, as sent."""
        with sqlite3.connect(self.database) as conn:
            row = conn.execute(
                "SELECT payload FROM outbox WHERE origin_seq = ?", (origin_seq,)
            ).fetchone()
        payload: dict[str, Any] = json.loads(row[0])
        return payload

    def tamper(self, origin_seq: int, **changes: Any) -> None:
        """Rewrite an outbox row's change behind the edge's back."""
        payload = self.outbox_payload(origin_seq)
        for key, value in changes.items():
            if key in payload["fields"]:
                payload["fields"][key] = value
            else:
                payload[key] = value
        with sqlite3.connect(self.database) as conn:
            conn.execute(
                "UPDATE outbox SET payload = ? WHERE origin_seq = ?",
                (json.dumps(payload), origin_seq),
            )

    async def outbox(self) -> list[dict[str, Any]]:
        """Return every outbox row as the edge lists it."""
        response = await self.client.get("/outbox", params={"limit": 1000})
        entries: list[dict[str, Any]] = response.json()["entries"]
        return entries

    async def report(self, report_id: str) -> dict[str, Any]:
        """Return the edge's view of one report, deleted ones included."""
        response = await self.client.get(
            f"/reports/{report_id}", params={"include_deleted": True}
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


@dataclass
class Cluster:
    """A cloud and its edges, all in this process."""

    cloud_app: FastAPI
    cloud: httpx.AsyncClient
    edges: dict[str, Edge] = field(default_factory=dict)
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    tmp_path: Path = Path()

    async def add_edge(self, edge_id: str, **settings: Any) -> Edge:
        """Start an edge whose sync loop runs only when a test asks it to."""
        link = Link(httpx.ASGITransport(app=self.cloud_app))
        database = self.tmp_path / f"{edge_id}.db"
        config = EdgeSettings(
            edge_id=edge_id,
            cloud_url=CLOUD_URL,
            database_url=f"sqlite+aiosqlite:///{database}",
            sync_interval=settings.pop("sync_interval", 3600),
            backoff_base=settings.pop("backoff_base", 0.01),
            backoff_cap=settings.pop("backoff_cap", 0.05),
            allow_anonymous=True,
            **settings,
        )
        app = create_edge(config, transport=link)
        await self.stack.enter_async_context(app.router.lifespan_context(app))
        client = await self.stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://127.0.0.1:8001",
            )
        )
        edge = Edge(edge_id, app, client, link, database)
        # The loop's first cycle starts with the app; wait for one so that no
        # cycle is under way when the test starts writing.
        await edge.sync()
        self.edges[edge_id] = edge
        return edge

    async def sync_all(self, rounds: int = 2) -> None:
        """Sync every edge in turn, *rounds* times: enough to reach a fixpoint."""
        for _ in range(rounds):
            for edge in self.edges.values():
                await edge.sync()

    async def views(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Return every node's reports as report_id → compared fields."""
        clients = {"cloud": self.cloud} | {k: e.client for k, e in self.edges.items()}
        return {name: await all_reports(client) for name, client in clients.items()}


COMPARED = ("title", "content", "classification", "deleted", "clock")


async def all_reports(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """Read every report of one node through its API, page by page."""
    reports: dict[str, dict[str, Any]] = {}
    params: dict[str, Any] = {"limit": 500, "include_deleted": True}
    for _ in range(1000):
        page = (await client.get("/reports", params=params)).json()
        for report in page["reports"]:
            reports[report["report_id"]] = {k: report[k] for k in COMPARED}
        if not page["reports"] or not page.get("next_after"):
            break
        params["after"] = page["next_after"]
    return reports


async def assert_converged(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """Assert the convergence property of docs/protocol.md and return the state."""
    views = await cluster.views()
    cloud = views.pop("cloud")
    for name, view in views.items():
        assert view == cloud, f"{name} differs from the cloud"
    return cloud


@asynccontextmanager
async def cluster_on(
    database_url: str, tmp_path: Path, **cloud_settings: Any
) -> AsyncIterator[Cluster]:
    """Run a cloud on *database_url*; edges are added by the test."""
    app = create_cloud(
        CloudSettings(database_url=database_url, allow_anonymous=True, **cloud_settings)
    )
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        cloud = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=CLOUD_URL
            )
        )
        cluster = Cluster(app, cloud, stack=stack, tmp_path=tmp_path)
        yield cluster
