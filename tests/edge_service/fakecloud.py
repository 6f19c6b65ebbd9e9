"""
An in-memory cloud that speaks the sync protocol simply, for the edge's tests.

It decides outcomes with plain clock rules (applied, stale, conflict), keeps a
feed, and lets a test script refusals: per-change rejections, whole-batch
400s, a body limit (413) and transient failures.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pydantic
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from syncproto import (
    Change,
    ChangeResult,
    Clock,
    FeedEntry,
    FeedPage,
    Ordering,
    Outcome,
    PushResult,
    ReportFields,
    SyncInfo,
    VersionKind,
    compare,
)

PROBLEM = "application/problem+json"


class FakeCloud:
    """The cloud's three sync endpoints over dictionaries."""

    def __init__(self, max_body_bytes: int = 4 * 1024 * 1024) -> None:
        self.max_body_bytes = max_body_bytes
        self.max_batch_changes = 500
        # Set to advertise a larger limit than the one enforced, as a
        # misconfigured proxy in front of the cloud would.
        self.advertised_body_bytes: int | None = None
        self.clocks: dict[str, Clock] = {}
        self.feed: list[FeedEntry] = []
        self.answered: dict[str, ChangeResult] = {}
        self.reject_ids: set[str] = set()
        self.poison_ids: set[str] = set()
        self.failures: list[tuple[int, dict[str, str]]] = []
        self.bodies: list[int] = []
        self.received: list[str] = []
        # (path, Authorization header) of every request, to check edge tokens.
        self.authorizations: list[tuple[str, str | None]] = []
        self.app = self._build()

    def add_entry(
        self,
        report_id: str,
        fields: ReportFields,
        clock: Clock,
        *,
        conflict_id: uuid.UUID | None = None,
    ) -> FeedEntry:
        """Append a version to the feed as if another edge had pushed it."""
        entry = feed_entry(len(self.feed) + 1, report_id, fields, clock, conflict_id)
        self.feed.append(entry)
        self.clocks[report_id] = clock
        return entry

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record_authorization(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            header = request.headers.get("authorization")
            self.authorizations.append((request.url.path, header))
            return await call_next(request)

        @app.get("/sync/info")
        async def info() -> SyncInfo:
            return SyncInfo(
                max_batch_changes=self.max_batch_changes,
                max_body_bytes=self.advertised_body_bytes or self.max_body_bytes,
                feed_head=len(self.feed),
            )

        @app.post("/sync/push")
        async def push(request: Request) -> Response:
            body = await request.body()
            self.bodies.append(len(body))
            if self.failures:
                status, headers = self.failures.pop(0)
                return _problem(status, "scripted failure", headers)
            if len(body) > self.max_body_bytes:
                return _problem(413, "body too large")
            changes: list[dict[str, Any]] = json.loads(body)["changes"]
            if any(c.get("change_id") in self.poison_ids for c in changes):
                return _problem(400, "batch holds a change the cloud cannot read")
            results = [self._answer(c) for c in changes]
            answer = PushResult(results=results, acked_seq=0, feed_head=len(self.feed))
            return Response(answer.model_dump_json(), media_type="application/json")

        @app.get("/sync/feed")
        async def feed(after: int, limit: int, edge_id: str) -> FeedPage:
            entries = [e for e in self.feed if e.seq > after][:limit]
            next_after = entries[-1].seq if entries else after
            return FeedPage(
                entries=entries,
                next_after=next_after,
                head=len(self.feed),
                has_more=next_after < len(self.feed),
            )

        return app

    def _answer(self, raw: dict[str, Any]) -> ChangeResult:
        change_id = str(raw.get("change_id"))
        self.received.append(change_id)
        if change_id in self.answered:
            first = self.answered[change_id]
            return first.model_copy(update={"outcome": Outcome.DUPLICATE})
        try:
            change = Change.model_validate(raw)
        except pydantic.ValidationError as exc:
            result = ChangeResult(
                change_id=change_id, outcome=Outcome.REJECTED, reason=str(exc)
            )
        else:
            result = self._decide(change)
        self.answered[change_id] = result
        return result

    def _decide(self, change: Change) -> ChangeResult:
        change_id = str(change.change_id)
        if change_id in self.reject_ids:
            return ChangeResult(
                change_id=change_id,
                outcome=Outcome.REJECTED,
                reason="above the edge's clearance",
            )
        current = self.clocks.get(change.report_id)
        ordering = None if current is None else compare(change.clock, current)
        if ordering is None or ordering is Ordering.AFTER:
            entry = self.add_entry(change.report_id, change.fields, change.clock)
            return ChangeResult(
                change_id=change_id, outcome=Outcome.APPLIED, clock=entry.clock
            )
        if ordering is Ordering.CONCURRENT:
            return ChangeResult(
                change_id=change_id,
                outcome=Outcome.CONFLICT,
                conflict_id=uuid.uuid4(),
                clock=current,
            )
        return ChangeResult(change_id=change_id, outcome=Outcome.STALE, clock=current)


def feed_entry(
    seq: int,
    report_id: str,
    fields: ReportFields,
    clock: Clock,
    conflict_id: uuid.UUID | None = None,
) -> FeedEntry:
    """Return a feed entry as a change of analyst bob at edge-b makes it."""
    now = datetime.now(UTC)
    return FeedEntry(
        seq=seq,
        report_id=report_id,
        kind=VersionKind.APPLIED,
        fields=fields,
        clock=clock,
        origin="edge-b",
        created_by="bob",
        created_at=now,
        updated_by="bob",
        updated_at=now,
        conflict_id=conflict_id,
    )


def _problem(
    status: int, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"type": "about:blank", "title": detail, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)
