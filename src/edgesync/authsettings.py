"""The authentication settings both services read, with the same names."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings


class AuthSettings(BaseSettings):
    """How a service verifies the analysts' tokens; the services extend it."""

    issuer_jwks_file: Path | None = Field(
        default=None,
        description="The identity issuer's JWK set; analysts' RS256 tokens are "
        "verified against it (offline, at an edge). Without it the service "
        "refuses to start, unless allow_anonymous is set.",
    )
    token_audience: str = Field(
        default="edgesync", min_length=1, description="`aud` every token names"
    )
    token_issuer: str | None = Field(
        default=None, description="`iss` analyst tokens must name, if any"
    )
    token_leeway: int = Field(
        default=60, ge=0, le=300, description="Seconds of clock skew allowed"
    )
    allow_anonymous: bool = Field(
        default=False,
        description="Serve without authentication when no issuer_jwks_file is "
        "given; for development and protocol tests only",
    )
