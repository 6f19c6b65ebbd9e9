"""
Metrics and logs of a real sync run: a cloud and an edge process on 127.0.0.1
logging JSON lines at debug level. The edge writes three reports and syncs;
both services' `/metrics` must show what was done, and every log line must be
JSON, carry its context, and hold neither report text nor a credential.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from edgesync.cluster import Node, start_cloud, start_edge
from edgesync.devauth import DevIdentities
from edgesync.tokens import Role
from tests.scrape import Scrape

pytestmark = pytest.mark.slow

ANONYMOUS = {"EDGESYNC_ALLOW_ANONYMOUS": "true"}
# Debug level: the claim is that no line at any level holds report text.
JSON_LOGS = {"EDGESYNC_LOG_FORMAT": "json", "EDGESYNC_LOG_LEVEL": "DEBUG"}
QUIET = {"EDGESYNC_SYNC_INTERVAL": "3600", "EDGESYNC_BACKOFF_BASE": "60"}
TITLE = "Bridge seven has fallen"
CONTENT = "Patrol saw the east span collapse at dawn."
# Any compact JWS: an analyst's token, an administrator's, an edge's own.
JWS = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")
HTTP = "edgesync_http_request_duration_seconds_count"


@asynccontextmanager
async def cloud_and_edge(
    tmp_path: Path, identities: DevIdentities | None = None
) -> AsyncIterator[tuple[Node, Node]]:
    """Run a cloud and edge-a as processes; with *identities*, authenticated."""
    cloud_env = ANONYMOUS if identities is None else identities.cloud_env()
    edge_env = ANONYMOUS if identities is None else identities.edge_env("edge-a")
    cloud = start_cloud(tmp_path, extra=cloud_env | JSON_LOGS)
    edge: Node | None = None
    try:
        await cloud.wait_ready()
        if identities is not None:
            async with cloud.client(timeout=30) as admin:
                await identities.register_edges(admin)
        edge = start_edge(
            "edge-a", cloud.url, tmp_path, **edge_env, **JSON_LOGS, **QUIET
        )
        await edge.wait_ready()
        yield cloud, edge
    finally:
        for node in (edge, cloud):
            if node is not None:
                node.stop()


async def scrape(node: Node) -> Scrape:
    """Read a node's metrics as Prometheus would: no token, text format."""
    async with node.client(timeout=10) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return Scrape.parse(response.text)


async def write_and_sync(
    edge: Node, headers: dict[str, str]
) -> tuple[Scrape, dict[str, Any], list[str]]:
    """Write three reports; return the edge's scrape before the sync, the
    status after it, and the change ids of the outbox."""
    async with edge.client(timeout=30, headers=headers) as client:
        for n in range(3):
            body = {
                "report_id": f"rpt-{n:03d}",
                "title": TITLE,
                "content": CONTENT,
                "classification": "CUI",
            }
            assert (await client.post("/reports", json=body)).status_code == 201
        before = await scrape(edge)
        status: dict[str, Any] = (await client.post("/sync/run")).json()
        outbox = (await client.get("/outbox")).json()["entries"]
    return before, status, [entry["change_id"] for entry in outbox]


async def settled_cloud(cloud: Node) -> Scrape:
    """Scrape the cloud once it has noted edge-a's pull, which follows the answer."""
    deadline = time.monotonic() + 10
    while True:
        metrics = await scrape(cloud)
        if metrics.has("edgesync_cloud_edge_lag", edge_id="edge-a"):
            return metrics
        assert time.monotonic() < deadline, "the cloud never noted edge-a's pull"
        await asyncio.sleep(0.1)


def log_lines(node: Node) -> list[dict[str, Any]]:
    """Parse every line a stopped node wrote; each must be one JSON object."""
    records = []
    for line in node.log_path.read_text().splitlines():
        record = json.loads(line)
        assert isinstance(record, dict), line
        records.append(record)
    return records


