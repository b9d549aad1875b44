"""Alembic environment of the care service (run by servers.runtime.migrations)."""

from servers.care.models import metadata
from servers.runtime.migrations import run_migrations

run_migrations(metadata)
