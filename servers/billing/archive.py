"""The customer archive: customer and meter rows as API resources, and upserts of
records pushed by the marketing system.

Names: a customer is `customers/{id}` with a 10-digit id; a meter
`customers/{id}/meters/{meter}`. `customer_resource` returns full values (for other
services); responses to people are masked by palmlib.masking.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, delete, select

from palmgrid.billing.v1 import resources_pb2
from servers.billing.models import (
    BalanceRow,
    Customer,
    Meter,
    TariffVersion,
)
from servers.runtime import FieldViolation, InvalidArgument
from servers.runtime.protoconv import date_message, from_date_message, from_timestamp, timestamp

CUSTOMER_PREFIX = "customers/"
TARIFF_PREFIX = "tariffs/"


def customer_id_of(name: str) -> str:
    """ "customers/3100000001" (or anything under it) → "3100000001"."""
    return name.removeprefix(CUSTOMER_PREFIX).split("/", 1)[0]


def customer_name(customer_id: str) -> str:
    return CUSTOMER_PREFIX + customer_id


def _enum_name(prefix: str, value: str) -> str:
    return value.removeprefix(prefix)


def meter_resource(row: Meter) -> resources_pb2.Meter:
    return resources_pb2.Meter(
        name=f"{customer_name(row.customer_id)}/meters/{row.id}",
        kind=resources_pb2.MeterKind.Value(f"METER_KIND_{row.kind}"),
        multiplier=row.multiplier,
        time_of_use=row.time_of_use,
        remote_read=row.remote_read,
        install_date=date_message(row.install_date),
        remove_date=date_message(row.remove_date),
    )


def customer_resource(row: Customer, meters: Sequence[Meter]) -> resources_pb2.Customer:
    """The full (unmasked) resource of a customer row and its meters."""
    return resources_pb2.Customer(
        name=customer_name(row.id),
        holder_name=row.holder_name,
        holder_id_number=row.holder_id_number,
        registered_phone=row.registered_phone,
        address=row.address,
        supply_office=row.supply_office,
        area_code=row.area_code,
        tariff=TARIFF_PREFIX + row.tariff,
        billing_mode=resources_pb2.BillingMode.Value(f"BILLING_MODE_{row.billing_mode}"),
        large_household=row.large_household,
        state=resources_pb2.CustomerState.Value(f"CUSTOMER_STATE_{row.state}"),
        meters=[meter_resource(m) for m in sorted(meters, key=lambda m: m.position)],
        debit_bank=row.debit_bank,
        debit_account=row.debit_account,
        open_date=date_message(row.open_date),
        source_update_time=timestamp(row.source_update_time),
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
    )


def meters_of(session: Session, customer_ids: Iterable[str]) -> dict[str, list[Meter]]:
    """Each customer's meters, in record order."""
    ids = list(customer_ids)
    found: dict[str, list[Meter]] = {i: [] for i in ids}
    if not ids:
        return found
    query = select(Meter).where(col(Meter.customer_id).in_(ids)).order_by(col(Meter.position))
    for meter in session.exec(query):
        found[meter.customer_id].append(meter)
    return found


# -- upserts -----------------------------------------------------------------------


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    # Customers whose charges may change (new, or tariff, household or meters changed).
    rebill: list[str] = field(default_factory=list)
    # Customers whose stored record changed at all.
    changed: list[str] = field(default_factory=list)


def _fields_of(record: resources_pb2.Customer) -> dict[str, object]:
    return {
        "holder_name": record.holder_name,
        "holder_id_number": record.holder_id_number,
        "registered_phone": record.registered_phone,
        "address": record.address,
        "supply_office": record.supply_office,
        "area_code": record.area_code,
        "tariff": record.tariff.removeprefix(TARIFF_PREFIX),
        "billing_mode": _enum_name(
            "BILLING_MODE_", resources_pb2.BillingMode.Name(record.billing_mode)
        ),
        "large_household": record.large_household,
        "state": _enum_name("CUSTOMER_STATE_", resources_pb2.CustomerState.Name(record.state)),
        "debit_bank": record.debit_bank,
        "debit_account": record.debit_account,
        "open_date": from_date_message(record.open_date),
    }


