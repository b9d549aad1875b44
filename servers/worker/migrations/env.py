"""Alembic environment of the worker (run by servers.runtime.migrations)."""

from servers.runtime.migrations import run_migrations
from servers.worker.models import metadata

run_migrations(metadata)
