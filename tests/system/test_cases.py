"""
Field failures of other sync systems (shared/cases), run against a real cloud.

Each test is named after its case and asserts the case's right outcome.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.system.harness import Cluster, Edge, assert_converged

ALPHA = {
    "report_id": "rpt-001",
    "title": "Alpha",
    "content": "one",
    "classification": "CUI",
}


def new_report(report_id: str, **fields: Any) -> dict[str, Any]:
    body = {
        "report_id": report_id,
        "title": "Title",
        "content": "Body",
        "classification": "CUI",
    }
    return body | fields


async def feed_entries(cluster: Cluster) -> list[dict[str, Any]]:
    page = (await cluster.cloud.get("/sync/feed", params={"limit": 1000})).json()
    entries: list[dict[str, Any]] = page["entries"]
    return entries


async def history(cluster: Cluster, report_id: str) -> list[dict[str, Any]]:
    response = await cluster.cloud.get(f"/reports/{report_id}/history")
    versions: list[dict[str, Any]] = response.json()["versions"]
    return versions


def states(outbox: list[dict[str, Any]]) -> list[str]:
    return [row["state"] for row in outbox]


async def test_bc01_lost_response_then_retry_is_one_effect(cluster: Cluster) -> None:
    """
    BC-01: the cloud commits, the answer is lost, the loop retries on its own:
    the retry is a duplicate, and the change has one report, one history row
    and one feed entry; a batch holding it twice answers duplicate for both.
    """
    a = await cluster.add_edge("edge-a")
    b = await cluster.add_edge("edge-b")
    await a.write("POST", "/reports", json=ALPHA)
    c1 = a.outbox_payload(1)
    a.link.lose_push_responses = 1

    await a.sync()
    status = await a.sync()

    assert status["pending"] == 0
    assert states(await a.outbox()) == ["duplicate"]
    twice = await cluster.cloud.post(
        "/sync/push", json={"edge_id": "edge-a", "changes": [c1, c1]}
    )
    assert [r["outcome"] for r in twice.json()["results"]] == ["duplicate"] * 2
    assert twice.json()["results"][0]["reason"] == "first outcome: applied"
    assert [v["change_id"] for v in await history(cluster, "rpt-001")] == [
        c1["change_id"]
    ]
    assert [e["change_id"] for e in await feed_entries(cluster)] == [c1["change_id"]]
    pulled = await b.sync()
    assert pulled["entries_pulled"] == 1
    assert (await b.report("rpt-001"))["clock"] == {"edge-a": 1}


async def test_bc05_truncated_page_changes_nothing(cluster: Cluster) -> None:
    """BC-05 variant: a feed page cut off mid-body is dropped and fetched again."""
    a = await cluster.add_edge("edge-a")
    c = await cluster.add_edge("edge-c")
    for n in range(30, 40):
        await a.write("POST", "/reports", json=new_report(f"rpt-{n:03d}"))
    await a.sync()
    c.link.truncate_paths.add("/sync/feed")

    broken = await c.sync()

    assert broken["feed_cursor"] == 0
    assert broken["last_error"]
    reports = (await c.client.get("/reports")).json()["reports"]
    assert reports == []
    c.link.truncate_paths.clear()
    healed = await c.sync()
    assert healed["feed_cursor"] == 10
    assert healed["entries_pulled"] == 10
    await assert_converged(cluster)


async def test_bc07_own_echo_does_not_undo_a_local_delete(cluster: Cluster) -> None:
    """
    BC-07: the pull brings back edge-a's own create after edge-a deleted the
    report locally; the older clock is ignored, the delete is applied at the
    cloud, no conflict opens, and every edge ends deleted at {edge-a: 2}.
    """
    a = await cluster.add_edge("edge-a")
    b = await cluster.add_edge("edge-b")
    await a.write("POST", "/reports", json=new_report("rpt-050"))
    a.link.refused_paths.add("/sync/feed")
    await a.sync()
    a.link.refused_paths.clear()
    await a.write("DELETE", "/reports/rpt-050")

    await a.app.state.runtime.sync_loop.puller.pull_all()
    assert (await a.report("rpt-050"))["deleted"] is True
    await cluster.sync_all()

    assert [row["state"] for row in await a.outbox()] == ["applied", "applied"]
    assert (await cluster.cloud.get("/conflicts")).json()["count"] == 0
    state = await assert_converged(cluster)
    assert state["rpt-050"]["deleted"] is True
    assert state["rpt-050"]["clock"] == {"edge-a": 2}
    assert (await b.report("rpt-050"))["deleted"] is True


@pytest.mark.parametrize(
    "tampering",
    [{"origin": "edge-z"}, {"classification": "IL6"}],
    ids=["foreign-origin", "bad-classification"],
)
async def test_bc10_one_bad_change_never_blocks_the_outbox(
    cluster: Cluster, tampering: dict[str, str]
) -> None:
    """
    BC-10: a change tampered in SQLite is rejected on its own, tried once and
    never again; the 49 good changes around it are applied; pending reaches 0.
    """
    a = await cluster.add_edge("edge-a")
    for n in range(80, 130):
        await a.write("POST", "/reports", json=new_report(f"rpt-{n:03d}"))
    a.tamper(2, **tampering)

    status = await a.sync()
    again = await a.sync()

    rows = await a.outbox()
    assert states(rows).count("applied") == 49
    assert rows[1]["state"] == "rejected"
    assert rows[1]["reason"]
    assert status["pending"] == again["pending"] == 0
    assert again["rejected"] == 1
    assert rows[1]["attempts"] == 1
    pushed = [size for size in a.link.pushes()]
    assert len(pushed) == 1
    cloud_ids = {
        r["report_id"]
        for r in (await cluster.cloud.get("/reports", params={"limit": 500})).json()[
            "reports"
        ]
    }
    assert "rpt-081" not in cloud_ids
    assert len(cloud_ids) == 49


async def test_bc10_whole_batch_400_is_split_to_isolate_the_culprit(
    cluster: Cluster,
) -> None:
    """
    BC-10 variant: a gateway answers 400 to any batch holding one change; the
    edge splits until that change is alone, rejects it, and the rest apply.
    """
    a = await cluster.add_edge("edge-a")
    for n in range(80, 130):
        await a.write("POST", "/reports", json=new_report(f"rpt-{n:03d}"))
    culprit = a.outbox_payload(7)["change_id"]
    a.link.poison = culprit.encode()

    status = await a.sync()

    rows = {row["change_id"]: row for row in await a.outbox()}
    assert rows[culprit]["state"] == "rejected"
    assert status["pending"] == 0
    assert sum(row["state"] == "applied" for row in rows.values()) == 49
    assert len(a.link.pushes()) < 20


async def test_bc12_large_batches_split_by_encoded_size(cluster: Cluster) -> None:
    """
    BC-12: 120 reports of about 60 KiB of two-byte text all apply, and no push
    body exceeds the cloud's 4 MiB limit.
    """
    a = await cluster.add_edge("edge-a")
    text = "ж" * 30_000
    for n in range(120):
        await a.write("POST", "/reports", json=new_report(f"rpt-{n:03d}", content=text))

    status = await a.sync()

    assert status["pending"] == 0
    assert states(await a.outbox()) == ["applied"] * 120
    assert max(a.link.pushes()) <= 4 * 1024 * 1024
    assert len(a.link.pushes()) >= 2


async def test_bc12_change_too_large_for_any_batch_is_held(tmp_path: Any) -> None:
    """
    BC-12 variant: with a 32 KiB cloud limit the 60 KiB change is held with a
    clear reason while the small ones go through.
    """
    from tests.system.harness import cluster_on

    url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    async with cluster_on(url, tmp_path, max_body_bytes=32 * 1024) as cluster:
        a = await cluster.add_edge("edge-a")
        await a.write("POST", "/reports", json=new_report("rpt-001"))
        await a.write(
            "POST", "/reports", json=new_report("rpt-002", content="ж" * 30_000)
        )
        await a.write("POST", "/reports", json=new_report("rpt-003"))

        status = await a.sync()

        assert states(await a.outbox()) == ["applied", "held", "applied"]
        assert status["held"] == 1
        assert "32768" in status["recent_held"][0]["reason"]
        assert max(a.link.pushes()) <= 32 * 1024


async def test_bc17_inbox_remembers_change_ids_for_the_offline_window(
    cluster: Cluster,
) -> None:
    """
    BC-17 (cloud): a change id sent again 30 days later is still a duplicate
    under the 90-day retention; one older than the retention is purged.
    """
    import uuid
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from cloud_service.db import write_transaction
    from cloud_service.retention import purge_inbox
    from cloud_service.tables import inbox_table

    a = await cluster.add_edge("edge-a")
    await a.write("POST", "/reports", json=new_report("rpt-001"))
    await a.write("POST", "/reports", json=new_report("rpt-002"))
    await a.sync()
    old, older = a.outbox_payload(1), a.outbox_payload(2)
    now = datetime.now(UTC)
    sessions = cluster.cloud_app.state.sessions
    async with write_transaction(sessions) as session:
        for change, age in ((old, 30), (older, 91)):
            await session.execute(
                update(inbox_table)
                .where(inbox_table.c.change_id == uuid.UUID(change["change_id"]))
                .values(received_at=now - timedelta(days=age))
            )
        purged = await purge_inbox(session, now - timedelta(days=90))

    resent = await cluster.cloud.post(
        "/sync/push", json={"edge_id": "edge-a", "changes": [old]}
    )

    assert purged == 1
    assert resent.json()["results"][0]["outcome"] == "duplicate"
