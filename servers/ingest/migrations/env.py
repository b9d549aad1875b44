"""Alembic environment of the ingest service (run by servers.runtime.migrations)."""

from servers.ingest.models import metadata
from servers.runtime.migrations import run_migrations

run_migrations(metadata)
