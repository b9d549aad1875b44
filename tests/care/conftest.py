"""Fixtures for the care tests: a real care server on port 0 without demo data, on
SQLite and on PostgreSQL (the suite's `database_url`), one with the demo data, and one
under mTLS beside a billing service for the feedback tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.care.feedback_support import People, prepare_data_dir, running_billing
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


@pytest.fixture(scope="module")
def secure_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dev PKI and identity keys shared by a module's mTLS servers."""
    return prepare_data_dir(tmp_path_factory.mktemp("care-mtls"))


@pytest.fixture(scope="module")
def billing_target(secure_dir: Path) -> Iterator[str]:
    """A billing service with the feedback tests' customers, shared by the module."""
    with running_billing(secure_dir) as target:
        yield target


@pytest.fixture
def feedback_care(secure_dir: Path, database_url: str, billing_target: str) -> Iterator[People]:
    """A care server under mTLS that asks billing for customers' offices, with the
    people who call it; on SQLite and on PostgreSQL."""
    running = start_care(
        secure_dir, database_url, grpc_security="mtls", billing_target=billing_target
    )
    try:
        yield People(running)
    finally:
        running.close()
