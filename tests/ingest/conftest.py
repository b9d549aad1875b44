"""Fixtures for the ingest tests: the ingest service beside real billing, account,
notification and inspection services, started once per module and database (SQLite,
then PostgreSQL); each test gets it with its ledger and quarantine emptied."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import module_database_fixture
from tests.ingest.support import IngestSystem, ingest_system

module_database_url = module_database_fixture("ingest")


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
