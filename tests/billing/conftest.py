"""Fixtures for the billing tests: a migrated billing database (SQLite file and
PostgreSQL schema, through the suite's `database_url`) and customers in it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from servers.billing.models import BalanceRow, BillingMode, Customer
from servers.runtime import create_engine, session_scope
from servers.runtime.migrations import migrate


@pytest.fixture
def billing_engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database migrated to every billing head."""
    migrate("billing", database_url)
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def make_customer(session: Session, customer_id: str, **fields: object) -> Customer:
    """Store a customer (and its zero balance row) with plausible defaults."""
    values: dict[str, object] = {
        "holder_name": "张三明",
        "registered_phone": "13800000042",
        "address": "曲靖市麒麟区南宁西路 1 号",
        "supply_office": "QJ-QL",
        "area_code": "A01",
        "tariff": "residential-tiered",
        "billing_mode": BillingMode.POSTPAID.value,
        "source_update_time": datetime(2024, 1, 1, tzinfo=UTC),
    }
    values.update(fields)
    customer = Customer(id=customer_id, **values)  # type: ignore[arg-type]
    session.add(customer)
    session.flush()
    session.add(BalanceRow(customer_id=customer_id))
    session.flush()
    return customer


@pytest.fixture
def add_customer(billing_engine: Engine) -> Callable[..., Customer]:
    """Call with a customer id (and field overrides) to store a customer."""

    def add(customer_id: str, **fields: object) -> Customer:
        with session_scope(billing_engine, write=True) as session:
            return make_customer(session, customer_id, **fields)

    return add
