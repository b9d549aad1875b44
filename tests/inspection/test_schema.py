"""The inspection migrations build exactly the tables the models describe."""

from __future__ import annotations

from servers.inspection.models import metadata
from tests.schema import schema_differences


def test_migrations_match_the_models(database_url: str) -> None:
    assert schema_differences("inspection", metadata, database_url) == []
