"""The header limit and the URL-token refusal run before any route or authentication."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Depends, FastAPI, Header

from edgesync.headerlimit import DEFAULT_MAX_HEADER_BYTES, HeaderLimitMiddleware
from edgesync.problems import PROBLEM_JSON
from edgesync.tokens import bearer_token

calls: list[str] = []


def _authenticate(authorization: str | None = Header(default=None)) -> str:
    calls.append("auth")
    return bearer_token(authorization)[:3]


def _app(max_bytes: int = DEFAULT_MAX_HEADER_BYTES) -> HeaderLimitMiddleware:
    app = FastAPI()

    @app.get("/reports")
    def reports(token: str = Depends(_authenticate)) -> dict[str, str]:
        return {"token_prefix": token}

    return HeaderLimitMiddleware(app, max_bytes=max_bytes)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """A client of a tiny app whose only route needs a bearer token."""
    calls.clear()
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


async def test_ordinary_request_passes(client: httpx.AsyncClient) -> None:
    """Headers under the limit reach the route and its authentication."""
    response = await client.get("/reports", headers={"Authorization": "Bearer a.b.c"})

    assert response.status_code == 200
    assert calls == ["auth"]


async def test_oversized_headers_get_431_before_authentication(
    client: httpx.AsyncClient,
) -> None:
    """Headers above 16 KiB are answered 431 problem+json; authentication never runs."""
    response = await client.get(
        "/reports", headers={"Authorization": "Bearer " + "x" * 17_000}
    )

    assert response.status_code == 431
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["status"] == 431
    assert calls == []


async def test_many_small_headers_add_up(client: httpx.AsyncClient) -> None:
    """The limit is on the headers' total, not on any single header."""
    headers = {f"x-filler-{i}": "v" * 200 for i in range(100)}

    response = await client.get("/reports", headers=headers)

    assert response.status_code == 431


async def test_bc19_megabyte_bearer_refused_quickly(client: httpx.AsyncClient) -> None:
    """BC-19: a 1 MB bearer token is refused with 431 in well under 100 ms."""
    headers = {"Authorization": "Bearer " + "A" * 1024 * 1024}

    start = time.perf_counter()
    response = await client.get("/reports", headers=headers)
    elapsed = time.perf_counter() - start

    assert response.status_code == 431
    assert elapsed < 0.1
    assert calls == []


@pytest.mark.parametrize(
    "query", ["access_token=a.b.c", "token=a.b.c", "x=1&Access_Token=", "TOKEN=1"]
)
async def test_token_in_url_is_refused(client: httpx.AsyncClient, query: str) -> None:
    """A token in the query string is refused with 400, even next to a header."""
    response = await client.get(
        f"/reports?{query}", headers={"Authorization": "Bearer a.b.c"}
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "tokens belong in the Authorization header"
    assert "a.b.c" not in response.text
    assert calls == []


async def test_similar_parameter_names_pass(client: httpx.AsyncClient) -> None:
    """Only the token parameters themselves are refused, not look-alikes."""
    response = await client.get(
        "/reports?tokens=1&page_token=2", headers={"Authorization": "Bearer a.b.c"}
    )

    assert response.status_code == 200


async def test_long_query_string_counts_toward_the_limit() -> None:
    """An oversized query string is refused like oversized headers."""
    transport = httpx.ASGITransport(app=_app(max_bytes=1024))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/reports?q=" + "x" * 2048)

    assert response.status_code == 431
