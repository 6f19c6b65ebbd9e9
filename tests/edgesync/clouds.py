"""A real cloud (or edge) served by uvicorn in a thread, for the command-line tests."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import structlog
import uvicorn
from fastapi import FastAPI

from cloud_service.app import create_app
from cloud_service.settings import CloudSettings
from edge_service.app import create_app as create_edge_app
from edge_service.settings import EdgeSettings
from edgesync.tokens import Role, TokenSigner, issue_analyst_token
from syncproto import Classification


@contextlib.contextmanager
def running_cloud(settings: CloudSettings) -> Iterator[str]:
    """Serve a cloud in a thread of this process; yield its URL."""
    with running_app(create_app(settings)) as url:
        yield url


@contextlib.contextmanager
def running_edge(settings: EdgeSettings) -> Iterator[str]:
    """Serve an edge in a thread of this process; yield its URL."""
    with running_app(create_edge_app(settings)) as url:
        yield url


@contextlib.contextmanager
def running_app(app: FastAPI) -> Iterator[str]:
    """Serve *app* on a free port of 127.0.0.1 in a thread; yield its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    # The server thread logs after a test's output capture has ended, into
    # whatever stream an earlier test left a handler on: keep its lines here.
    with structlog.testing.capture_logs():
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "the app failed to start"
            assert time.monotonic() < deadline, "the app did not start within 30 s"
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=30)


@dataclass
class AuthCloud:
    """An authenticating cloud and the issuer whose analyst tokens it trusts."""

    url: str
    issuer: TokenSigner

    def token(self, *roles: Role, sub: str = "analyst-1") -> str:
        """Return an analyst token with *roles*, cleared for IL5."""
        return issue_analyst_token(
            self.issuer,
            sub=sub,
            roles=frozenset(roles),
            clearance=Classification.IL5,
            ttl=300,
            audience="edgesync",
            issuer="edgesync-dev",
        )
