"""
A TCP proxy on 127.0.0.1 that can cut a link, for the demo and fault tests.

``cut()`` stops listening and aborts open connections, so the edge behind it
sees "connection refused" exactly as it would with the cloud out of reach.
``drop_responses`` forwards requests but swallows the answers and closes the
connection, the lost-response fault behind duplicate deliveries, and
``response_delay`` holds every answer back, a slow link.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

log = structlog.get_logger()

_CHUNK = 65536


class NetProxy:
    """Forward 127.0.0.1:``port`` to ``upstream_host``:``upstream_port``."""

    def __init__(self, upstream_host: str, upstream_port: int, port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = port
        self.drop_responses = False
        self.response_delay = 0.0
        self.requests: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """Return the proxy's base URL for plain HTTP."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_cut(self) -> bool:
        """Return whether the link is cut."""
        return self._server is None

    async def start(self) -> None:
        """Listen (again) on the proxy's port."""
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuse new connections and abort the open ones."""
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        # Aborted transports end every pipe; wait for the handlers to return so
        # none is left pending when the event loop closes.
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None
        log.info("link_cut", port=self.port)

    async def restore(self) -> None:
        """Accept connections again on the same port."""
        if self._server is None:
            await self.start()
            log.info("link_restored", port=self.port)

    async def close(self) -> None:
        """Stop the proxy for good."""
        await self.cut()

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, upstream=True),
                self._pipe(up_reader, writer, upstream=False),
            )
        finally:
            self._writers.difference_update((writer, up_writer))
            for w in (writer, up_writer):
                w.transport.abort()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        upstream: bool,
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await reader.read(_CHUNK):
                if upstream:
                    if chunk[:1].isupper():
                        self.requests.append(chunk.split(b"\r\n", 1)[0])
                elif self.drop_responses:
                    # The request reached the server; the answer never arrives.
                    writer.transport.abort()
                    return
                elif self.response_delay:
                    await asyncio.sleep(self.response_delay)
                writer.write(chunk)
                await writer.drain()
        writer.transport.abort()
