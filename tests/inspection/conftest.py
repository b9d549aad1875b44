"""Fixtures for the inspection tests: the inspection service beside real billing,
account and notification services, started once per module and database (SQLite, then
PostgreSQL); each test gets it with its tables and outbox emptied and its clock set
back to START."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import module_database_fixture
from tests.inspection.support import InspectionSystem, inspection_system

module_database_url = module_database_fixture("inspection")


@pytest.fixture(scope="module")
def running_system(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[InspectionSystem]:
    with inspection_system(tmp_path_factory.mktemp("inspection"), module_database_url) as running:
        yield running


@pytest.fixture
def system(running_system: InspectionSystem) -> InspectionSystem:
    """The inspection system with no tasks and an empty outbox, its clock at START."""
    return running_system.reset()
