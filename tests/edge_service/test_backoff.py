"""Retry delays: full jitter after the cap, Retry-After obeyed (BC-16)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import tenacity

from edge_service.backoff import Backoff
from edge_service.cloud_client import CloudUnavailableError, retry_after_seconds

BASE, CAP = 0.5, 10.0
SEEDS = range(100)


def edges() -> list[Backoff]:
    """Return the backoff of 100 edges, each with its own seed."""
    return [Backoff(BASE, CAP, random.Random(seed)) for seed in SEEDS]


def test_bc16_delays_stay_between_base_and_cap() -> None:
    """No delay is above the cap or below the base, whatever the attempt (BC-16)."""
    delays = [b.delay(attempt) for b in edges() for attempt in range(1, 40)]

    assert min(delays) >= BASE
    assert max(delays) <= CAP


def test_bc16_first_window_grows_exponentially() -> None:
    """Attempt n waits at most base * 2**(n-1) until that reaches the cap."""
    for backoff in edges():
        for attempt in range(1, 6):
            assert backoff.delay(attempt) <= BASE * 2 ** (attempt - 1)


def test_bc16_capped_delays_still_differ_between_edges() -> None:
    """After the cap, 100 edges spread out: at most 20 fire in any 1-second window."""
    delays = sorted(b.delay(30) for b in edges())
    fire_times = sorted(sum(b.delay(n) for n in range(1, 31)) for b in edges())

    assert len(set(delays)) == 100
    for times in (delays, fire_times):
        busiest = max(
            sum(1 for t in times if start <= t < start + 1) for start in times
        )
        assert busiest <= 20


def test_bc16_retry_after_is_obeyed() -> None:
    """A Retry-After of 7 seconds is a floor for the next delay (BC-16)."""
    assert all(b.delay(1, retry_after=7) >= 7 for b in edges())


def test_retry_after_reaches_tenacity_wait() -> None:
    """Used as a tenacity wait, the strategy reads Retry-After off the failure."""
    backoff = Backoff(BASE, CAP, random.Random(1))
    state = tenacity.RetryCallState(tenacity.AsyncRetrying(), None, (), {})
    state.set_exception(
        (CloudUnavailableError, CloudUnavailableError("429", retry_after=7), None)
    )

    assert backoff(state) >= 7


def test_retry_after_header_forms() -> None:
    """Retry-After is read as seconds or as an HTTP date; garbage is ignored."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = (now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")

    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(later, now) == 30.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
