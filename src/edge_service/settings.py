"""Edge configuration, from ``EDGESYNC_*`` environment variables or flags."""

from __future__ import annotations

import ssl
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from edgesync.authsettings import AuthSettings
from edgesync.certs import client_ssl_context
from edgesync.logs import LogFormat
from syncproto import MAX_BATCH_CHANGES, Classification, EdgeId


class EdgeSettings(AuthSettings):
    """Everything an edge service reads at start."""

    model_config = SettingsConfigDict(env_prefix="EDGESYNC_", extra="ignore")

    edge_id: EdgeId = Field(default="edge-a")
    database_url: str = Field(
        default="",
        description="sqlite+aiosqlite:///path; empty means var/<edge_id>.db",
    )
    cloud_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=0, le=65535)
    batch_size: int = Field(default=200, ge=1, le=MAX_BATCH_CHANGES)
    sync_interval: float = Field(default=5.0, gt=0, description="Seconds between syncs")
    pull_limit: int = Field(default=500, ge=1, le=1000)
    backoff_base: float = Field(default=0.5, gt=0)
    backoff_cap: float = Field(default=10.0, gt=0)
    request_timeout: float = Field(default=10.0, gt=0)
    outbox_retention_days: float = Field(default=7, gt=0)
    rejected_retention_days: float = Field(default=30, gt=0)
    purge_interval: float = Field(
        default=300.0, gt=0, description="Seconds between outbox purges"
    )
    sync_run_timeout: float = Field(
        default=30.0, gt=0, description="Seconds POST /sync/run waits for a cycle"
    )
    max_request_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="Largest API request body; a 64 KiB report escaped as JSON fits",
    )
    cloud_ca_file: Path | None = Field(
        default=None, description="CA bundle that signed the cloud's certificate"
    )
    client_certfile: Path | None = Field(
        default=None, description="This edge's certificate, for mutual TLS"
    )
    client_keyfile: Path | None = Field(default=None, description="Its private key")
    edge_key_file: Path | None = Field(
        default=None,
        description="This edge's RSA private key PEM (mode 0600); when set, every "
        "call to the cloud carries a bearer token the edge signs with it",
    )
    clearance: Classification | None = Field(
        default=None,
        description="The clearance this edge is registered with at the cloud; when "
        "set, no analyst may write a report marked above it here, whatever their "
        "own clearance (the cloud would reject it, and its text would stay here)",
    )
    migrate_on_start: bool = True
    log_format: LogFormat = "console"
    log_level: str = "INFO"

    def cloud_tls(self) -> ssl.SSLContext | bool:
        """Return how to verify the cloud: its CA (and our cert), or the system's."""
        if self.cloud_ca_file is None:
            return True
        return client_ssl_context(
            self.cloud_ca_file, self.client_certfile, self.client_keyfile
        )

    @property
    def resolved_database_url(self) -> str:
        """Return the database URL, defaulting to a file named after the edge."""
        return self.database_url or f"sqlite+aiosqlite:///var/{self.edge_id}.db"
