"""The per-customer reads phones make most (balance, monthly usage, bills), each one
SQL statement that also returns what the scope check needs.

Why not the ORM session used elsewhere: these reads are the hot path measured by
bench/billing_scale.py, and each saved round trip or ORM layer shows in its p50. On
PostgreSQL they run on an autocommit connection (a single statement is consistent on
its own, and BEGIN/COMMIT would be two more round trips); on SQLite, in an ordinary
transaction (local, so free).

Scope: a customer user is checked against the assertion before any query. For staff,
the statement joins the customer row and returns its supply office with the data; the
check runs before anything is returned, and an unknown customer is NOT_FOUND.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from palmgrid.type.v1 import identity_pb2
from servers.billing.archive import customer_name
from servers.billing.models import BalanceRow, Bill, Customer, MonthlyUsage
from servers.runtime import NotFound, Runtime, current_principal, require_customer_scope

_CUSTOMER = Customer.__table__  # type: ignore[attr-defined]
USAGE: sa.Table = MonthlyUsage.__table__  # type: ignore[attr-defined]
BILL: sa.Table = Bill.__table__  # type: ignore[attr-defined]
BALANCE: sa.Table = BalanceRow.__table__  # type: ignore[attr-defined]


@contextmanager
def read_connection(runtime: Runtime) -> Iterator[Connection]:
    """A connection for one-statement reads (autocommit on PostgreSQL)."""
    with runtime.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            yield connection.execution_options(isolation_level="AUTOCOMMIT")
        else:
            with connection.begin():
                yield connection


def _customer_user_checked(customer_id: str) -> bool:
    """Check a customer user's scope from the assertion; False for other callers,
    whose check needs the customer's supply office."""
    principal = current_principal()
    if principal is not None and principal.kind == identity_pb2.PRINCIPAL_KIND_CUSTOMER:
        require_customer_scope(principal, customer_name(customer_id))
        return True
    return False


def scoped_rows(
    connection: Connection,
    customer_id: str,
    table: sa.Table,
    *conditions: Any,
    order_by: Sequence[Any] = (),
    limit: int | None = None,
) -> list[Row[Any]]:
    """Rows of `table` for the customer (its `customer_id` column) matching
    `conditions`, after the scope check."""
    if _customer_user_checked(customer_id):
        query = sa.select(table).where(table.c.customer_id == customer_id, *conditions)
        if order_by:
            query = query.order_by(*order_by)
        if limit is not None:
            query = query.limit(limit)
        return list(connection.execute(query).all())
    # Staff and services: the customer's office comes with the rows (an outer join, so
    # a customer without rows still answers).
    joined = _CUSTOMER.outerjoin(table, sa.and_(table.c.customer_id == _CUSTOMER.c.id, *conditions))
    query = sa.select(_CUSTOMER.c.supply_office.label("scope_office"), *table.c).select_from(joined)
    query = query.where(_CUSTOMER.c.id == customer_id)
    if order_by:
        query = query.order_by(*order_by)
    if limit is not None:
        query = query.limit(limit)
    rows = list(connection.execute(query).all())
    if not rows:
        if current_principal() is None:
            require_customer_scope(None, customer_name(customer_id))  # UNAUTHENTICATED
        raise NotFound(f"{customer_name(customer_id)} not found")
    require_customer_scope(current_principal(), customer_name(customer_id), rows[0].scope_office)
    return [row for row in rows if row.customer_id is not None]
