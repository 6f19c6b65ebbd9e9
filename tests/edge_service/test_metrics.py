"""The edge's `/metrics`: its backlog read from SQLite, its round trips counted."""

from __future__ import annotations

import httpx

from edge_service.settings import EdgeSettings
from tests.edge_service.conftest import Edge, start_edge
from tests.edge_service.fakecloud import FakeCloud
from tests.edge_service.helpers import create, sync_until_drained
from tests.scrape import Scrape

OUTBOX = "edgesync_edge_outbox_changes"
FAILURES = "edgesync_edge_sync_failures_total"


async def scrape(edge: Edge) -> Scrape:
    """Return the edge's metrics as its scraper reads them."""
    response = await edge.client.get("/metrics")
    assert response.status_code == 200, response.text
    return Scrape.parse(response.text)


class FailingTransport(httpx.AsyncBaseTransport):
    """Raise *error* on every call while armed, else forward to the fake cloud."""

    def __init__(self, cloud: FakeCloud, error: Exception) -> None:
        self._inner = httpx.ASGITransport(cloud.app)
        self._error = error
        self.armed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Fail while armed; forward otherwise."""
        if self.armed:
            raise self._error
        return await self._inner.handle_async_request(request)


async def test_outbox_drains_and_answers_are_counted(edge: Edge) -> None:
    """
    Three reports wait as 3 pending changes; after a sync none waits, the
    cloud answered 3 applied in one timed push, and cursor equals head.
    """
    for n in range(3):
        await create(edge, f"r-{n}")
    before = await scrape(edge)

    await sync_until_drained(edge)
    after = await scrape(edge)

    assert before.value(OUTBOX, state="pending") == 3
    assert before.value("edgesync_edge_outbox_oldest_pending_age_seconds") > 0
    assert after.value(OUTBOX, state="pending") == 0
    assert after.value(OUTBOX, state="applied") == 3
    assert after.value("edgesync_edge_outbox_oldest_pending_age_seconds") == 0
    answered = "edgesync_edge_changes_answered_total"
    assert after.value(answered, outcome="applied") == 3
    assert after.value(answered, outcome="rejected") == 0
    assert after.value("edgesync_edge_push_duration_seconds_count") == 1
    assert after.value("edgesync_edge_pull_duration_seconds_count") >= 1
    assert after.value("edgesync_edge_feed_cursor") == 3
    assert after.value("edgesync_edge_feed_head") == 3
    assert after.value("edgesync_edge_reports_in_conflict") == 0


async def test_failures_are_counted_by_class(
    settings: EdgeSettings, cloud: FakeCloud
) -> None:
    """A refused connection counts as unreachable, a bug of ours as internal."""
    for error, reason in (
        (httpx.ConnectError("refused"), "unreachable"),
        (RuntimeError("a bug"), "internal"),
    ):
        transport = FailingTransport(cloud, error)
        async for edge in start_edge(settings, cloud, transport):
            await create(edge, f"r-{reason}")
            transport.armed = True
            status = (await edge.client.post("/sync/run")).json()
            metrics = await scrape(edge)

        assert status["pending"] >= 1
        assert metrics.value(FAILURES, reason=reason) >= 1
        others = metrics.label_values(FAILURES, "reason") - {reason}
        assert all(metrics.value(FAILURES, reason=r) == 0 for r in others)
        assert metrics.value("edgesync_edge_sync_consecutive_failures") >= 1


async def test_requests_count_under_route_templates(edge: Edge) -> None:
    """A report read counts under /reports/{report_id}; a stray path, unmatched."""
    await create(edge, "r-1")
    await edge.client.get("/reports/r-1")
    await edge.client.get("/no/such/page")

    metrics = await scrape(edge)

    routes = metrics.label_values(
        "edgesync_http_request_duration_seconds_count", "route"
    )
    assert {"/reports", "/reports/{report_id}", "unmatched"} <= routes
    assert not any("r-1" in route or "/no/" in route for route in routes)
