"""
An ASGI middleware that refuses oversized headers and tokens in the URL.

It runs before any route or authentication, so a megabyte bearer token costs a
length sum, not a parse (cases BC-19). A token in the query string would end up
in access logs, proxies and browser history, so ``access_token`` and ``token``
parameters are refused (RFC 6750 §5.3) instead of being read or ignored.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from edgesync.problems import PROBLEM_JSON

DEFAULT_MAX_HEADER_BYTES = 16 * 1024
TOKEN_PARAMETERS = frozenset({"access_token", "token"})


class HeaderLimitMiddleware:
    """Answer 431 when request headers exceed ``max_bytes``, 400 to URL tokens."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        # The query string counts too: it is the other place a client can put
        # an unbounded token, and it is parsed below.
        size = len(query) + sum(len(k) + len(v) for k, v in scope["headers"])
        if size > self.max_bytes:
            await _refuse(
                send,
                431,
                "Request headers too large",
                f"the request headers exceed the limit of {self.max_bytes} bytes",
            )
            return
        if _has_token_parameter(query):
            await _refuse(
                send,
                400,
                "Token in URL",
                "tokens belong in the Authorization header",
            )
            return

        await self.app(scope, receive, send)


def _has_token_parameter(query: bytes) -> bool:
    if not query:
        return False
    names = {
        name.lower()
        for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    }
    return not names.isdisjoint(TOKEN_PARAMETERS)


async def _refuse(send: Send, status: int, title: str, detail: str) -> None:
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