def _meters_of_record(record: resources_pb2.Customer, customer_id: str) -> list[Meter]:
    return [
        Meter(
            customer_id=customer_id,
            id=meter.name.rsplit("/", 1)[1],
            kind=_enum_name("METER_KIND_", resources_pb2.MeterKind.Name(meter.kind)),
            multiplier=meter.multiplier,
            time_of_use=meter.time_of_use,
            remote_read=meter.remote_read,
            install_date=from_date_message(meter.install_date),
            remove_date=from_date_message(meter.remove_date),
            position=position,
        )
        for position, meter in enumerate(record.meters)
    ]


def _meter_key(meter: Meter) -> tuple[object, ...]:
    return (
        meter.id,
        meter.kind,
        meter.multiplier,
        meter.time_of_use,
        meter.remote_read,
        meter.install_date,
        meter.remove_date,
        meter.position,
    )


def check_records(session: Session, records: Sequence[resources_pb2.Customer]) -> None:
    """Checks needing the database or more than protovalidate: every record names a
    known tariff, meter ids are unique and dates are real. One InvalidArgument names
    every bad record."""
    tariffs = {r.tariff.removeprefix(TARIFF_PREFIX) for r in records}
    known = set(
        session.exec(
            select(TariffVersion.tariff_id).where(col(TariffVersion.tariff_id).in_(tariffs))
        ).all()
    )
    violations: list[FieldViolation] = []
    seen: set[str] = set()
    for index, record in enumerate(records):
        where = f"customers[{index}]"
        if record.name in seen:
            violations.append(FieldViolation(f"{where}.name", "the batch names it twice"))
        seen.add(record.name)
        if record.tariff.removeprefix(TARIFF_PREFIX) not in known:
            violations.append(FieldViolation(f"{where}.tariff", "no such tariff"))
        meter_ids = [m.name.rsplit("/", 1)[1] for m in record.meters]
        if len(set(meter_ids)) != len(meter_ids):
            violations.append(FieldViolation(f"{where}.meters", "meter names must be unique"))
        try:
            from_date_message(record.open_date)
            for meter in record.meters:
                from_date_message(meter.install_date)
                from_date_message(meter.remove_date)
        except ValueError:
            violations.append(FieldViolation(where, "a date is not a real calendar day"))
    if violations:
        first = violations[0]
        raise InvalidArgument(
            f"invalid record: {first.field}: {first.description}", field_violations=violations
        )


def upsert_customers(
    session: Session, records: Sequence[resources_pb2.Customer], now: datetime
) -> UpsertCounts:
    """Create or replace each record (see BatchUpsertCustomers); call `check_records`
    first. A record older (by source_update_time) than the stored one is skipped."""
    counts = UpsertCounts()
    ids = [customer_id_of(r.name) for r in records]
    stored = {
        c.id: c for c in session.exec(select(Customer).where(col(Customer.id).in_(ids))).all()
    }
    stored_meters = meters_of(session, stored)
    for record, customer_id in zip(records, ids, strict=True):
        values = _fields_of(record)
        source_time = from_timestamp(record.source_update_time)
        meters = _meters_of_record(record, customer_id)
        row = stored.get(customer_id)
        if row is None:
            session.add(
                Customer(
                    id=customer_id,
                    source_update_time=source_time,
                    create_time=now,
                    update_time=now,
                    **values,  # type: ignore[arg-type]
                )
            )
            session.flush()
            session.add(BalanceRow(customer_id=customer_id, net_fen=0, update_time=now))
            session.add_all(meters)
            counts.created += 1
            counts.rebill.append(customer_id)
            counts.changed.append(customer_id)
            continue
        if source_time < row.source_update_time:
            counts.stale += 1
            continue
        same_fields = all(getattr(row, key) == value for key, value in values.items())
        old_meters = stored_meters.get(customer_id, [])
        same_meters = [_meter_key(m) for m in old_meters] == [_meter_key(m) for m in meters]
        row.source_update_time = source_time
        if same_fields and same_meters:
            session.add(row)
            counts.unchanged += 1
            continue
        charging_changed = (
            not same_meters
            or row.tariff != values["tariff"]
            or row.large_household != values["large_household"]
        )
        for key, value in values.items():
            setattr(row, key, value)
        row.update_time = now
        session.add(row)
        if not same_meters:
            session.exec(delete(Meter).where(col(Meter.customer_id) == customer_id))
            session.flush()
            session.add_all(meters)
        counts.updated += 1
        counts.changed.append(customer_id)
        if charging_changed:
            counts.rebill.append(customer_id)
    session.flush()
    return counts
