"""
Errors a client of the cloud can cause, each mapped to one HTTP status.

    ProblemError (edgesync.problems)
    └── CloudError
        ├── ReportNotFound            404
        ├── ConflictNotFound          404
        ├── ConflictChanged           409
        ├── ConflictAlreadyResolved   409
        ├── BatchTooLarge             422
        ├── NotASibling               422
        ├── ResolverRequired          422
        ├── PreconditionRequired      428
        └── NotReady                  503

``edgesync.problems.install_problem_handlers`` turns them into RFC 9457
problem documents.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from edgesync.problems import ProblemError
from syncproto import ConflictPublic, ResolutionPublic


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


class ConflictChanged(CloudError):
    """The conflict is no longer the one the resolver read: its ETag moved."""

    status: ClassVar[int] = 409
    title: ClassVar[str] = "Conflict changed"

    def __init__(self, conflict: ConflictPublic, etag: str) -> None:
        super().__init__(
            f"conflict {conflict.conflict_id} or its report changed since it was "
            "read (a sibling joined, or a later change moved the report on); "
            "review it again and resend with its current ETag",
            conflict=conflict,
            etag=etag,
        )


class ConflictAlreadyResolved(CloudError):
    """The conflict has been resolved already, by this or another resolver."""

    status: ClassVar[int] = 409
    title: ClassVar[str] = "Conflict already resolved"

    def __init__(self, conflict: ConflictPublic, resolution: ResolutionPublic) -> None:
        super().__init__(
            f"conflict {conflict.conflict_id} was resolved by "
            f"{resolution.resolved_by} at {resolution.resolved_at.isoformat()}",
            resolution=resolution,
            conflict=conflict,
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


class NotASibling(CloudError):
    """A resolution keeps a change that is not one of the conflict's siblings."""

    status: ClassVar[int] = 422
    title: ClassVar[str] = "Not a sibling"

    def __init__(self, change_id: uuid.UUID, siblings: list[uuid.UUID]) -> None:
        super().__init__(
            f"change {change_id} is not a sibling of this conflict",
            siblings=[str(s) for s in siblings],
        )


class ResolverRequired(CloudError):
    """With authentication off, a resolution must name its resolver."""

    status: ClassVar[int] = 422
    title: ClassVar[str] = "Resolver required"

    def __init__(self) -> None:
        super().__init__(
            "name the resolver in the X-Analyst header (authentication is off)"
        )


class PreconditionRequired(CloudError):
    """A resolution came without the ETag of the conflict it was based on."""

    status: ClassVar[int] = 428
    title: ClassVar[str] = "Precondition required"

    def __init__(self) -> None:
        super().__init__(
            "send If-Match with the ETag of GET /conflicts/{conflict_id}, so that "
            "the resolution is based on the siblings you reviewed"
        )


class NotReady(CloudError):
    """The database is unreachable or not at the newest migration."""

    status: ClassVar[int] = 503
    title: ClassVar[str] = "Not ready"
