"""
Retry delays: exponential backoff with full jitter applied after the cap.

Each delay is drawn uniformly from ``[base, min(cap, base * 2**(n-1))]``, the
"full jitter" of tenacity's ``wait_random_exponential``, so that edges which
failed together do not retry together, even once they all reached the cap
(BC-16). A ``Retry-After`` from the cloud is a floor, never shortened.
"""

from __future__ import annotations

import random

import tenacity

from edge_service.cloud_client import CloudUnavailableError

# Any Retrying instance will do: the wait strategy only reads attempt_number.
_RETRYING = tenacity.AsyncRetrying()


class Backoff(tenacity.wait_random_exponential):
    """A tenacity wait strategy with its own random source, so tests can seed it."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None):
        super().__init__(multiplier=base, max=cap, min=base)
        self._rng = rng or random.Random()

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        """Return the wait before the next attempt, honouring ``Retry-After``."""
        retry_after = None
        outcome = retry_state.outcome
        if outcome is not None and outcome.failed:
            error = outcome.exception()
            if isinstance(error, CloudUnavailableError):
                retry_after = error.retry_after
        return self._jittered(retry_state, retry_after)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Return the wait after failed attempt number *attempt* (from 1)."""
        state = tenacity.RetryCallState(_RETRYING, None, (), {})
        state.attempt_number = attempt
        return self._jittered(state, retry_after)

    def _jittered(
        self, retry_state: tenacity.RetryCallState, retry_after: float | None
    ) -> float:
        # wait_exponential gives the capped window's upper end; the jitter is
        # drawn below it, so no delay exceeds the cap or falls under the base.
        high = tenacity.wait_exponential.__call__(self, retry_state)
        delay = self._rng.uniform(self.min, high)
        return delay if retry_after is None else max(delay, retry_after)
