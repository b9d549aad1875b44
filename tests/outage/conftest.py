"""Fixtures for the outage tests: the outage service beside real billing and account
services, started once per module and database (SQLite, then PostgreSQL); each test gets
it with its tables and inboxes emptied and its clock set back to START."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import module_database
from tests.outage.support import OutageSystem, outage_system


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database for a module's outage service: a SQLite file, then a
    PostgreSQL schema in the run's database."""
    with module_database(request, tmp_path_factory, "outage") as url:
        yield url


@pytest.fixture(scope="module")
def running_system(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[OutageSystem]:
    with outage_system(tmp_path_factory.mktemp("outage"), module_database_url) as running:
        yield running


@pytest.fixture
def system(running_system: OutageSystem) -> OutageSystem:
    """The outage system with empty outages and inboxes, its clock at START."""
    return running_system.reset()
