"""Alembic environment of the billing service (run by servers.runtime.migrations)."""

from servers.runtime.migrations import run_migrations

# Replace None with the service's MetaData to let `revision --autogenerate` compare it.
run_migrations(None)
