"""The notification migrations build exactly the tables the models describe, on SQLite
and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from servers.notification.models import metadata
from servers.runtime import create_engine, migrate


def test_the_outbox_migrations_match_the_models(database_url: str) -> None:
    migrate("notification", database_url)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            found = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert [d for d in found if d[0] != "remove_table"] == []
