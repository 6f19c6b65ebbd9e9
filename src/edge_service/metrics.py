"""
The edge's Prometheus metrics: its round trips to the cloud, and its backlog.

The cloud client times pushes and feed reads, the pusher counts the cloud's
answers and the sync loop its failures, in the app's own registry. The
outbox, the feed cursor and the reports in conflict are read from SQLite on
every scrape (:func:`status_gauges`), from the same status ``GET
/sync/status`` shows, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from edge_service.cloud_client import FAILURE_REASONS, CloudUnavailableError
from edge_service.models import OutboxState, SyncStatus
from edgesync.metrics import HttpMetrics, new_registry
from syncproto import Outcome

# A failure that is not the cloud's or the link's: a bug, or the database.
INTERNAL_FAILURE = "internal"


class EdgeMetrics:
    """The counters and histograms of one edge app, in its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or new_registry()
        self.http = HttpMetrics(self.registry)
        self.push_duration = Histogram(
            "edgesync_edge_push_duration_seconds",
            "Round trip of one push the cloud answered, any status",
            registry=self.registry,
        )
        self.pull_duration = Histogram(
            "edgesync_edge_pull_duration_seconds",
            "Round trip of one feed page read the cloud answered, any status",
            registry=self.registry,
        )
        self.changes_answered = Counter(
            "edgesync_edge_changes_answered",
            "Pushed changes by the outcome the cloud answered",
            ["outcome"],
            registry=self.registry,
        )
        self.sync_failures = Counter(
            "edgesync_edge_sync_failures",
            "Sync runs that failed, by the class of the failure",
            ["reason"],
            registry=self.registry,
        )
        # Every label value is shown from the start, so rates exist at zero.
        for outcome in Outcome:
            self.changes_answered.labels(outcome.value)
        for reason in (*FAILURE_REASONS, INTERNAL_FAILURE):
            self.sync_failures.labels(reason)

    def answered(self, states: Iterable[OutboxState]) -> None:
        """Count the cloud's answer for each pushed change."""
        for state in states:
            self.changes_answered.labels(state.value).inc()

    def failed(self, error: BaseException) -> None:
        """Count one failed sync run under the class of *error*."""
        self.sync_failures.labels(failure_reason(error)).inc()


def failure_reason(error: BaseException) -> str:
    """Return the class of a sync run's failure: the cloud's or the link's, or ours."""
    if isinstance(error, CloudUnavailableError):
        return error.reason
    return INTERNAL_FAILURE


def status_gauges(status: SyncStatus) -> list[GaugeMetricFamily]:
    """Return the gauges of an edge's sync status, as read for one scrape."""
    outbox = GaugeMetricFamily(
        "edgesync_edge_outbox_changes",
        "Outbox rows by state: waiting, held, or answered and not purged yet",
        labels=["state"],
    )
    for state in OutboxState:
        outbox.add_metric([state.value], status.outbox.get(state, 0))
    values = {
        "edgesync_edge_outbox_oldest_pending_age_seconds": (
            "Age of the oldest change waiting to be pushed; 0 when none waits",
            status.oldest_pending_age or 0.0,
        ),
        "edgesync_edge_feed_cursor": (
            "Seq of the last feed entry applied here",
            status.feed_cursor,
        ),
        "edgesync_edge_feed_head": (
            "The feed head the cloud named at the last pull",
            status.feed_head,
        ),
        "edgesync_edge_reports_in_conflict": (
            "Reports waiting for the cloud's verdict on a conflict",
            status.in_conflict,
        ),
        "edgesync_edge_sync_consecutive_failures": (
            "Sync runs failed in a row since the last one that succeeded",
            status.consecutive_failures,
        ),
    }
    gauges = [
        GaugeMetricFamily(name, documentation, value=value)
        for name, (documentation, value) in values.items()
    ]

    return [outbox, *gauges]
