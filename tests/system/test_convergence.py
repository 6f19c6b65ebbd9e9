"""Whole-system convergence: two edges, a cut-off, concurrent edits."""

from __future__ import annotations

import random

from tests.system.harness import Cluster, assert_converged


async def test_two_edges_converge_after_a_cut_off(cluster: Cluster) -> None:
    """
    Edits made on both sides of a cut-off reach every node: after a full sync
    both edges and the cloud hold the same reports with the same clocks.
    """
    a = await cluster.add_edge("edge-a")
    b = await cluster.add_edge("edge-b")
    for n in range(10):
        body = {
            "report_id": f"rpt-{n:03d}",
            "title": f"T{n}",
            "content": "C0",
            "classification": "CUI",
        }
        assert (await a.write("POST", "/reports", json=body)).status_code == 201
    await cluster.sync_all()

    b.link.cut = True
    for n in range(10):
        await a.write("PATCH", f"/reports/rpt-{n:03d}", json={"title": f"A{n}"})
    for n in range(5, 10):
        await b.write("PATCH", f"/reports/rpt-{n:03d}", json={"content": f"B{n}"})
    await b.write("DELETE", "/reports/rpt-000")
    await a.sync()
    offline = await b.sync()
    assert offline["pending"] == 6
    b.link.cut = False
    await cluster.sync_all(rounds=3)

    state = await assert_converged(cluster)
    assert state["rpt-007"]["title"] == "A7"
    assert state["rpt-007"]["content"] == "B7"
    assert state["rpt-007"]["clock"] == {"edge-a": 2, "edge-b": 1}
    conflicts = (await cluster.cloud.get("/conflicts")).json()
    assert [c["report_id"] for c in conflicts["conflicts"]] == ["rpt-000"]


async def test_random_histories_converge(cluster: Cluster) -> None:
    """
    Seeded random writes at three edges with random cut-offs and syncs always
    end, after a full sync, with every node holding the same reports.
    """
    rng = random.Random(20261203)
    edges = [await cluster.add_edge(f"edge-{x}") for x in "abc"]
    ids = [f"rpt-{n:03d}" for n in range(8)]
    created: set[str] = set()
    for _ in range(120):
        edge = rng.choice(edges)
        report_id = rng.choice(ids)
        roll = rng.random()
        if roll < 0.1:
            edge.link.cut = not edge.link.cut
        elif roll < 0.25:
            await edge.sync()
        elif report_id not in created:
            body = {
                "report_id": report_id,
                "title": "T",
                "content": "C",
                "classification": "CUI",
            }
            if (await edge.write("POST", "/reports", json=body)).status_code == 201:
                created.add(report_id)
        else:
            field = rng.choice(["title", "content"])
            await edge.write(
                "PATCH", f"/reports/{report_id}", json={field: f"{edge.edge_id}-{_}"}
            )
    for edge in edges:
        edge.link.cut = False
    await cluster.sync_all(rounds=3)

    state = await assert_converged(cluster)
    assert set(state) == created
