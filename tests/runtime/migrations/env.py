"""Alembic environment of the probe service (run by servers.runtime.migrations)."""

from runtime.models import metadata

from servers.runtime.migrations import run_migrations

run_migrations(metadata)