def events(records: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    """Return the records of *event*."""
    return [record for record in records if record.get("event") == event]


async def test_metrics_follow_from_a_sync_run(tmp_path: Path) -> None:
    """
    Three reports written and synced: the edge's pending goes 3 -> 0 with 3
    applied answers and a timed push; the cloud received 3 applied, its feed
    head is 3 and edge-a's lag 0; requests count under route templates.
    """
    async with cloud_and_edge(tmp_path) as (cloud, edge):
        before, status, _ = await write_and_sync(edge, {})
        at_edge = await scrape(edge)
        at_cloud = await settled_cloud(cloud)

    assert status["pending"] == 0, status
    outbox = "edgesync_edge_outbox_changes"
    assert before.value(outbox, state="pending") == 3
    assert at_edge.value(outbox, state="pending") == 0
    assert at_edge.value(outbox, state="applied") == 3
    answered = "edgesync_edge_changes_answered_total"
    assert at_edge.value(answered, outcome="applied") == 3
    assert at_edge.value("edgesync_edge_push_duration_seconds_count") >= 1
    assert at_edge.value("edgesync_edge_pull_duration_seconds_count") >= 1
    assert at_edge.value("edgesync_edge_feed_cursor") == 3
    assert at_edge.value("edgesync_edge_feed_head") == 3
    received = "edgesync_cloud_changes_received_total"
    assert at_cloud.value(received, outcome="applied") == 3
    assert at_cloud.value(received, outcome="rejected") == 0
    assert at_cloud.value("edgesync_cloud_feed_head") == 3
    assert at_cloud.value("edgesync_cloud_edge_lag", edge_id="edge-a") == 0
    assert at_cloud.value("edgesync_cloud_open_conflicts") == 0
    assert at_cloud.value("edgesync_cloud_push_duration_seconds_count") >= 1
    assert at_cloud.value(HTTP, method="POST", route="/sync/push", status_class="2xx")
    assert at_edge.value(HTTP, method="POST", route="/reports", status_class="2xx") == 3


async def test_logs_are_json_with_context_and_no_report_text(tmp_path: Path) -> None:
    """
    Every line of both processes is JSON; request lines carry request_id
    and route; the batch lines carry edge_id, batch size and outcome counts;
    change ids appear only at debug level; the report's text never appears.
    """
    async with cloud_and_edge(tmp_path) as (cloud, edge):
        _, _, change_ids = await write_and_sync(edge, {})
        await settled_cloud(cloud)
    edge_log, cloud_log = log_lines(edge), log_lines(cloud)
    every = edge_log + cloud_log

    for request in events(every, "request_finished"):
        assert request["request_id"], request
        assert request["route"], request
    (received,) = events(cloud_log, "push_received")
    assert received["edge_id"] == "edge-a"
    assert received["batch_size"] == 3
    assert received["outcomes"] == {"applied": 3}
    (sent,) = events(edge_log, "outbox_batch_sent")
    assert sent["edge_id"] == "edge-a"
    assert sent["batch_size"] == 3
    assert sent["outcomes"] == {"applied": 3}
    assert len(events(cloud_log, "change_decided")) == 3
    assert len(events(edge_log, "change_answered")) == 3
    assert len(change_ids) == 3
    for change_id in change_ids:
        naming = [r for r in every if change_id in json.dumps(r)]
        assert naming, change_id
        assert {r["level"] for r in naming} == {"debug"}, naming
    assert not _lines_holding(every, TITLE, CONTENT)


async def test_no_token_or_key_is_logged_with_authentication(tmp_path: Path) -> None:
    """
    With analysts' tokens and the edge's own signed tokens on every call,
    the sync works, /metrics answers without a token, and no log line holds
    a token, a key or the report's text.
    """
    identities = DevIdentities.create(tmp_path / "keys", ["edge-a"])
    token = identities.token("analyst-1", Role.ANALYST)
    async with cloud_and_edge(tmp_path, identities) as (cloud, edge):
        _, status, _ = await write_and_sync(edge, {"Authorization": f"Bearer {token}"})
        at_cloud = await settled_cloud(cloud)
        async with cloud.client(timeout=10) as anonymous:
            refused = await anonymous.get("/edges")
    every = log_lines(edge) + log_lines(cloud)

    assert status["pending"] == 0, status
    assert at_cloud.value("edgesync_cloud_feed_head") == 3
    assert refused.status_code == 401
    assert events(every, "token_verified")
    assert not _lines_holding(every, token, TITLE, CONTENT, "PRIVATE KEY")
    assert not [r for r in every if JWS.search(json.dumps(r))]


def _lines_holding(records: list[dict[str, Any]], *texts: str) -> list[str]:
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    return [line for line in lines if any(text in line for text in texts)]
