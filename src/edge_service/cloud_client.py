"""
The cloud's sync API as the edge sees it, with failures sorted by what to do.

* :class:`CloudUnavailableError`: try again later (transport error, timeout,
  5xx, 429, 401 from an expired edge token, 403, an unreadable answer). A
  401 also drops the cached edge token, so the retry signs a fresh one; the
  changes stay pending either way, never rejected.
* :class:`BodyTooLargeError`: 413, split the batch.
* :class:`BatchRefusedError`: a whole-batch 400 or 422, split the batch to
  find the change at fault.

Every answered push and feed read is timed into the edge's metrics: the
round trip the cloud and the link cost, whatever the status.
"""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import httpx
import pydantic

from edge_service.credentials import EdgeCredentials
from syncproto import FeedPage, PushResult, SyncInfo

if TYPE_CHECKING:
    from prometheus_client import Histogram

    from edge_service.metrics import EdgeMetrics

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)

_SPLIT_STATUSES = frozenset({400, 422})
# What a CloudUnavailableError's ``reason`` may be: few, for metric labels.
FAILURE_REASONS = (
    "unreachable",
    "timeout",
    "unreadable_answer",
    "unauthorized",
    "forbidden",
    "throttled",
    "server_error",
    "http_error",
)


class CloudError(Exception):
    """Base of the failures of a call to the cloud."""


class CloudUnavailableError(CloudError):
    """
    The call failed for a reason that passes; ``retry_after`` is in seconds.

    ``reason`` is one of :data:`FAILURE_REASONS`: given for a call that got
    no usable answer, else worked out from ``status``.
    """

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        retry_after: float | None,
        reason: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.retry_after = retry_after
        self.reason = reason or _status_reason(status)


def _status_reason(status: int | None) -> str:
    if status == 401:
        return "unauthorized"
    if status == 403:
        return "forbidden"
    if status == 429:
        return "throttled"
    if status is not None and status >= 500:
        return "server_error"
    return "http_error"


class BodyTooLargeError(CloudError):
    """The cloud refused the body as above its size limit (413)."""


class BatchRefusedError(CloudError):
    """The cloud refused the whole batch as invalid; ``detail`` says why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class CloudClient:
    """Call the cloud's ``/sync`` endpoints on behalf of one edge."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        edge_id: str,
        credentials: EdgeCredentials | None = None,
        *,
        metrics: EdgeMetrics,
    ) -> None:
        self._http = http
        self._edge_id = edge_id
        # None: the cloud is reached without a token (mutual TLS or nothing).
        self._credentials = credentials
        self._metrics = metrics

    async def info(self) -> SyncInfo:
        """Return the limits the cloud advertises."""
        response = await self._send("GET", "/sync/info")
        return _parse(response, SyncInfo)

    async def push(self, body: bytes) -> PushResult:
        """POST an encoded ``PushBatch`` and return the per-change outcomes."""
        response = await self._send(
            "POST",
            "/sync/push",
            content=body,
            headers={"content-type": "application/json"},
            latency=self._metrics.push_duration,
        )
        return _parse(response, PushResult)

    async def feed(self, *, after: int, limit: int) -> FeedPage:
        """Return the feed page after *after*."""
        params: dict[str, str | int] = {
            "after": after,
            "limit": limit,
            "edge_id": self._edge_id,
        }
        response = await self._send(
            "GET", "/sync/feed", params=params, latency=self._metrics.pull_duration
        )
        return _parse(response, FeedPage)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str | int] | None = None,
        latency: Histogram | None = None,
    ) -> httpx.Response:
        headers = dict(headers or {})
        credentials, token = self._credentials, None
        if credentials is not None:
            token = credentials.token()
            headers["authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        try:
            response = await self._http.request(
                method, url, content=content, headers=headers, params=params
            )
        except httpx.TransportError as exc:
            # The cause (refused, timed out, certificate not trusted) is what an
            # operator needs to act on; it never holds a token or report text.
            detail = f"{type(exc).__name__} calling {url}: {exc}"[:500]
            reason = (
                "timeout" if isinstance(exc, httpx.TimeoutException) else "unreachable"
            )
            raise CloudUnavailableError(
                detail, retry_after=None, reason=reason
            ) from exc
        if latency is not None:
            latency.observe(time.perf_counter() - started)
        if response.is_success:
            return response
        if response.status_code == 401 and credentials is not None and token:
            # Whatever the cloud disliked, the same token will not do better.
            credentials.refused(token)
        if response.status_code == 413:
            raise BodyTooLargeError(_problem_detail(response))
        if response.status_code in _SPLIT_STATUSES:
            raise BatchRefusedError(response.status_code, _problem_detail(response))
        raise CloudUnavailableError(
            f"{response.status_code} from {url}: {_problem_detail(response)}",
            status=response.status_code,
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
        )


def _parse(response: httpx.Response, model: type[ModelT]) -> ModelT:
    # A truncated or malformed answer is treated like no answer: nothing is
    # recorded and the same request is made again later.
    try:
        return model.model_validate_json(response.content)
    except pydantic.ValidationError as exc:
        detail = f"unreadable {model.__name__} from {response.url.path}"
        raise CloudUnavailableError(
            detail, retry_after=None, reason="unreadable_answer"
        ) from exc


def _problem_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no detail"
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    return response.reason_phrase or "no detail"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Read a ``Retry-After`` header: seconds, or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
