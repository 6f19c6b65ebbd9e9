"""
The cloud's HTTP API as the ``edgesync`` operator commands call it.

``edgesync audit`` calls an edge's audit log through the same client.

A refusal (any 4xx or 5xx) or an unreachable cloud ends the command with the
problem's detail in red and exit status 1. A bearer token, when given, goes
in ``Authorization`` on every call and is never printed.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.text import Text

DEFAULT_CLOUD_URL = "http://127.0.0.1:8000"

CloudUrl = Annotated[
    str,
    typer.Option("--cloud", envvar="EDGESYNC_CLOUD_URL", help="The cloud's base URL"),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="EDGESYNC_TOKEN",
        help="An analyst's bearer token",
        show_default=False,
    ),
]
CaFile = Annotated[
    Path | None,
    typer.Option(
        "--ca-file",
        envvar="EDGESYNC_CLOUD_CA_FILE",
        help="CA bundle (PEM) to verify the cloud's HTTPS certificate against",
        exists=True,
        dir_okay=False,
        readable=True,
        show_default=False,
    ),
]


class CloudClient:
    """The few cloud calls of the operator commands; a refusal ends the command."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        ca_file: Path | None = None,
        service: str = "cloud",
    ) -> None:
        self.base_url = base_url
        # What the messages call the other end: the cloud, or an edge.
        self.service = service
        headers = {}
        token = (token or "").strip()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=base_url, timeout=30, headers=headers, verify=_verify(ca_file)
        )

    @property
    def authenticated(self) -> bool:
        """Whether every call carries a bearer token."""
        return "Authorization" in self._http.headers

    def __enter__(self) -> CloudClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; on a transport failure or a 4xx/5xx, exit 1."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            self._unreachable(exc)
        if response.is_error:
            fail(f"{response.status_code}: {_detail(response)}")
        return response

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """
        Send one request and yield the response with its body still unread.

        A failure to connect or a 4xx/5xx exits 1 as :meth:`send` does; a
        failure while the caller reads the body is the caller's to handle.
        """
        request = self._http.build_request(method, path, **kwargs)
        try:
            response = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            self._unreachable(exc)
        try:
            if response.is_error:
                try:
                    response.read()
                except httpx.TransportError:
                    fail(f"{response.status_code}: {response.reason_phrase}")
                fail(f"{response.status_code}: {_detail(response)}")
            yield response
        finally:
            response.close()

    def _unreachable(self, exc: httpx.TransportError) -> NoReturn:
        fail(f"cannot reach the {self.service} at {self.base_url}: {exc}")


def _verify(ca_file: Path | None) -> ssl.SSLContext | bool:
    """Return httpx's ``verify``: the system's CAs, or only those of *ca_file*."""
    if ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        fail(f"cannot use {ca_file} as a CA bundle: {exc}")


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail or response.reason_phrase)


def fail(message: str) -> NoReturn:
    """Print *message* in red on stderr (never as markup) and exit 1."""
    Console(stderr=True).print(Text(message, style="red"))
    raise typer.Exit(1)
