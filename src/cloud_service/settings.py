"""Cloud configuration, from ``EDGESYNC_*`` environment variables or flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from edgesync.authsettings import AuthSettings
from edgesync.certs import server_ssl_options
from edgesync.logs import LogFormat
from syncproto import DEFAULT_MAX_BODY_BYTES, MAX_BATCH_CHANGES


class CloudSettings(AuthSettings):
    """Everything the cloud service reads at start."""

    model_config = SettingsConfigDict(env_prefix="EDGESYNC_", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///var/cloud.db",
        description="SQLAlchemy URL: postgresql+asyncpg://… or sqlite+aiosqlite:///…",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    max_batch_changes: int = Field(
        default=MAX_BATCH_CHANGES, ge=1, le=MAX_BATCH_CHANGES
    )
    inbox_retention_days: int = Field(
        default=90,
        ge=1,
        description="How long change ids are remembered: the longest an edge may "
        "stay offline and still have its resends recognised as duplicates.",
    )
    inbox_purge_interval_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="How often inbox entries older than the retention are purged.",
    )
    db_pooler: bool = Field(
        default=False,
        description="Set when PostgreSQL is reached through a transaction-mode "
        "pooler (pgbouncer): turns off prepared statement caches.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=32,
        description="uvicorn worker processes. The cloud keeps no state in a "
        "process, so N workers behave as N replicas on one database.",
    )
    tls_certfile: Path | None = Field(
        default=None, description="Serve HTTPS with this certificate (PEM)"
    )
    tls_keyfile: Path | None = Field(
        default=None, description="Its private key; refused when others can read it"
    )
    tls_client_ca: Path | None = Field(
        default=None,
        description="Require client certificates issued by this CA (mutual TLS)",
    )
    migrate_on_start: bool = True
    log_format: LogFormat = "console"
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _tls_pairs(self) -> Self:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            msg = "give both tls_certfile and tls_keyfile, or neither"
            raise ValueError(msg)
        if self.tls_client_ca is not None and self.tls_certfile is None:
            msg = "mutual TLS (tls_client_ca) needs tls_certfile and tls_keyfile"
            raise ValueError(msg)
        return self

    def uvicorn_tls(self) -> dict[str, Any]:
        """Return uvicorn's TLS options, empty when serving plain HTTP."""
        if self.tls_certfile is None or self.tls_keyfile is None:
            return {}
        return server_ssl_options(
            self.tls_certfile, self.tls_keyfile, client_ca=self.tls_client_ca
        )
