"""Alembic environment of the cloud service's database."""

from cloud_service.tables import metadata
from edgesync.migrate import run_migrations

run_migrations(metadata)
