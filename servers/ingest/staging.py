"""The marketing system's staging database ("middle database"), as PalmGrid reads it:
one table per record kind, each row keyed by `id` and stamped with its `update_time`
(UTC), the change watermark. docs/ingest.md documents the schema for the marketing
system's side; `create_staging_schema` makes it (demo data, tests, benchmarks).

Rows are read in (update_time, id) order after a cursor, in batches; each becomes a
SourceRecord. A row whose values cannot be read as one (an unknown enumeration name, a
malformed meter list) still becomes a record, with the bad value left unset, so that
the checks quarantine it with the field named instead of stopping the import.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from palmgrid.billing.v1 import payment_pb2, resources_pb2
from palmgrid.ingest.v1 import resources_pb2 as ingest_pb2
from servers.ingest.records import (
    Record,
    customer_record,
    payment_record,
    reading_record,
    tariff_record,
)
from servers.runtime.columns import UtcDateTime
from servers.runtime.protoconv import date_message, timestamp

staging_metadata = sa.MetaData()


def _table(name: str, *columns: sa.Column[Any]) -> sa.Table:
    return sa.Table(
        name,
        staging_metadata,
        sa.Column("id", sa.String(64), primary_key=True),
        *columns,
        sa.Column("update_time", UtcDateTime(), nullable=False),
        sa.Index(f"ix_{name}_watermark", "update_time", "id"),
    )


CUSTOMERS = _table(
    "staging_customers",
    sa.Column("holder_name", sa.String(64), nullable=False),
    sa.Column("holder_id_number", sa.String(32), nullable=False, server_default=""),
    sa.Column("registered_phone", sa.String(16), nullable=False, server_default=""),
    sa.Column("address", sa.String(256), nullable=False),
    sa.Column("supply_office", sa.String(32), nullable=False),
    sa.Column("area_code", sa.String(16), nullable=False),
    sa.Column("tariff", sa.String(63), nullable=False),
    sa.Column("billing_mode", sa.String(16), nullable=False),
    sa.Column("large_household", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("meters", sa.Text(), nullable=False, server_default="[]"),
    sa.Column("open_date", sa.String(10), nullable=True),
)
METER_READINGS = _table(
    "staging_meter_readings",
    sa.Column("customer_number", sa.String(10), nullable=False),
    sa.Column("meter_id", sa.String(32), nullable=False),
    sa.Column("read_time", UtcDateTime(), nullable=False),
    sa.Column("value_wh", sa.BigInteger(), nullable=False),
    sa.Column("quality", sa.String(16), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
)
TARIFF_ASSIGNMENTS = _table(
    "staging_tariff_assignments",
    sa.Column("tariff", sa.String(63), nullable=False),
)
PAYMENTS = _table(
    "staging_payments",
    sa.Column("customer_number", sa.String(10), nullable=False),
    sa.Column("amount_fen", sa.BigInteger(), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("receipt_number", sa.String(64), nullable=False),
    sa.Column("paid_time", UtcDateTime(), nullable=False),
)


def create_staging_schema(engine: Engine) -> None:
    """Create the staging tables where they are missing."""
    staging_metadata.create_all(engine)


def _enum(enum_type: Any, prefix: str, name: object) -> Any:
    # An unknown name is left unset (0): the check names the field.
    try:
        return enum_type.Value(prefix + str(name))
    except ValueError:
        return 0


def _day(text: object) -> Any:
    try:
        return date_message(date.fromisoformat(str(text))) if text else None
    except ValueError:
        return None


def customer_of(row: Mapping[str, Any]) -> Record:
    number = row["id"]
    try:
        meters = [
            resources_pb2.Meter(
                name=f"customers/{number}/meters/{m['id']}",
                kind=_enum(resources_pb2.MeterKind, "METER_KIND_", m.get("kind", "SINGLE_PHASE")),
                multiplier=int(m.get("multiplier", 1)),
                time_of_use=bool(m.get("time_of_use", False)),
                remote_read=bool(m.get("remote_read", False)),
                install_date=_day(m.get("install_date")),
            )
            for m in json.loads(row["meters"] or "[]")
        ]
    except (ValueError, TypeError, KeyError, AttributeError):
        meters = [resources_pb2.Meter(name="unreadable meter list")]
    return customer_record(
        resources_pb2.Customer(
            name=f"customers/{number}",
            holder_name=row["holder_name"],
            holder_id_number=row["holder_id_number"] or "",
            registered_phone=row["registered_phone"] or "",
            address=row["address"],
            supply_office=row["supply_office"],
            area_code=row["area_code"],
            tariff=f"tariffs/{row['tariff']}",
            billing_mode=_enum(resources_pb2.BillingMode, "BILLING_MODE_", row["billing_mode"]),
            large_household=bool(row["large_household"]),
            state=_enum(resources_pb2.CustomerState, "CUSTOMER_STATE_", row["state"]),
            meters=meters,
            open_date=_day(row["open_date"]),
            source_update_time=timestamp(row["update_time"]),
        )
    )


def reading_of(row: Mapping[str, Any]) -> Record:
    name = f"customers/{row['customer_number']}/meters/{row['meter_id']}/readings/{row['id']}"
    return reading_record(
        resources_pb2.MeterReading(
            name=name,
            read_time=timestamp(row["read_time"]),
            value_wh=row["value_wh"],
            quality=_enum(resources_pb2.ReadingQuality, "READING_QUALITY_", row["quality"]),
            source=_enum(resources_pb2.ReadingSource, "READING_SOURCE_", row["source"]),
        ),
        row["update_time"],
    )


def tariff_assignment_of(row: Mapping[str, Any]) -> Record:
    return tariff_record(
        ingest_pb2.TariffAssignment(
            customer=f"customers/{row['id']}",
            tariff=f"tariffs/{row['tariff']}",
            source_update_time=timestamp(row["update_time"]),
        )
    )


def payment_of(row: Mapping[str, Any]) -> Record:
    return payment_record(
        payment_pb2.Payment(
            name=f"customers/{row['customer_number']}/payments/{row['id']}",
            amount_fen=row["amount_fen"],
            channel=_enum(payment_pb2.PaymentChannel, "PAYMENT_CHANNEL_", row["channel"]),
            provider_order_id=row["receipt_number"],
            complete_time=timestamp(row["paid_time"]),
        )
    )


@dataclass(frozen=True)
class StagingKind:
    """One staging table and how its rows become records."""

    table: sa.Table
    record_of: Callable[[Mapping[str, Any]], Record]


# By ImportSource name without its prefix.
KINDS: dict[str, StagingKind] = {
    "CUSTOMERS": StagingKind(CUSTOMERS, customer_of),
    "METER_READINGS": StagingKind(METER_READINGS, reading_of),
    "TARIFF_ASSIGNMENTS": StagingKind(TARIFF_ASSIGNMENTS, tariff_assignment_of),
    "PAYMENTS": StagingKind(PAYMENTS, payment_of),
}


@dataclass(frozen=True)
class StagedRow:
    """A staging row read: its key, change time and record."""

    key: str
    update_time: datetime
    record: Record


def _after(table: sa.Table, since: datetime | None, cursor: tuple[datetime, str] | None) -> Any:
    conditions = []
    if since is not None:
        conditions.append(table.c.update_time >= since)
    if cursor is not None:
        moment, key = cursor
        conditions.append(
            sa.or_(
                table.c.update_time > moment,
                sa.and_(table.c.update_time == moment, table.c.id > key),
            )
        )
    return sa.and_(sa.true(), *conditions)


def read_rows(
    engine: Engine,
    source: str,
    *,
    since: datetime | None,
    cursor: tuple[datetime, str] | None,
    limit: int,
) -> list[StagedRow]:
    """The next `limit` rows of `source` changed at or after `since`, after `cursor`."""
    kind = KINDS[source]
    query = (
        sa.select(kind.table)
        .where(_after(kind.table, since, cursor))
        .order_by(kind.table.c.update_time, kind.table.c.id)
        .limit(limit)
    )
    with engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(query)]
    return [StagedRow(r["id"], r["update_time"], kind.record_of(r)) for r in rows]


def count_rows(engine: Engine, source: str, *, since: datetime | None) -> int:
    """How many rows of `source` changed at or after `since`."""
    table = KINDS[source].table
    query = sa.select(sa.func.count()).select_from(table).where(_after(table, since, None))
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())
