"""Alembic environment of the expansion service (run by servers.runtime.migrations)."""

from servers.expansion.models import metadata
from servers.runtime.migrations import run_migrations

run_migrations(metadata)
