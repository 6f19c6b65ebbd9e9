"""
Errors a client of the cloud can cause, each mapped to one HTTP status.

    ProblemError (edgesync.problems)
    └── CloudError
        ├── ReportNotFound      404
        ├── ConflictNotFound    404
        ├── BatchTooLarge       422
        └── NotReady            503

``edgesync.problems.install_problem_handlers`` turns them into RFC 9457
problem documents.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from edgesync.problems import ProblemError


class CloudError(ProblemError):
    """Base of the cloud service's own errors."""


class ReportNotFound(CloudError):
    """No report has this id."""

    status: ClassVar[int] = 404
    title: ClassVar[str] = "Report not found"

    def __init__(self, report_id: str) -> None:
        super().__init__(f"no report has id {report_id!r}", report_id=report_id)


class ConflictNotFound(CloudError):
    """No conflict has this id."""

    status: ClassVar[int] = 404
    title: ClassVar[str] = "Conflict not found"

    def __init__(self, conflict_id: uuid.UUID) -> None:
        super().__init__(
            f"no conflict has id {conflict_id}", conflict_id=str(conflict_id)
        )


class BatchTooLarge(CloudError):
    """A batch holds more changes than this cloud accepts."""

    status: ClassVar[int] = 422
    title: ClassVar[str] = "Batch too large"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"the batch holds {size} changes; the limit is {limit}",
            max_batch_changes=limit,
        )


class NotReady(CloudError):
    """The database is unreachable or not at the newest migration."""

    status: ClassVar[int] = 503
    title: ClassVar[str] = "Not ready"
