"""
Field failures of other sync systems (shared/cases), run against a real cloud.

Each test is named after its case and asserts the case's right outcome.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.system.harness import Cluster, assert_converged

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


async def cloud_audit(cluster: Cluster, **params: Any) -> list[dict[str, Any]]:
    """The cloud's audit records (the harness's cloud runs without auth)."""
    response = await cluster.cloud.get("/audit", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


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
    received = await cloud_audit(cluster, action="change.received")
    assert [(r["change_id"], r["outcome"]) for r in received] == [
        (c1["change_id"], "applied")
    ]
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
    never again; the 49 good changes around it are applied; pending reaches 0;
    the cloud's audit records the rejection once.
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
    assert len(a.link.pushes()) == 1
    cloud_ids = {
        r["report_id"]
        for r in (await cluster.cloud.get("/reports", params={"limit": 500})).json()[
            "reports"
        ]
    }
    assert "rpt-081" not in cloud_ids
    assert len(cloud_ids) == 49
    received = await cloud_audit(cluster, action="change.received")
    assert [r["outcome"] for r in received].count("applied") == 49
    (rejection,) = [r for r in received if r["outcome"] == "rejected"]
    assert rejection["change_id"] == a.outbox_payload(2)["change_id"]
    assert rejection["reason"] == rows[1]["reason"]


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_york_cloud_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A cloud database whose sessions run in America/New_York, on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    import psycopg
    from psycopg import sql

    url: str = request.getfixturevalue("pg_url")
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    name = url.rpartition("/")[2]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} SET timezone TO 'America/New_York'").format(
                sql.Identifier(name)
            )
        )
    return url


async def test_bc13_instants_survive_time_zones_and_dst(
    new_york_cloud_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    BC-13: edges in Kolkata and Los Angeles and a cloud session in New York on
    a US DST day all show the same instant in UTC; +05:30 normalises to Z and
    a naive timestamp is rejected, never guessed.
    """
    import time as clock
    from datetime import UTC, datetime

    from tests.system.harness import cluster_on

    frozen = datetime(2024, 3, 10, 9, 30, tzinfo=UTC)
    monkeypatch.setattr("edge_service.routes.utc_now", lambda: frozen)
    async with cluster_on(new_york_cloud_url, tmp_path) as cluster:
        a = await cluster.add_edge("edge-a")
        b = await cluster.add_edge("edge-b")
        monkeypatch.setenv("TZ", "Asia/Kolkata")
        clock.tzset()
        await a.write("POST", "/reports", json=new_report("rpt-090"))
        await a.sync()
        monkeypatch.setenv("TZ", "America/Los_Angeles")
        clock.tzset()
        await b.sync()

        seen_at_b = await b.report("rpt-090")
        seen_at_cloud = (await cluster.cloud.get("/reports/rpt-090")).json()
        offset = a.outbox_payload(1) | {
            "change_id": "00000000-0000-4000-8000-000000000091",
            "report_id": "rpt-091",
            "origin_seq": 2,
            "authored_at": "2024-03-10T15:00:00+05:30",
        }
        naive = offset | {
            "change_id": "00000000-0000-4000-8000-000000000092",
            "report_id": "rpt-092",
            "origin_seq": 3,
            "authored_at": "2024-03-10T09:30:00",
        }
        pushed = await cluster.cloud.post(
            "/sync/push", json={"edge_id": "edge-a", "changes": [offset, naive]}
        )
        stored = (await cluster.cloud.get("/reports/rpt-091")).json()
    monkeypatch.delenv("TZ")
    clock.tzset()

    instant = datetime(2024, 3, 10, 9, 30, tzinfo=UTC)
    for shown in (
        seen_at_b["created_at"],
        seen_at_cloud["created_at"],
        seen_at_cloud["updated_at"],
        stored["updated_at"],
    ):
        assert shown.endswith(("Z", "+00:00"))
        assert datetime.fromisoformat(shown) == instant
    outcomes = [r["outcome"] for r in pushed.json()["results"]]
    assert outcomes == ["applied", "rejected"]
    assert "timezone" in pushed.json()["results"][1]["reason"]


@pytest.mark.postgres
async def test_bc13_cloud_time_columns_are_timestamptz(pg_url: str) -> None:
    """BC-13: every time column of the cloud schema on PostgreSQL is timestamptz."""
    import asyncpg

    from edgesync.migrate import upgrade

    await upgrade("cloud", pg_url)
    conn = await asyncpg.connect(pg_url.replace("+asyncpg", ""))
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public' AND data_type LIKE 'timestamp%'"
        )
    finally:
        await conn.close()

    assert len(rows) >= 5
    assert {row["data_type"] for row in rows} == {"timestamp with time zone"}
