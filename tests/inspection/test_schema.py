"""The inspection migrations build exactly the tables the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from servers.inspection.models import metadata
from servers.runtime import create_engine, migrate


def test_migrations_match_the_models(database_url: str) -> None:
    migrate("inspection", database_url)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            differences = [
                d
                for d in compare_metadata(context, metadata)
                if not (d[0] == "remove_table" and d[1].name.startswith("alembic_version"))
            ]
    finally:
        engine.dispose()
    assert differences == []
