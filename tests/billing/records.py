"""Building archive records and readings for the billing tests, as ingest sends them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import grpc
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from palmgrid.billing.v1 import billing_internal_service_pb2 as internal_pb2
from palmgrid.billing.v1 import resources_pb2
from servers.runtime import CHINA_STANDARD_TIME

SOURCE_TIME = datetime(2024, 1, 1, tzinfo=UTC)


def ts(moment: datetime) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment)
    return message


def customer_record(
    customer_id: str,
    *,
    area_code: str = "A01",
    supply_office: str = "QJ-QL",
    phone: str = "13800000042",
    tariff: str = "residential-tiered",
    mode: int = resources_pb2.BILLING_MODE_POSTPAID,
    state: int = resources_pb2.CUSTOMER_STATE_ACTIVE,
    meters: Sequence[str] = ("M1",),
    time_of_use: bool = False,
    large_household: bool = False,
    multiplier: int = 1,
    source_time: datetime = SOURCE_TIME,
    holder_name: str = "张三明",
) -> resources_pb2.Customer:
    name = f"customers/{customer_id}"
    return resources_pb2.Customer(
        name=name,
        holder_name=holder_name,
        registered_phone=phone,
        address="曲靖市麒麟区南宁西路 1 号",
        supply_office=supply_office,
        area_code=area_code,
        tariff=f"tariffs/{tariff}",
        billing_mode=mode,  # type: ignore[arg-type]
        large_household=large_household,
        state=state,  # type: ignore[arg-type]
        meters=[
            resources_pb2.Meter(
                name=f"{name}/meters/{meter}",
                kind=resources_pb2.METER_KIND_SINGLE_PHASE,
                multiplier=multiplier,
                time_of_use=time_of_use,
            )
            for meter in meters
        ],
        source_update_time=ts(source_time),
    )


def upsert_request(*records: resources_pb2.Customer) -> internal_pb2.BatchUpsertCustomersRequest:
    return internal_pb2.BatchUpsertCustomersRequest(customers=records, request_id=str(uuid.uuid4()))


def reading(
    customer_id: str,
    meter: str,
    reading_id: str,
    when: datetime,
    value_wh: int,
    *,
    quality: int = resources_pb2.READING_QUALITY_ACTUAL,
    registers: dict[int, int] | None = None,
) -> resources_pb2.MeterReading:
    return resources_pb2.MeterReading(
        name=f"customers/{customer_id}/meters/{meter}/readings/{reading_id}",
        read_time=ts(when),
        value_wh=value_wh,
        quality=quality,  # type: ignore[arg-type]
        source=resources_pb2.READING_SOURCE_REMOTE,
        time_of_use_registers=[
            resources_pb2.TimeOfUseRegister(period=period, value_wh=value)  # type: ignore[arg-type]
            for period, value in (registers or {}).items()
        ],
    )


def readings_request(
    *readings: resources_pb2.MeterReading,
) -> internal_pb2.BatchUpsertMeterReadingsRequest:
    return internal_pb2.BatchUpsertMeterReadingsRequest(
        meter_readings=readings, request_id=str(uuid.uuid4())
    )


def bad_fields(error: grpc.RpcError) -> list[str]:
    """The fields a google.rpc.BadRequest in the error's status names, in order."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "no rich status"
    fields: list[str] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields.extend(v.field for v in bad.field_violations)
    return fields


def daily_reading(
    customer_id: str,
    day: str,
    energy_wh: int | None,
    *,
    quality: int = resources_pb2.READING_QUALITY_ACTUAL,
    meter: str = "M1",
) -> internal_pb2.DailyMeterReading:
    """One meter's figure for one day, as ingest sends it."""
    reading = internal_pb2.DailyMeterReading(
        meter=f"customers/{customer_id}/meters/{meter}", date=day, quality=quality
    )
    if energy_wh is not None:
        reading.energy_wh = energy_wh
    return reading


def daily_request(
    *readings: internal_pb2.DailyMeterReading,
) -> internal_pb2.BatchUpsertDailyUsageRequest:
    return internal_pb2.BatchUpsertDailyUsageRequest(
        daily_readings=readings, request_id=str(uuid.uuid4())
    )


def month_start_readings(
    customer_id: str, energies_kwh: dict[str, int], *, meter: str = "M1"
) -> list[resources_pb2.MeterReading]:
    """Readings at 00:00 CST on each month's first day so that each month "YYYY-MM" of
    `energies_kwh` (consecutive, oldest first) used exactly that many kWh; the last
    reading opens the month after the last one."""
    months = list(energies_kwh)
    year, month = (int(part) for part in months[0].split("-"))
    value = 0
    result = []
    for index in range(len(months) + 1):
        start = datetime(year + (month - 1 + index) // 12, (month - 1 + index) % 12 + 1, 1)
        when = start.replace(tzinfo=CHINA_STANDARD_TIME)
        result.append(reading(customer_id, meter, f"r{index}", when, value))
        if index < len(months):
            value += energies_kwh[months[index]] * 1000
    return result
