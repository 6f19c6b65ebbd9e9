"""
``edgesync demo``: one cloud and three edges as real processes on 127.0.0.1.

Analysts write through each edge's API while edge-b is cut off from the cloud
by a proxy; then edge-b reconnects, every node syncs, and the demo reads every
node back through its API to check that all of them hold the same reports
with the same clocks (the convergence property of docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from edgesync import workload
from edgesync.certs import create_dev_certs
from edgesync.cluster import Node, start_cloud, start_edge
from edgesync.devauth import DevIdentities
from edgesync.logs import configure_logging
from edgesync.netproxy import NetProxy
from edgesync.tokens import Role

CONVERGE_TIMEOUT = 45.0
WRITERS_PER_EDGE = 8
COMPARED = ("title", "content", "classification", "deleted", "clock")


class NotEmptyError(Exception):
    """The cloud database given to the demo already holds reports."""

    def __init__(self) -> None:
        super().__init__(
            "the cloud database already holds reports; the demo's convergence "
            "check needs an empty one (create a new database for --database-url)"
        )


@dataclass(frozen=True)
class DemoOptions:
    """What the demo was asked to do."""

    database_url: str | None = None
    json_output: bool = False
    reports_per_edge: int = 600
    updates: int = 2500
    seed: int = 7


@dataclass
class Cluster:
    """The running nodes, their proxies and an HTTP client for each."""

    cloud: Node
    edges: dict[str, Node]
    proxies: dict[str, NetProxy]
    clients: dict[str, httpx.AsyncClient]

    @property
    def nodes(self) -> list[Node]:
        """Return the cloud first, then the edges."""
        return [self.cloud, *self.edges.values()]


async def run_demo(options: DemoOptions) -> int:
    """Run the demo and return the exit code: 0 when every node converged."""
    console = Console(stderr=options.json_output)
    configure_logging(level="WARNING")
    workdir = Path(tempfile.mkdtemp(prefix="edgesync-demo-"))
    started = time.monotonic()
    cluster = await _start(workdir, options.database_url)
    try:
        summary = await _drive(cluster, options, console)
    except NotEmptyError as exc:
        console.print(f"[red]{exc}[/red]")
        shutil.rmtree(workdir, ignore_errors=True)
        return 2
    except Exception:
        console.print(f"[red]demo failed; logs are kept in {workdir}[/red]")
        raise
    finally:
        await _stop(cluster)
    summary["seconds"] = round(time.monotonic() - started, 2)
    _report(summary, options, console)
    if summary["converged"]:
        shutil.rmtree(workdir, ignore_errors=True)
        return 0
    console.print(f"[red]nodes did not converge; logs are kept in {workdir}[/red]")
    return 1


async def _start(workdir: Path, database_url: str | None) -> Cluster:
    # The cloud serves HTTPS with a development CA that every edge trusts; the
    # proxies pass TLS through untouched, as a real network would.
    certs = create_dev_certs(workdir / "certs", list(workload.EDGES))
    # Authentication is on, as in production: analysts carry issuer tokens,
    # each edge signs its own with a key an administrator registered.
    identities = DevIdentities.create(workdir / "keys", workload.EDGES)
    cloud = start_cloud(
        workdir, database_url, certs=certs, extra=identities.cloud_env()
    )
    edges: dict[str, Node] = {}
    proxies: dict[str, NetProxy] = {}
    try:
        await cloud.wait_ready()
        async with cloud.client(timeout=30.0) as admin:
            await identities.register_edges(admin)
        for edge in workload.EDGES:
            proxy = NetProxy("127.0.0.1", cloud.port)
            await proxy.start()
            proxies[edge] = proxy
            edges[edge] = start_edge(
                edge,
                f"https://127.0.0.1:{proxy.port}",
                workdir,
                EDGESYNC_CLOUD_CA_FILE=str(certs.ca),
                EDGESYNC_SYNC_INTERVAL="0.5",
                EDGESYNC_BACKOFF_CAP="2",
                **identities.edge_env(edge),
            )
        await asyncio.gather(*(node.wait_ready() for node in edges.values()))
    except BaseException:
        for node in [cloud, *edges.values()]:
            node.stop()
        raise
    clients = {
        edge: node.client(
            timeout=30.0,
            headers=identities.bearer("analyst-1", Role.ANALYST, Role.AUDITOR),
        )
        for edge, node in edges.items()
    }
    clients["cloud"] = cloud.client(
        timeout=30.0,
        headers=identities.bearer("resolver-1", Role.RESOLVER, Role.AUDITOR),
    )
    return Cluster(cloud, edges, proxies, clients)


async def _stop(cluster: Cluster) -> None:
    for client in cluster.clients.values():
        await client.aclose()
    for proxy in cluster.proxies.values():
        await proxy.close()
    for node in cluster.nodes:
        node.stop()


async def _drive(
    cluster: Cluster, options: DemoOptions, console: Console
) -> dict[str, Any]:
    cloud = cluster.clients["cloud"]
    if (await cloud.get("/reports", params={"limit": 1})).json()["reports"]:
        raise NotEmptyError

    creates = workload.creates(options.reports_per_edge)
    apart = workload.apart_edits() + workload.own_edits(
        options.updates, options.reports_per_edge, options.seed
    )
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=options.json_output) as progress:
        await _phase(progress, "analysts create reports", creates, cluster)
        await _converge_phase(progress, "first sync", cluster)
        await cluster.proxies["edge-b"].cut()
        await _phase(progress, "edits while edge-b is cut off", apart, cluster)
        await cluster.proxies["edge-b"].restore()
        converged = await _converge_phase(progress, "edge-b reconnects", cluster)
        await _resolve_one(cluster.clients["cloud"], workload.shared_id(50))
        converged = converged and await _converge_phase(
            progress, "a resolver decides shared-report-050", cluster
        )

    summary = await _summarize(cluster)
    summary["changes"] = len(creates) + len(apart)
    summary["converged"] = converged and summary["converged"]
    return summary


async def _phase(
    progress: Progress, title: str, writes: list[workload.Write], cluster: Cluster
) -> None:
    task = progress.add_task(title, total=len(writes))
    # Writes to one report run in order; different reports run side by side.
    chains: dict[tuple[str, str], list[workload.Write]] = defaultdict(list)
    for write in writes:
        report = write.path if write.method != "POST" else str(write.body)
        chains[(write.edge, report)].append(write)
    limits = {edge: asyncio.Semaphore(WRITERS_PER_EDGE) for edge in cluster.edges}

    async def run_chain(chain: list[workload.Write]) -> None:
        async with limits[chain[0].edge]:
            for write in chain:
                await _send(cluster.clients[write.edge], write)
                progress.advance(task)

    await asyncio.gather(*(run_chain(chain) for chain in chains.values()))


async def _send(client: httpx.AsyncClient, write: workload.Write) -> None:
    response = await client.request(write.method, write.path, json=write.body)
    if response.is_error:
        msg = f"{write.method} {write.path} at {write.edge}: {response.text}"
        raise RuntimeError(msg)


async def _converge_phase(progress: Progress, title: str, cluster: Cluster) -> bool:
    task = progress.add_task(title, total=None)
    converged = await _until_quiet(cluster, CONVERGE_TIMEOUT)
    progress.update(task, total=1, completed=1)
    return converged


async def _until_quiet(cluster: Cluster, within: float) -> bool:
    """Sync every edge until none has anything to push or pull, twice in a row."""
    deadline = time.monotonic() + within
    quiet_rounds = 0
    while time.monotonic() < deadline and quiet_rounds < 2:
        for edge in cluster.edges:
            await cluster.clients[edge].post("/sync/run")
        head = (await cluster.clients["cloud"].get("/sync/info")).json()["feed_head"]
        statuses = [await _status(cluster.clients[edge]) for edge in cluster.edges]
        quiet = all(s["pending"] == 0 and s["feed_cursor"] == head for s in statuses)
        quiet_rounds = quiet_rounds + 1 if quiet else 0
    return quiet_rounds >= 2


async def _status(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/sync/status")
    response.raise_for_status()
    status: dict[str, Any] = response.json()
    return status


async def _all_reports(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    reports: dict[str, dict[str, Any]] = {}
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500, "include_deleted": True}
        if after:
            params["after"] = after
        page = (await client.get("/reports", params=params)).json()
        for report in page["reports"]:
            reports[report["report_id"]] = {k: report[k] for k in COMPARED}
        after = page.get("next_after")
        if not page["reports"] or not after:
            return reports


async def _resolve_one(cloud: httpx.AsyncClient, report_id: str) -> None:
    """Resolve the open conflict on *report_id* as a resolver would."""
    listed = await cloud.get(
        "/conflicts", params={"report_id": report_id, "status": "open"}
    )
    (conflict,) = listed.json()["conflicts"]
    shown = await cloud.get(f"/conflicts/{conflict['conflict_id']}")
    kept = max(shown.json()["siblings"], key=lambda s: s["authored_at"])
    response = await cloud.post(
        f"/conflicts/{conflict['conflict_id']}/resolve",
        json={"keep": kept["change_id"], "reason": "Confirmed with both patrols"},
        headers={"If-Match": shown.headers["etag"]},
    )
    if response.is_error:
        msg = f"resolving {report_id}: {response.text}"
        raise RuntimeError(msg)


async def _refuses_anonymous(cloud: Node) -> bool:
    """Whether the cloud answers a call without a token with 401, as it must."""
    async with cloud.client(timeout=10.0) as anonymous:
        return (await anonymous.get("/reports")).status_code == 401


async def _audit(client: httpx.AsyncClient) -> dict[str, Any]:
    """Verify a node's audit chain: whether it is intact, and how long."""
    result = (await client.get("/audit/verify")).json()
    return {"ok": result["ok"], "records": result["checked"]}


