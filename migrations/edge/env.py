"""Alembic environment of the edge service's database."""

from edge_service.tables import metadata
from edgesync.migrate import run_migrations

run_migrations(metadata)
