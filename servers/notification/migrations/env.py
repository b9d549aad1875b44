"""Alembic environment of the notification service (run by servers.runtime.migrations)."""

from servers.notification.models import metadata
from servers.runtime.migrations import run_migrations

run_migrations(metadata)
