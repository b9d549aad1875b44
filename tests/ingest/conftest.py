"""Fixtures for the ingest tests: the ingest service beside real billing, account,
notification and inspection services, started once per module and database (SQLite,
then PostgreSQL); each test gets it with its ledger and quarantine emptied."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import module_database
from tests.ingest.support import IngestSystem, ingest_system


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database for a module's ingest service."""
    with module_database(request, tmp_path_factory, "ingest") as url:
        yield url


@pytest.fixture(scope="module")
def running_system(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[IngestSystem]:
    with ingest_system(tmp_path_factory.mktemp("ingest"), module_database_url) as running:
        yield running


@pytest.fixture
def system(running_system: IngestSystem) -> IngestSystem:
    """The ingest system with an empty ledger and quarantine (billing keeps its data)."""
    return running_system.reset()
