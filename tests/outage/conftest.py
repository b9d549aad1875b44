"""Fixtures for the outage tests: the outage service beside real billing and account
services, started once per module and database (SQLite, then PostgreSQL); each test gets
it with its tables and inboxes emptied and its clock set back to START."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import module_database_fixture
from tests.outage.support import OutageSystem, outage_system

module_database_url = module_database_fixture("outage")


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
