"""The logging set-up: JSON lines whatever logs, and no library's data leaks."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from edgesync.logs import configure_logging


@pytest.fixture
def json_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Configure JSON logging at debug; yield a reader of the lines written."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, structlog.get_config())
    library_levels = {
        name: logging.getLogger(name).level for name in ("aiosqlite", "httpx")
    }
    configure_logging("json", "DEBUG")

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    yield read

    root.handlers[:], level, config = saved
    root.setLevel(level)
    structlog.configure(**config)
    for name, library_level in library_levels.items():
        logging.getLogger(name).setLevel(library_level)


def test_aiosqlite_debug_lines_never_reach_the_log(json_lines: Any) -> None:
    """aiosqlite quotes statement parameters at debug: dropped even at debug."""
    logging.getLogger("aiosqlite").debug("executing %s", "('secret report text',)")
    structlog.get_logger().debug("change_decided", change_id="c-1")

    lines = json_lines()

    assert [line["event"] for line in lines] == ["change_decided"]


def test_a_library_exception_is_one_json_line_with_its_traceback(
    json_lines: Any,
) -> None:
    """An exception logged through the standard library renders as text in JSON."""
    try:
        raise ValueError("boom")
    except ValueError:
        # A logger of the standard library's own, as uvicorn's error log is.
        logging.getLogger("tests.stdlib").exception("Exception in the application")

    (line,) = json_lines()

    assert line["level"] == "error"
    assert "Traceback" in line["exception"]
    assert "ValueError: boom" in line["exception"]
    assert "exc_info" not in line
