"""
Errors of the edge service.

Every error a client can cause derives from :class:`EdgeError`, and
``edgesync.problems.install_problem_handlers`` turns it into an RFC 9457
problem document::

    ProblemError (edgesync.problems)
    └── EdgeError
        ├── ReportNotFoundError        404
        ├── ReportExistsError          409
        ├── BaseClockMismatchError     409
        ├── NotAuthenticatedError      401 (with WWW-Authenticate: Bearer)
        ├── ForbiddenError             403
        └── AuditQueryError            422

Transport failures towards the cloud are not client errors; they live in
``edge_service.cloud_client`` and only ever reach the sync loop.
"""

from __future__ import annotations

from typing import ClassVar

from edgesync.problems import ProblemError
from syncproto import Clock


class EdgeError(ProblemError):
    """Base of the edge's client errors."""


class ReportNotFoundError(EdgeError):
    """The report does not exist here, or is deleted."""

    status: ClassVar[int] = 404
    title: ClassVar[str] = "Report not found"

    def __init__(self, report_id: str) -> None:
        super().__init__(f"no report {report_id!r} at this edge", report_id=report_id)


class ReportExistsError(EdgeError):
    """A create names a report id that is already taken, deleted ones included."""

    status: ClassVar[int] = 409
    title: ClassVar[str] = "Report already exists"

    def __init__(self, report_id: str) -> None:
        super().__init__(
            f"report {report_id!r} already exists (possibly deleted); "
            "choose another id or edit it",
            report_id=report_id,
        )


class BaseClockMismatchError(EdgeError):
    """An edit names a ``base_clock`` that is no longer the report's clock."""

    status: ClassVar[int] = 409
    title: ClassVar[str] = "Report changed since it was read"

    def __init__(self, report_id: str, base_clock: Clock, clock: Clock) -> None:
        super().__init__(
            f"report {report_id!r} is at another version; reload it and edit again",
            report_id=report_id,
            base_clock=base_clock,
            clock=clock,
        )


class NotAuthenticatedError(EdgeError):
    """No bearer token, or one that failed verification; answered with 401."""

    status: ClassVar[int] = 401
    title: ClassVar[str] = "Not authenticated"

    def __init__(self, reason: str, *, presented: bool) -> None:
        # *reason* comes from InvalidTokenError, which never quotes the token.
        super().__init__(f"a valid bearer token is required: {reason}")
        self.presented = presented

    @property
    def challenge(self) -> str:
        """Return the ``WWW-Authenticate`` value (RFC 6750 §3)."""
        return 'Bearer error="invalid_token"' if self.presented else "Bearer"


class ForbiddenError(EdgeError):
    """The analyst is known but lacks the role or the clearance."""

    status: ClassVar[int] = 403
    title: ClassVar[str] = "Forbidden"


class AuditQueryError(EdgeError):
    """An audit query that reads but cannot be meant: a reversed range, say."""

    status: ClassVar[int] = 422
    title: ClassVar[str] = "Invalid request"
