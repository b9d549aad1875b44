"""Alembic environment of the inspection service (run by servers.runtime.migrations)."""

from servers.inspection.models import metadata
from servers.runtime.migrations import run_migrations

run_migrations(metadata)
