"""Prometheus metrics, for a scraper rather than for people or edges."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.responses import Response

from cloud_service.metrics import read_gauges
from cloud_service.routes.deps import Metrics, Session
from edgesync.metrics import metrics_response

router = APIRouter(tags=["health"])


# Left out of the OpenAPI document: it is for Prometheus, not for API
# clients. It needs no token, as /healthz does: it holds counts, ages, route
# templates and edge ids, never a report's content or a credential.
@router.get("/metrics", include_in_schema=False)
async def metrics(session: Session, cloud_metrics: Metrics) -> Response:
    """Answer a scrape in the Prometheus text format."""
    gauges = await read_gauges(session, datetime.now(UTC))
    return metrics_response(cloud_metrics.registry, gauges)
