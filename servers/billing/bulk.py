"""Fast bulk loading of many rows: COPY on PostgreSQL, a plain executemany on SQLite.

For seeding and generated data only (the demo customers, the scale benchmark), where
SQLAlchemy's per-value processing would dominate. Values are converted the way the
column types store them (aware datetimes as UTC; on SQLite as SQLAlchemy's text form),
so rows loaded here read back exactly like rows written through the models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo else value
        return utc.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _postgres_value(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value


def bulk_insert(
    connection: Connection,
    table: sa.Table,
    rows: Iterable[Sequence[Any]],
    columns: Sequence[str],
) -> None:
    """Insert `rows` (value tuples in `columns` order) into `table` in the
    connection's transaction."""
    names = ", ".join(f'"{c}"' for c in columns)
    raw = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        cursor = raw.cursor()  # type: ignore[union-attr]
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([_postgres_value(v) for v in row])
        return
    marks = ", ".join("?" for _ in columns)
    cursor = raw.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(
            f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})',
            ([_sqlite_value(v) for v in row] for row in rows),
        )
    finally:
        cursor.close()


def bulk_insert_dicts(
    connection: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]
) -> None:
    """`bulk_insert` for rows given as dicts with the same keys."""
    if not rows:
        return
    columns = list(rows[0])
    bulk_insert(connection, table, ([row[c] for c in columns] for row in rows), columns)
