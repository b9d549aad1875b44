"""Fixtures for the care tests: a real care server on port 0 without demo data, one
with the demo data, and one under mTLS beside a billing service for the feedback tests,
each on SQLite and on PostgreSQL.

A server is started once per module and database (migrating and starting cost more
than the tests themselves); each test gets it with its tables emptied and its clock
set back to START.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import delete

from servers.care.models import ArticleRow, FeedbackEventRow, FeedbackRow, OutletRow
from tests.care.feedback_support import (
    Neighbours,
    People,
    prepare_data_dir,
    running_account,
    running_billing,
    running_notification,
)
from tests.care.support import START, CareServer, start_care
from tests.conftest import module_database_fixture

module_database_url = module_database_fixture("care")


def fresh(server: CareServer) -> CareServer:
    """`server` with empty tables and its clock at START."""
    with server.runtime.session(write=True) as session:
        for model in (FeedbackEventRow, FeedbackRow, ArticleRow, OutletRow):
            session.exec(delete(model))  # type: ignore[call-overload]
    server.clock.set(START)
    return server


@pytest.fixture(scope="module")
def care_server(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[CareServer]:
    running = start_care(tmp_path_factory.mktemp("care"), module_database_url)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def care(care_server: CareServer) -> CareServer:
    """A care server with empty tables, on SQLite and on PostgreSQL."""
    return fresh(care_server)


@pytest.fixture(scope="module")
def demo_care(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[CareServer]:
    """A care server started in the dev profile with the demo data (tests only read it)."""
    running = start_care(tmp_path_factory.mktemp("care"), module_database_url, demo_data=True)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def secure_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dev PKI and identity keys shared by a module's mTLS servers."""
    return prepare_data_dir(tmp_path_factory.mktemp("care-mtls"))


@pytest.fixture(scope="module")
def neighbours(secure_dir: Path) -> Iterator[Neighbours]:
    """Billing with the feedback tests' customers, account with their people and the
    notification service, shared by the module."""
    with (
        running_billing(secure_dir) as billing,
        running_account(secure_dir) as account,
        running_notification(secure_dir, account) as notification,
    ):
        yield Neighbours(billing, account, notification)


@pytest.fixture(scope="module")
def secure_care(
    secure_dir: Path, module_database_url: str, neighbours: Neighbours
) -> Iterator[CareServer]:
    running = start_care(
        secure_dir,
        module_database_url,
        grpc_security="mtls",
        billing_target=neighbours.billing,
        account_target=neighbours.account,
        notification_target=neighbours.notification,
    )
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def feedback_care(secure_care: CareServer) -> People:
    """A care server under mTLS that asks billing for customers' offices, with empty
    tables, and the people who call it; on SQLite and on PostgreSQL."""
    return People(fresh(secure_care))
