"""Meter readings as API resources, and upserts of readings pushed by the metering
and marketing systems."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select, tuple_

from palmgrid.billing.v1 import resources_pb2, tariff_pb2
from servers.billing.models import Meter, MeterReading
from servers.billing.months import Month
from servers.billing.recompute import TIME_OF_USE_COLUMNS
from servers.runtime import FieldViolation, InvalidArgument
from servers.runtime.protoconv import from_timestamp, timestamp


def reading_name(row: MeterReading) -> str:
    return f"customers/{row.customer_id}/meters/{row.meter_id}/readings/{row.id}"


def reading_resource(row: MeterReading) -> resources_pb2.MeterReading:
    registers = [
        resources_pb2.TimeOfUseRegister(
            period=tariff_pb2.TimeOfUsePeriod.Value(f"TIME_OF_USE_PERIOD_{period}"),
            value_wh=value,
        )
        for period, column in TIME_OF_USE_COLUMNS.items()
        if (value := getattr(row, column)) is not None
    ]
    return resources_pb2.MeterReading(
        name=reading_name(row),
        read_time=timestamp(row.read_time),
        value_wh=row.value_wh,
        time_of_use_registers=registers,
        quality=resources_pb2.ReadingQuality.Value(f"READING_QUALITY_{row.quality}"),
        source=resources_pb2.ReadingSource.Value(f"READING_SOURCE_{row.source}"),
        create_time=timestamp(row.create_time),
    )


def _parts(name: str) -> tuple[str, str, str]:
    # customers/{customer}/meters/{meter}/readings/{reading}
    pieces = name.split("/")
    return pieces[1], pieces[3], pieces[5]


def _values(reading: resources_pb2.MeterReading) -> dict[str, Any]:
    values: dict[str, Any] = {
        "read_time": from_timestamp(reading.read_time),
        "value_wh": reading.value_wh,
        "quality": resources_pb2.ReadingQuality.Name(reading.quality).removeprefix(
            "READING_QUALITY_"
        ),
        "source": resources_pb2.ReadingSource.Name(reading.source).removeprefix("READING_SOURCE_"),
    }
    values.update(dict.fromkeys(TIME_OF_USE_COLUMNS.values()))
    for register in reading.time_of_use_registers:
        period = tariff_pb2.TimeOfUsePeriod.Name(register.period).removeprefix(
            "TIME_OF_USE_PERIOD_"
        )
        values[TIME_OF_USE_COLUMNS[period]] = register.value_wh
    return values


@dataclass
class ReadingCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # The first month whose figures each customer's new or changed readings can change.
    earliest: dict[str, Month] = field(default_factory=dict)


def known_meters(session: Session, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (customer id, meter id) pairs are stored meters."""
    return set(
        session.exec(
            select(Meter.customer_id, Meter.id).where(
                tuple_(col(Meter.customer_id), col(Meter.id)).in_(list(keys))
            )
        ).all()
    )


def check_readings(session: Session, readings: Sequence[resources_pb2.MeterReading]) -> None:
    """Every reading's meter must exist and no reading may appear twice."""
    known = known_meters(session, {_parts(r.name)[:2] for r in readings})
    violations: list[FieldViolation] = []
    seen: set[str] = set()
    for index, reading in enumerate(readings):
        where = f"meterReadings[{index}].name"
        if reading.name in seen:
            violations.append(FieldViolation(where, "the batch names it twice"))
        seen.add(reading.name)
        if _parts(reading.name)[:2] not in known:
            violations.append(FieldViolation(where, "no such meter"))
        registers = [r.period for r in reading.time_of_use_registers]
        if len(set(registers)) != len(registers):
            violations.append(
                FieldViolation(f"meterReadings[{index}].timeOfUseRegisters", "a period twice")
            )
    if violations:
        first = violations[0]
        raise InvalidArgument(
            f"invalid reading: {first.field}: {first.description}", field_violations=violations
        )


def upsert_readings(
    session: Session, readings: Sequence[resources_pb2.MeterReading], now: datetime
) -> ReadingCounts:
    """Create or replace each reading (call `check_readings` first)."""
    counts = ReadingCounts()
    first_change: dict[str, datetime] = {}
    keys = [_parts(r.name) for r in readings]
    stored = {
        (row.customer_id, row.meter_id, row.id): row
        for row in session.exec(
            select(MeterReading).where(
                tuple_(
                    col(MeterReading.customer_id), col(MeterReading.meter_id), col(MeterReading.id)
                ).in_(keys)
            )
        )
    }
    for reading, key in zip(readings, keys, strict=True):
        values = _values(reading)
        row = stored.get(key)
        touched = [values["read_time"]]
        if row is None:
            session.add(
                MeterReading(
                    customer_id=key[0], meter_id=key[1], id=key[2], create_time=now, **values
                )
            )
            counts.created += 1
        elif all(getattr(row, k) == v for k, v in values.items()):
            counts.unchanged += 1
            continue
        else:
            touched.append(row.read_time)
            for k, v in values.items():
                setattr(row, k, v)
            session.add(row)
            counts.updated += 1
        earliest = min(touched)
        if key[0] not in first_change or earliest < first_change[key[0]]:
            first_change[key[0]] = earliest
    session.flush()
    for customer_id, moment in first_change.items():
        counts.earliest[customer_id] = _first_affected_month(session, customer_id, moment)
    return counts


def _first_affected_month(session: Session, customer_id: str, moment: datetime) -> Month:
    """A reading at `moment` also closes the interval since the reading before it, so
    figures can change from that earlier reading's month on."""
    previous = session.exec(
        select(func.max(MeterReading.read_time)).where(
            MeterReading.customer_id == customer_id, MeterReading.read_time < moment
        )
    ).one()
    return Month.of(previous if previous is not None else moment)
