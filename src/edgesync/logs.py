"""
structlog set-up shared by both services and the command line.

JSON lines in production, readable console lines in development. Request and
batch context is bound through contextvars, so ``merge_contextvars`` comes first.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

import structlog

LogFormat = Literal["json", "console"]


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Write to whatever ``sys.stderr`` is when a record is emitted."""

    # Bound late, so that a replaced stderr (a test runner's capture, a
    # daemon's redirect) is followed instead of a closed one written to.
    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        return


def configure_logging(fmt: LogFormat = "console", level: str = "INFO") -> None:
    """Route structlog and the standard library's loggers through one renderer."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        # Plain tracebacks: rich ones print every local, slow and too revealing.
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(),
            exception_formatter=structlog.dev.plain_traceback,
        )
    )
    structlog.configure(
        processors=[
            # First, so that a debug line per change costs one level check
            # when debug is off, not a timestamp and a rendering.
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # A standard library record (uvicorn's) brings its exc_info
                # raw; without this JSON lines would hold its repr, no trace.
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log duplicates our own request lines.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx and httpcore log every call an edge makes to the cloud, in lines
    # whose text carries the URL instead of key/value context; the edge's own
    # push and pull events say it better, at every level.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # aiosqlite's debug lines quote every statement with its parameters,
    # report text among them: never below info, whatever the level asked.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
