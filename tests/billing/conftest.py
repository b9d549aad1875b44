"""Fixtures for the billing tests: a migrated billing database (SQLite file and
PostgreSQL schema, through the suite's `database_url`), customers in it, and a real
billing server on port 0 (see core_support)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from servers.billing.config import BillingConfig
from servers.billing.models import Customer
from servers.runtime import CHINA_STANDARD_TIME, SettableClock, create_engine, session_scope
from servers.runtime.migrations import migrate
from tests.billing.core_support import BillingServer, make_customer, running_billing
from tests.conftest import module_database

# The clock of `module_billing`: a Saturday in June 2026, China Standard Time.
MODULE_CLOCK = SettableClock(datetime(2026, 6, 20, 10, 0, tzinfo=CHINA_STANDARD_TIME))


@pytest.fixture
def billing_engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database migrated to every billing head."""
    migrate("billing", database_url)
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def add_customer(billing_engine: Engine) -> Callable[..., Customer]:
    """Call with a customer id (and field overrides) to store a customer."""

    def add(customer_id: str, **fields: object) -> Customer:
        with session_scope(billing_engine, write=True) as session:
            return make_customer(session, customer_id, **fields)

    return add


@pytest.fixture
def billing(tmp_path: Path, database_url: str) -> Iterator[BillingServer]:
    """A billing server without demo data, on SQLite and on PostgreSQL."""
    with running_billing(tmp_path, database_url, BillingConfig(demo_data=False)) as running:
        yield running


@pytest.fixture(scope="session")
def demo_billing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BillingServer]:
    """A billing server started in the dev profile with the full demo data (SQLite),
    shared by the run's tests: seeding 1,000 customers is done once. Tests must not
    change its data."""
    data_dir = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{data_dir / 'billing.db'}"
    with running_billing(data_dir, url, BillingConfig(demo_data=True)) as running:
        yield running


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def module_billing(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BillingServer]:
    """A billing server without demo data, once per module and database, on a clock
    fixed at 2026-06-20 10:00 CST (`MODULE_CLOCK`)."""
    with (
        module_database(request, tmp_path_factory, "billing") as url,
        running_billing(
            tmp_path_factory.mktemp("billing-data"),
            url,
            BillingConfig(demo_data=False),
            clock=MODULE_CLOCK,
        ) as running,
    ):
        yield running
