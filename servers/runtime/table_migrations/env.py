"""Alembic environment of the runtime's own tables in each service's database (run by
servers.runtime.runtime_tables)."""

from servers.runtime.migrations import run_migrations

run_migrations(None)
