"""Alembic environment of the outage service (run by servers.runtime.migrations)."""

from servers.outage.models import metadata
from servers.runtime.migrations import run_migrations

run_migrations(metadata)
