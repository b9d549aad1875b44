"""Fixtures for the care tests: a real care server on port 0 without demo data, on
SQLite and on PostgreSQL (the suite's `database_url`), and one with the demo data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.care.support import CareServer, start_care


@pytest.fixture
def care(tmp_path: Path, database_url: str) -> Iterator[CareServer]:
    """A care server with an empty database, on SQLite and on PostgreSQL."""
    running = start_care(tmp_path, database_url)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def demo_care(tmp_path: Path, database_url: str) -> Iterator[CareServer]:
    """A care server started in the dev profile with the demo data."""
    running = start_care(tmp_path, database_url, demo_data=True)
    try:
        yield running
    finally:
        running.close()
