"""
The bearer token this edge presents to the cloud, signed with its own key.

One token serves every call until it is close to expiry, so signing (about a
millisecond) happens a few times an hour, not per request. A 401 from the cloud
drops the token: whatever the cloud disliked (expired in transit, clock skew,
a re-keyed edge), the next attempt carries a freshly signed one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from edgesync.tokens import MAX_EDGE_TOKEN_TTL, TokenSigner, sign_edge_token

# Re-sign when less than this is left, so a token never expires between
# being attached and being checked, even on a slow link with some clock skew.
REFRESH_MARGIN = 60.0


class EdgeCredentials:
    """Sign, cache and renew the edge's token for the cloud."""

    def __init__(
        self,
        signer: TokenSigner,
        edge_id: str,
        *,
        audience: str,
        ttl: int = MAX_EDGE_TOKEN_TTL,
        refresh_margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signer = signer
        self._edge_id = edge_id
        self._audience = audience
        self._ttl = min(ttl, MAX_EDGE_TOKEN_TTL)
        self._margin = refresh_margin
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0

    def token(self) -> str:
        """Return the cached token, signing a new one if it is near expiry."""
        now = self._clock()
        if self._token is None or self._expires_at - now < self._margin:
            # Taken before signing, so it is never later than the token's exp.
            self._expires_at = now + self._ttl
            self._token = sign_edge_token(
                self._signer, self._edge_id, audience=self._audience, ttl=self._ttl
            )
        return self._token

    def refused(self, token: str) -> None:
        """
        Forget *token* after the cloud answered 401 to it.

        Only that token is dropped: a newer one signed meanwhile is kept.
        """
        if self._token == token:
            self._token = None
