"""Fixtures for the expansion tests: the expansion service beside real billing, account
and notification services, started once per module and database (SQLite, then
PostgreSQL); each test gets it with its tables and outbox emptied, the default limits
back and its clock set back to START."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import module_database_fixture
from tests.expansion.support import ExpansionSystem, expansion_system

module_database_url = module_database_fixture("expansion")


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
