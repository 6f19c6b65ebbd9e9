"""
Prometheus metrics both services share: HTTP latency by route, and the scrape.

Each app owns its :class:`~prometheus_client.CollectorRegistry`, never the
global one, so that several apps in one process (the tests) count apart.
Counters and histograms in that registry count what this process did.
Gauges of shared state (the outbox, the feed, the conflicts) are read from
the database when scraped and handed to :func:`metrics_response`, so every
cloud replica reports the same, correct value whichever one is asked.

No label holds report content or a credential: labels are HTTP methods,
route templates, status classes, outcomes and edge ids.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The label of a request no route matched: one value, however many paths
# scanners try, so the number of series stays bounded.
UNMATCHED_ROUTE = "unmatched"
OTHER_METHOD = "other"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def new_registry() -> CollectorRegistry:
    """Return a registry of one app, with the process and Python collectors."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class HttpMetrics:
    """The request latency histogram of one app."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "edgesync_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and "
            "status class",
            ["method", "route", "status_class"],
            registry=registry,
        )

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        """Count one answered request of *scope*."""
        method = scope["method"] if scope["method"] in _METHODS else OTHER_METHOD
        route = route_template(scope)
        self.duration.labels(method, route, f"{status // 100}xx").observe(seconds)


class HttpMetricsMiddleware:
    """Time every HTTP request and count it under its route template."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self.metrics.observe(scope, status, time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """
    Return the route template of a request, such as ``/conflicts/{conflict_id}``.

    The router stores the route it picked in the scope. A request answered
    before routing (a 413 from the body limit) is matched here against the
    paths of the app's OpenAPI document; a path that matches none is
    :data:`UNMATCHED_ROUTE`.
    """
    template = getattr(scope.get("route"), "path_format", None)
    if isinstance(template, str):
        return template
    return _documented_template(scope) or UNMATCHED_ROUTE


def _documented_template(scope: Scope) -> str | None:
    # FastAPI keeps included routers behind private wrappers; its OpenAPI
    # document is the public list of every template it serves (built once).
    openapi = getattr(scope.get("app"), "openapi", None)
    if openapi is None:
        return None
    paths: dict[str, Any] = openapi().get("paths", {})
    for template in paths:
        regex, _, _ = compile_path(template)
        if regex.match(scope["path"]):
            return template
    return None


def metrics_response(
    registry: CollectorRegistry, gauges: Iterable[Metric] = ()
) -> Response:
    """Answer a scrape: *registry*'s metrics and the *gauges* just read."""
    body = generate_latest(_Scrape(registry, list(gauges)))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class _Scrape:
    """One scrape's metrics: the process's own, then those read for it."""

    def __init__(self, registry: Collector, gauges: list[Metric]) -> None:
        self._registry = registry
        self._gauges = gauges

    def collect(self) -> Iterator[Metric]:
        yield from self._registry.collect()
        yield from self._gauges
