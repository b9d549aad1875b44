"""The per-customer reads phones make most (balance, monthly and daily usage, bills),
each one SQL statement that also returns what the scope check needs.

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

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from palmgrid.type.v1 import identity_pb2
from servers.billing.archive import customer_name
from servers.billing.models import BalanceRow, Bill, Customer, DailyUsage, MonthlyUsage
from servers.runtime import NotFound, Runtime, current_principal, require_customer_scope

_CUSTOMER = Customer.__table__  # type: ignore[attr-defined]
USAGE: sa.Table = MonthlyUsage.__table__  # type: ignore[attr-defined]
BILL: sa.Table = Bill.__table__  # type: ignore[attr-defined]
BALANCE: sa.Table = BalanceRow.__table__  # type: ignore[attr-defined]
DAILY: sa.Table = DailyUsage.__table__  # type: ignore[attr-defined]


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


_TABLES = {table.name: table for table in (USAGE, BILL, BALANCE, DAILY)}


@functools.cache
def _statement(
    table_name: str,
    staff: bool,
    before: bool,
    month: bool,
    newest_first: bool,
    limit: bool,
    days: bool = False,
) -> sa.Select[Any]:
    """The statement of one read shape, built once with bound parameters: constructing
    and cache-keying a statement per call costs more than the query itself."""
    table = _TABLES[table_name]
    conditions = [table.c.customer_id == sa.bindparam("customer_id")]
    if before:
        conditions.append(table.c.month < sa.bindparam("before"))
    if month:
        conditions.append(table.c.month == sa.bindparam("month"))
    if days:
        conditions.append(table.c.day.between(sa.bindparam("first_day"), sa.bindparam("last_day")))
    if staff:
        # The customer's office comes with the rows (an outer join, so a customer
        # without rows still answers with one row of NULLs).
        joined = _CUSTOMER.outerjoin(
            table, sa.and_(table.c.customer_id == _CUSTOMER.c.id, *conditions[1:])
        )
        query = (
            sa.select(_CUSTOMER.c.supply_office.label("scope_office"), *table.c)
            .select_from(joined)
            .where(_CUSTOMER.c.id == sa.bindparam("customer_id"))
        )
    else:
        query = sa.select(table).where(*conditions)
    if newest_first:
        query = query.order_by(table.c.month.desc())
    if limit:
        query = query.limit(sa.bindparam("limit", type_=sa.Integer))
    return query


def scoped_rows(
    connection: Connection,
    customer_id: str,
    table: sa.Table,
    *,
    before: str | None = None,
    month: str | None = None,
    newest_first: bool = False,
    limit: int | None = None,
    days: tuple[date, date] | None = None,
) -> list[Row[Any]]:
    """Rows of `table` for the customer, after the scope check: months before `before`
    or the one `month`, newest first, at most `limit`; for daily usage, the days from
    `days[0]` through `days[1]`."""
    staff = not _customer_user_checked(customer_id)
    query = _statement(
        table.name,
        staff,
        before is not None,
        month is not None,
        newest_first,
        limit is not None,
        days is not None,
    )
    params: dict[str, Any] = {"customer_id": customer_id}
    if before is not None:
        params["before"] = before
    if month is not None:
        params["month"] = month
    if limit is not None:
        params["limit"] = limit
    if days is not None:
        params["first_day"], params["last_day"] = days
    rows = list(connection.execute(query, params).all())
    if not staff:
        return rows
    if not rows:
        if current_principal() is None:
            require_customer_scope(None, customer_name(customer_id))  # UNAUTHENTICATED
        raise NotFound(f"{customer_name(customer_id)} not found")
    require_customer_scope(current_principal(), customer_name(customer_id), rows[0].scope_office)
    return [row for row in rows if row.customer_id is not None]
