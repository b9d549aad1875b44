"""Outages between their rows and the `palmgrid.outage.v1.Outage` resource."""

from __future__ import annotations

from palmgrid.outage.v1 import outage_service_pb2, resources_pb2
from servers.outage.models import OutageRow
from servers.runtime.etags import etag
from servers.runtime.protoconv import timestamp

PREFIX = "outages/"

# The fields UpdateOutage may change (its update_mask rule lists the same).
UPDATABLE = (
    "area_codes",
    "area_description",
    "start_time",
    "end_time",
    "estimated_restore_time",
    "reason",
    "urgent",
    "urgent_reason",
)


def outage_name(outage_id: str) -> str:
    return f"{PREFIX}{outage_id}"


def outage_id(name: str) -> str:
    """The id in `outages/{id}` (the request rules have checked the pattern)."""
    return name.removeprefix(PREFIX)


def kind_name(value: int) -> str:
    """The stored name of an OutageKind value ("PLANNED")."""
    return resources_pb2.OutageKind.Name(value).removeprefix("OUTAGE_KIND_")  # type: ignore[arg-type]


def state_name(value: int) -> str:
    """The stored name of an OutageState value ("SCHEDULED")."""
    return resources_pb2.OutageState.Name(value).removeprefix("OUTAGE_STATE_")  # type: ignore[arg-type]


def change_kind_value(name: str) -> outage_service_pb2.OutageChangeKind.ValueType:
    return outage_service_pb2.OutageChangeKind.Value(f"OUTAGE_CHANGE_KIND_{name}")


def outage_resource(row: OutageRow) -> resources_pb2.Outage:
    name = outage_name(row.id)
    return resources_pb2.Outage(
        name=name,
        kind=resources_pb2.OutageKind.Value(f"OUTAGE_KIND_{row.kind}"),
        state=resources_pb2.OutageState.Value(f"OUTAGE_STATE_{row.state}"),
        area_codes=row.area_codes,
        area_description=row.area_description,
        start_time=timestamp(row.start_time),
        end_time=timestamp(row.end_time),
        estimated_restore_time=timestamp(row.estimated_restore_time),
        restore_time=timestamp(row.restore_time),
        reason=row.reason,
        supply_office=row.supply_office,
        cancel_reason=row.cancel_reason,
        restore_note=row.restore_note,
        affected_customer_count=row.affected_customer_count,
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
        urgent=row.urgent,
        urgent_reason=row.urgent_reason,
        etag=etag(name, row.version),
    )
