"""
Rules for text and time that hold on every path: edge API, inbox and feed.

PostgreSQL cannot store U+0000 or unpaired surrogates, so both are refused at
the door instead of failing deep inside a transaction. Text is otherwise kept
byte for byte: no Unicode normalisation, no trimming.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

MAX_CONTENT_BYTES = 64 * 1024
MAX_TITLE_CHARS = 200
# A wall clock this far ahead of the receiver is not believed (docs/protocol.md).
FUTURE_SKEW = timedelta(minutes=5)
# Field reports are written now; years far outside this are a broken clock or
# an attack, and the edge's and PostgreSQL's time types both hold this range.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def check_text(value: str) -> str:
    """Refuse NUL characters and unpaired surrogates; return *value* unchanged."""
    if "\x00" in value:
        msg = "text must not contain U+0000"
        raise ValueError(msg)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        msg = f"text holds an unpaired surrogate at character {exc.start}"
        raise ValueError(msg) from None
    return value


def check_content(value: str) -> str:
    """Apply :func:`check_text` and the content limit, counted in UTF-8 bytes."""
    check_text(value)
    size = len(value.encode("utf-8"))
    if size > MAX_CONTENT_BYTES:
        msg = f"content is {size} bytes in UTF-8; the limit is {MAX_CONTENT_BYTES}"
        raise ValueError(msg)
    return value


def to_utc(value: datetime) -> datetime:
    """Normalise an offset-aware datetime to UTC within the years we accept."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        msg = "timestamp is out of range once moved to UTC"
        raise ValueError(msg) from None
    if not EARLIEST <= utc <= LATEST:
        msg = f"timestamp must lie between {EARLIEST:%Y} and {LATEST:%Y} (UTC)"
        raise ValueError(msg)
    return utc


def only_text(value: object) -> object:
    """Refuse a timestamp given as a number: its unit would have to be guessed."""
    if isinstance(value, int | float):
        msg = "timestamps are ISO 8601 text with a UTC offset, not numbers"
        raise ValueError(msg)
    return value


def clamp_future(value: datetime, now: datetime) -> datetime:
    """
    Return *value*, or *now* when *value* is more than five minutes ahead.

    A wrong wall clock at an edge must never win a provisional tie by claiming
    to be from the future.
    """
    return now if value - now > FUTURE_SKEW else value


SafeText = Annotated[str, AfterValidator(check_text)]
Content = Annotated[str, AfterValidator(check_content)]
UtcDatetime = Annotated[
    AwareDatetime, BeforeValidator(only_text), AfterValidator(to_utc)
]
