"""Outlets between their rows and the `palmgrid.care.v1.Outlet` resource."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from google.type import dayofweek_pb2, latlng_pb2

from palmgrid.care.v1 import resources_pb2
from servers.care.models import OutletRow
from servers.runtime.etags import etag
from servers.runtime.ids import Collection
from servers.runtime.protoconv import time_of_day, time_of_day_text, timestamp

OUTLETS = Collection("outlets")
SERVICE_PREFIX = "OUTLET_SERVICE_"

# The fields UpdateOutlet may change (its update_mask rule lists the same).
UPDATABLE = (
    "display_name",
    "address",
    "location",
    "phone",
    "opening_hours",
    "hours_note",
    "services",
    "supply_office",
)


outlet_name = OUTLETS.name
outlet_id = OUTLETS.id


def service_value(name: str) -> resources_pb2.OutletService.ValueType:
    """The OutletService of a stored name ("BILL_PAYMENT")."""
    return resources_pb2.OutletService.Value(f"{SERVICE_PREFIX}{name}")


def service_name(value: int) -> str:
    """The stored name of an OutletService value."""
    return resources_pb2.OutletService.Name(value).removeprefix(SERVICE_PREFIX)  # type: ignore[arg-type]


def period_message(period: Mapping[str, str]) -> resources_pb2.OpeningPeriod:
    """An opening period from its stored form {"day", "open", "close"} ("HH:MM")."""
    return resources_pb2.OpeningPeriod(
        day=dayofweek_pb2.DayOfWeek.Value(period["day"]),
        open_time=time_of_day(period["open"]),
        close_time=time_of_day(period["close"]),
    )


def period_record(period: resources_pb2.OpeningPeriod) -> dict[str, str]:
    """The stored form of an opening period."""
    return {
        "day": dayofweek_pb2.DayOfWeek.Name(period.day),
        "open": time_of_day_text(period.open_time),
        "close": time_of_day_text(period.close_time),
    }


def outlet_resource(row: OutletRow, distance_meters: int | None = None) -> resources_pb2.Outlet:
    """The Outlet of a row; `distance_meters` is set only when measured from a point."""
    name = outlet_name(row.id)
    return resources_pb2.Outlet(
        name=name,
        display_name=row.display_name,
        address=row.address,
        location=latlng_pb2.LatLng(latitude=row.latitude, longitude=row.longitude),
        phone=row.phone,
        opening_hours=[period_message(p) for p in row.opening_hours],
        hours_note=row.hours_note,
        services=[service_value(s) for s in row.services],
        supply_office=row.supply_office,
        distance_meters=distance_meters,
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
        etag=etag(name, row.version),
    )


def apply_fields(row: OutletRow, outlet: resources_pb2.Outlet, fields: Iterable[str]) -> None:
    """Copy `fields` (names from UPDATABLE) of `outlet` onto `row`."""
    for field in fields:
        if field == "location":
            row.latitude = outlet.location.latitude
            row.longitude = outlet.location.longitude
        elif field == "opening_hours":
            row.opening_hours = [period_record(p) for p in outlet.opening_hours]
        elif field == "services":
            row.services = [service_name(s) for s in outlet.services]
        else:
            setattr(row, field, getattr(outlet, field))
