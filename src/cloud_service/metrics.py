"""
The cloud's Prometheus metrics: what this process handled, and shared state.

Push latency and outcomes are counted by the process that answered the push.
The feed head, open conflicts, the audit head and each edge's lag are read
from the database on every scrape (:func:`read_gauges`): several replicas
share one PostgreSQL, and any of them must report the same values.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_service import audit, edges, feed
from cloud_service.tables import conflicts_table
from edgesync.metrics import HttpMetrics, new_registry
from syncproto import ConflictStatus, Outcome, PushResult


class CloudMetrics:
    """The counters and histograms of one cloud app, in its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or new_registry()
        self.http = HttpMetrics(self.registry)
        self.push_duration = Histogram(
            "edgesync_cloud_push_duration_seconds",
            "Time to decide and commit one pushed batch",
            registry=self.registry,
        )
        self.changes_received = Counter(
            "edgesync_cloud_changes_received",
            "Pushed changes by the outcome the inbox decided",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in Outcome:
            # Every outcome is shown from the start, so rates exist at zero.
            self.changes_received.labels(outcome.value)

    def pushed(self, result: PushResult, seconds: float) -> None:
        """Count one committed push that took *seconds*."""
        self.push_duration.observe(seconds)
        for change in result.results:
            self.changes_received.labels(change.outcome.value).inc()


async def read_gauges(session: AsyncSession, now: datetime) -> list[Metric]:
    """Read the shared state the cloud reports on a scrape, as of *now*."""
    head = await feed.feed_head(session)
    open_conflicts = await session.scalar(
        select(func.count())
        .select_from(conflicts_table)
        .where(conflicts_table.c.status == ConflictStatus.OPEN.value)
    )
    audit_seq, _ = await audit.head(session)
    known = await edges.list_edges(session, head)

    return [
        _gauge("edgesync_cloud_feed_head", "Highest feed seq committed", head),
        _gauge(
            "edgesync_cloud_open_conflicts",
            "Conflicts waiting for a resolver",
            open_conflicts or 0,
        ),
        _gauge(
            "edgesync_cloud_audit_head_seq", "Seq of the last audit record", audit_seq
        ),
        *_edge_gauges(known.edges, now),
    ]


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _edge_gauges(
    known: list[edges.EdgePublic], now: datetime
) -> list[GaugeMetricFamily]:
    # One series per edge the cloud knows: edges are registered (or, without
    # authentication, whoever synced), a bounded set unlike request paths.
    lag = GaugeMetricFamily(
        "edgesync_cloud_edge_lag",
        "Feed entries the edge has not read yet, as of its last pull",
        labels=["edge_id"],
    )
    push_age = GaugeMetricFamily(
        "edgesync_cloud_edge_last_push_age_seconds",
        "Seconds since the edge's last answered push",
        labels=["edge_id"],
    )
    gap = GaugeMetricFamily(
        "edgesync_cloud_edge_gap",
        "1 when a change of the edge below its highest origin_seq never arrived",
        labels=["edge_id"],
    )
    for edge in known:
        if edge.lag is not None:
            lag.add_metric([edge.edge_id], edge.lag)
        if edge.last_push_at is not None:
            age = (now - edge.last_push_at).total_seconds()
            push_age.add_metric([edge.edge_id], max(age, 0.0))
        gap.add_metric([edge.edge_id], 1 if edge.gap else 0)

    return [lag, push_age, gap]
