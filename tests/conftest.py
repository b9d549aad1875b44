"""Fixtures shared by the whole suite.

- `postgres_database`: a PostgreSQL database of its own for this test run, created on
  postgresql://postgres@127.0.0.1:5432/ and dropped at the end.
- `database_url`: runs a test twice, on a SQLite file and on PostgreSQL; each run gets
  an empty database (on PostgreSQL, a fresh schema of the run's database).
- `module_database(request, tmp_path_factory, name)`: the same for a module-scoped
  fixture parametrized over "sqlite" and "postgresql" (a service started once per module).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.postgres import postgres_schema

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"

# Each of the suite's workers (`./dev test` runs pytest-xdist) picks the ports it hands to
# processes from a slice of its own (tools.ports). A worker that replaces a crashed one
# gets the next number (gw4 of 4): it takes the slice of the one it replaces.
if "PYTEST_XDIST_WORKER" in os.environ:
    _WORKERS = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    _WORKER = int(os.environ["PYTEST_XDIST_WORKER"].removeprefix("gw")) % _WORKERS
    os.environ["PALMGRID_PORT_SLICE"] = f"{_WORKER}/{_WORKERS}"


def _unique(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """URL of a database created for this test run (dropped afterwards)."""
    name = _unique("palmgrid_test")
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_database: str) -> Iterator[str]:
    """An empty PostgreSQL schema, as a URL whose search_path is that schema."""
    with postgres_schema(postgres_database, _unique("test")) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@contextmanager
def module_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, name: str
) -> Iterator[str]:
    """An empty database for a module's server `name`, by the fixture's param: a SQLite
    file, or a PostgreSQL schema of the run's database named after `name` and the
    module (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp(f'{name}-db') / f'{name}.db'}"
        return
    database: str = request.getfixturevalue("postgres_database")
    schema = f"{name}_{request.module.__name__.rpartition('.')[2]}"
    with postgres_schema(database, schema) as url:
        yield url


def module_database_fixture(name: str) -> Any:
    """A `module_database_url` fixture for a module's server `name`: an empty database,
    a SQLite file, then a PostgreSQL schema in the run's database (`module_database`)."""

    @pytest.fixture(
        scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
    )
    def module_database_url(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[str]:
        with module_database(request, tmp_path_factory, name) as url:
            yield url

    return module_database_url
