"""
Case BC-09 (shared/cases) end to end: a conflict keeps what its resolution
needs, and the resolution reaches every edge without re-opening anything.

Edges are driven through the edge API and the cloud through its API only.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.system.harness import Cluster, Edge, assert_converged

T0 = {"title": "T0", "content": "C0", "classification": "CUI", "deleted": False}
RESOLVED_CLOCK = {"edge-a": 2, "edge-b": 1, "cloud": 1}
REASON = "edge-b's team revisited the site after edge-a"


class FailingPushes(httpx.AsyncBaseTransport):
    """
    Answer the first *failures* pushes with 503, then pass requests through.

    ``Link.scripted`` fails whatever request comes next, which in a sync
    cycle is ``GET /sync/info``; BC-09 step 4 needs the push itself refused.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.answers: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Refuse the push while failures remain, else forward the request."""
        if request.url.path == "/sync/push" and self.failures:
            self.failures -= 1
            self.answers.append(503)
            return httpx.Response(503, json={"title": "Unavailable", "status": 503})
        response = await self.inner.handle_async_request(request)
        if request.url.path == "/sync/push":
            self.answers.append(response.status_code)
        return response


async def _seed(a: Edge, b: Edge) -> None:
    """Step 1: rpt-070 and rpt-071 at {edge-a: 1} with T0/C0/CUI on both edges."""
    for report_id in ("rpt-070", "rpt-071"):
        body = {"report_id": report_id, **T0}
        del body["deleted"]
        await a.write("POST", "/reports", json=body)
    await a.sync()
    await b.sync()
    for edge in (a, b):
        assert (await edge.report("rpt-070"))["clock"] == {"edge-a": 1}


async def _outbox_state(edge: Edge, report_id: str) -> str:
    rows = [r for r in await edge.outbox() if r["report_id"] == report_id]
    state: str = rows[-1]["state"]
    return state


async def _conflict_through_503s(cluster: Cluster, a: Edge, b: Edge) -> str:
    """
    Steps 2 and 4: edge-a pushes T-A, then edge-b's T-B/C-B is refused with
    503 twice, stays pending, and its third push opens the conflict.
    """
    await a.write("PATCH", "/reports/rpt-070", json={"title": "T-A"})
    await b.write("PATCH", "/reports/rpt-070", json={"title": "T-B", "content": "C-B"})
    await a.sync()
    failing = FailingPushes(b.link.inner, failures=2)
    b.link.inner = failing

    for _ in range(2):
        await b.sync()
        assert await _outbox_state(b, "rpt-070") == "pending"
    await b.sync()

    assert failing.answers == [503, 503, 200]
    assert await _outbox_state(b, "rpt-070") == "conflict"
    listing = (await cluster.cloud.get("/conflicts")).json()
    assert listing["count"] == 1
    conflict_id: str = listing["conflicts"][0]["conflict_id"]
    return conflict_id


async def _check_conflict_view(cluster: Cluster, conflict_id: str) -> dict[str, Any]:
    """Step 2: the base, both full snapshots and clocks, and who changed what."""
    conflict: dict[str, Any] = (
        await cluster.cloud.get(f"/conflicts/{conflict_id}")
    ).json()
    siblings = {s["origin"]: s for s in conflict["siblings"]}

    assert conflict["base_clock"] == {"edge-a": 1}
    assert conflict["base"] == T0
    assert siblings["edge-a"]["fields"] == T0 | {"title": "T-A"}
    assert siblings["edge-a"]["clock"] == {"edge-a": 2}
    assert siblings["edge-a"]["changed_fields"] == ["title"]
    assert siblings["edge-b"]["fields"] == T0 | {"title": "T-B", "content": "C-B"}
    assert siblings["edge-b"]["clock"] == {"edge-a": 1, "edge-b": 1}
    assert siblings["edge-b"]["changed_fields"] == ["title", "content"]
    assert conflict["conflicting_fields"] == ["title"]
    (title,) = conflict["diff"]
    assert title["base"] == "T0"
    assert {v["value"] for v in title["values"]} == {"T-A", "T-B"}
    provisional = (await cluster.cloud.get("/reports/rpt-070")).json()
    assert provisional["content"] == "C-B"
    assert provisional["clock"] == {"edge-a": 2, "edge-b": 1}
    return conflict


async def _merge_disjoint_edits(cluster: Cluster, a: Edge, b: Edge) -> None:
    """Step 3: title at edge-a and content at edge-b merge under the max clock."""
    await a.write("PATCH", "/reports/rpt-071", json={"title": "T-A"})
    await b.write("PATCH", "/reports/rpt-071", json={"content": "C-B"})
    await a.sync()
    await b.sync()

    assert await _outbox_state(b, "rpt-071") == "merged"
    merged = (await cluster.cloud.get("/reports/rpt-071")).json()
    assert (merged["title"], merged["content"]) == ("T-A", "C-B")
    assert merged["clock"] == {"edge-a": 2, "edge-b": 1}


async def _resolve_keeping_edge_b(
    cluster: Cluster, conflict: dict[str, Any]
) -> dict[str, Any]:
    """Step 5: resolver-1 keeps edge-b's sibling, with the conflict's ETag."""
    url = f"/conflicts/{conflict['conflict_id']}"
    etag = (await cluster.cloud.get(url)).headers["ETag"]
    keep = next(s for s in conflict["siblings"] if s["origin"] == "edge-b")
    response = await cluster.cloud.post(
        f"{url}/resolve",
        json={"keep": keep["change_id"], "reason": REASON},
        headers={"If-Match": etag, "X-Analyst": "resolver-1"},
    )
    assert response.status_code == 200, response.text
    resolved: dict[str, Any] = response.json()
    return resolved


async def test_bc09_conflict_keeps_what_resolution_needs(cluster: Cluster) -> None:
    """
    BC-09: the conflict shows base, siblings and changed fields; the provisional
    state carries C-B; disjoint edits merge; edge-b's change stays pending
    through two 503s; keeping edge-b's sibling gives T-B/C-B at
    {edge-a:2, edge-b:1, cloud:1} on every node, naming resolver-1 and the
    reason, and no edge re-opens a conflict when it pulls the resolution.
    """
    a = await cluster.add_edge("edge-a")
    # A long backoff: each retry is one explicit sync, never one on its own.
    b = await cluster.add_edge("edge-b", backoff_base=60, backoff_cap=60)
    await _seed(a, b)
    conflict_id = await _conflict_through_503s(cluster, a, b)
    conflict = await _check_conflict_view(cluster, conflict_id)
    await _merge_disjoint_edits(cluster, a, b)

    resolved = await _resolve_keeping_edge_b(cluster, conflict)
    await cluster.sync_all()

    assert resolved["resolution"]["resolved_by"] == "resolver-1"
    assert resolved["resolution"]["reason"] == REASON
    state = await assert_converged(cluster)
    assert state["rpt-070"] == T0 | {
        "title": "T-B",
        "content": "C-B",
        "clock": RESOLVED_CLOCK,
    }
    for edge in (a, b):
        assert (await edge.report("rpt-070"))["sync_state"] == "synced"
        assert (await edge.sync())["in_conflict"] == 0
    listing = (await cluster.cloud.get("/conflicts")).json()
    assert listing["count"] == 1
    assert listing["conflicts"][0]["status"] == "resolved"
    audit = await cluster.cloud.get(
        "/audit", params={"action": "conflict.resolved", "report_id": "rpt-070"}
    )
    (record,) = audit.json()["records"]
    assert (record["actor"], record["reason"]) == ("resolver-1", REASON)
    assert record["conflict_id"] == conflict_id
