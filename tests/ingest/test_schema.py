"""The ingest migrations build exactly the tables the models describe."""

from __future__ import annotations

from servers.ingest.models import metadata
from tests.schema import schema_differences


def test_migrations_match_the_models(database_url: str) -> None:
    assert schema_differences("ingest", metadata, database_url) == []
