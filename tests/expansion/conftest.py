"""Fixtures for the expansion tests: the expansion service beside real billing, account
and notification services, started once per module and database (SQLite, then
PostgreSQL); each test gets it with its tables and outbox emptied, the default limits
back and its clock set back to START."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import module_database
from tests.expansion.support import ExpansionSystem, expansion_system


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database for a module's expansion service: a SQLite file, then a
    PostgreSQL schema in the run's database."""
    with module_database(request, tmp_path_factory, "expansion") as url:
        yield url


@pytest.fixture(scope="module")
def running_system(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[ExpansionSystem]:
    with expansion_system(tmp_path_factory.mktemp("expansion"), module_database_url) as running:
        yield running


@pytest.fixture
def system(running_system: ExpansionSystem) -> ExpansionSystem:
    """The expansion system with no applications and an empty outbox, its clock at START."""
    return running_system.reset()
