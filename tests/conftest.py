"""Fixtures shared by the whole suite.

- `postgres_database`: a PostgreSQL database of its own for this test run, created on
  postgresql://postgres@127.0.0.1:5432/ and dropped at the end.
- `database_url`: runs a test twice, on a SQLite file and on PostgreSQL; each run gets
  an empty database (on PostgreSQL, a fresh schema of the run's database).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.postgres import postgres_schema

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"


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