async def _summarize(cluster: Cluster) -> dict[str, Any]:
    cloud = cluster.clients["cloud"]
    views = {name: await _all_reports(c) for name, c in cluster.clients.items()}
    reference = views["cloud"]
    differing = {
        name: sum(
            1
            for rid in reference.keys() | view.keys()
            if reference.get(rid) != view.get(rid)
        )
        for name, view in views.items()
    }
    outcomes: Counter[str] = Counter()
    nodes: list[dict[str, Any]] = []
    for name, node in cluster.edges.items():
        status = await _status(cluster.clients[name])
        states = Counter(status["outbox"])
        outcomes.update(states)
        nodes.append(
            {
                "name": name,
                "url": node.url,
                "reports": len(views[name]),
                "pushed": sum(states.values()),
                "pulled": status["entries_pulled"],
                "differing_reports": differing[name],
                "audit": await _audit(cluster.clients[name]),
            }
        )
    conflicts = (await cloud.get("/conflicts", params={"status": "open"})).json()
    resolved = (await cloud.get("/conflicts", params={"status": "resolved"})).json()
    nodes.insert(
        0,
        {
            "name": "cloud",
            "url": cluster.cloud.url,
            "reports": len(reference),
            "feed_head": (await cloud.get("/sync/info")).json()["feed_head"],
            "audit": await _audit(cloud),
        },
    )
    return {
        "converged": all(count == 0 for count in differing.values()),
        "tls": cluster.cloud.url.startswith("https://"),
        "auth": await _refuses_anonymous(cluster.cloud),
        "audit_intact": all(node["audit"]["ok"] for node in nodes),
        "outcomes": dict(sorted(outcomes.items())),
        "merged": outcomes.get("merged", 0),
        "conflicts_open": conflicts["count"],
        "conflicts_resolved": resolved["count"],
        "nodes": nodes,
    }


def _report(summary: dict[str, Any], options: DemoOptions, console: Console) -> None:
    if options.json_output:
        print(json.dumps(summary))  # noqa: T201 - the summary is the command's output
        return
    table = Table(title="edgesync demo")
    columns = ("node", "url", "reports", "pushed", "pulled", "differing", "audit")
    for column in columns:
        table.add_column(column)
    for node in summary["nodes"]:
        audit = node["audit"]
        table.add_row(
            node["name"],
            node["url"],
            str(node["reports"]),
            *(str(node.get(k, "")) for k in ("pushed", "pulled", "differing_reports")),
            f"{audit['records']} {'intact' if audit['ok'] else 'BROKEN'}",
        )
    console.print(table)
    console.print(
        f"changes {summary['changes']}, outcomes {summary['outcomes']}, "
        f"conflicts open {summary['conflicts_open']}, "
        f"resolved {summary['conflicts_resolved']}, {summary['seconds']} s"
    )
    verdict = (
        "[green]converged[/green]" if summary["converged"] else "[red]DIVERGED[/red]"
    )
    console.print(f"every node holds the same reports and clocks: {verdict}")
