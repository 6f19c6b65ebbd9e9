"""The cloud's `/metrics`: counts of this process, shared state from the database."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from cloud_service.app import create_app
from cloud_service.settings import CloudSettings
from tests.cloud_service.conftest import SMALL_BODY
from tests.cloud_service.helpers import change, push
from tests.cloud_service.world import World
from tests.scrape import Scrape

HTTP = "edgesync_http_request_duration_seconds_count"


async def scrape(client: httpx.AsyncClient) -> Scrape:
    """Return the cloud's metrics as its scraper reads them."""
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape.parse(response.text)


async def test_push_counts_outcomes_latency_and_feed(client: httpx.AsyncClient) -> None:
    """
    One change pushed twice and read back by edge-a: one applied, one
    duplicate, two timed pushes, feed head 1, edge-a's lag 0.
    """
    created = change("edge-a", 1)
    await push(client, "edge-a", created)
    await push(client, "edge-a", created)
    await client.get("/sync/feed", params={"edge_id": "edge-a"})

    metrics = await scrape(client)

    received = "edgesync_cloud_changes_received_total"
    assert metrics.value(received, outcome="applied") == 1
    assert metrics.value(received, outcome="duplicate") == 1
    assert metrics.value(received, outcome="conflict") == 0
    assert metrics.value("edgesync_cloud_push_duration_seconds_count") == 2
    assert metrics.value("edgesync_cloud_feed_head") == 1
    assert metrics.value("edgesync_cloud_edge_lag", edge_id="edge-a") == 0
    assert metrics.value("edgesync_cloud_edge_gap", edge_id="edge-a") == 0
    age = metrics.value("edgesync_cloud_edge_last_push_age_seconds", edge_id="edge-a")
    assert 0 <= age < 60
    # docs/audit.md: one record per received change, none per duplicate.
    assert metrics.value("edgesync_cloud_audit_head_seq") == 1
    assert metrics.value(HTTP, method="POST", route="/sync/push", status_class="2xx")


async def test_a_second_replica_reads_the_same_shared_state(
    client: httpx.AsyncClient, settings: CloudSettings
) -> None:
    """
    A second app on the same database, which handled no push, reports the
    open conflict and the feed head all the same, and its own counters at 0.
    """
    base = {"edge-a": 1}
    await push(client, "edge-a", change("edge-a", 1, title="T0"))
    await push(client, "edge-a", change("edge-a", 2, base_clock=base, title="A"))
    await push(client, "edge-b", change("edge-b", 1, base_clock=base, title="B"))

    replica = create_app(settings)
    async with replica.router.lifespan_context(replica), _client(replica) as other:
        theirs = await scrape(other)
    ours = await scrape(client)

    for metrics in (ours, theirs):
        assert metrics.value("edgesync_cloud_open_conflicts") == 1
        assert metrics.value("edgesync_cloud_feed_head") == 3
    received = "edgesync_cloud_changes_received_total"
    assert ours.value(received, outcome="conflict") == 1
    assert theirs.value(received, outcome="conflict") == 0


async def test_unmatched_paths_share_one_route_label(client: httpx.AsyncClient) -> None:
    """
    Random paths nobody serves all count under route="unmatched"; a served
    path with an id counts under its template, never under the raw path.
    """
    probes = [f"/{uuid.uuid4().hex}/{n}" for n in range(3)]
    for path in probes:
        assert (await client.get(path)).status_code == 404
    conflict_id = uuid.uuid4()
    assert (await client.get(f"/conflicts/{conflict_id}")).status_code == 404
    await client.request("BREW", "/sync/info")

    metrics = await scrape(client)
    text = (await client.get("/metrics")).text

    routes = metrics.label_values(HTTP, "route")
    assert "unmatched" in routes
    assert "/conflicts/{conflict_id}" in routes
    assert metrics.value(HTTP, method="GET", route="unmatched", status_class="4xx") == 3
    assert metrics.label_values(HTTP, "method") <= {"GET", "POST", "other"}
    assert not any(path in text for path in probes)
    assert str(conflict_id) not in text


async def test_a_body_refused_before_routing_counts_under_its_route(
    client: httpx.AsyncClient,
) -> None:
    """A push above the body limit, refused with 413, counts under /sync/push."""
    body = b'{"edge_id": "edge-a", "changes": []}'.ljust(SMALL_BODY + 1)
    response = await client.post(
        "/sync/push", content=body, headers={"content-type": "application/json"}
    )

    metrics = await scrape(client)

    assert response.status_code == 413
    assert metrics.value(HTTP, method="POST", route="/sync/push", status_class="4xx")


async def test_metrics_need_no_token_and_stay_out_of_openapi(world: World) -> None:
    """
    With authentication on, /metrics answers without a token while /edges
    says 401; the scrape endpoint is not part of the API document.
    """
    scraped = await world.client.get("/metrics")
    refused = await world.client.get("/edges")
    document = (await world.client.get("/openapi.json")).json()

    assert scraped.status_code == 200
    assert "edgesync_cloud_feed_head" in scraped.text
    assert refused.status_code == 401
    assert "/metrics" not in document["paths"]


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    )
