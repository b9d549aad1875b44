"""Whether a service's migrations build exactly the tables its models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from servers.runtime import create_engine, migrate


def schema_differences(service: str, metadata: MetaData, database_url: str) -> list[Any]:
    """What differs between `metadata` and the tables `service`'s migrations make at
    `database_url` (the migrations' version tables aside)."""
    migrate(service, database_url)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            return [
                d
                for d in compare_metadata(context, metadata)
                if not (d[0] == "remove_table" and d[1].name.startswith("alembic_version"))
            ]
    finally:
        engine.dispose()
