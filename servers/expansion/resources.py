"""Rows ⇄ the expansion API's messages (`Application`, `Node`, `NodeTimeLimit`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from google.protobuf import duration_pb2

from palmgrid.expansion.v1 import resources_pb2 as pb
from servers.expansion.models import ApplicationRow, EventRow, NodeLimitRow, NodeRow
from servers.runtime.etags import etag
from servers.runtime.ids import Collection
from servers.runtime.protoconv import timestamp

APPLICATIONS = Collection("applications")
LIMITS = Collection("nodeTimeLimits")


def enum_name(enum: type, prefix: str, value: int) -> str:
    """The stored name of enum `value`: its proto name without `prefix`."""
    return str(enum.Name(value)).removeprefix(prefix)  # type: ignore[attr-defined]


def kind_name(value: int) -> str:
    return enum_name(pb.ApplicationKind, "APPLICATION_KIND_", value)


def node_kind_value(name: str) -> pb.NodeKind.ValueType:
    return pb.NodeKind.Value(f"NODE_KIND_{name}")


def node_kind_name(value: int) -> str:
    return enum_name(pb.NodeKind, "NODE_KIND_", value)


def _duration(seconds: int) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=seconds)


def _limit_seconds(node: NodeRow) -> int:
    if node.start_time is None or node.due_time is None:
        return node.time_limit_seconds
    span = node.due_time - (node.start_time + timedelta(seconds=node.paused_seconds))
    return int(span.total_seconds())


def node_message(node: NodeRow) -> pb.Node:
    return pb.Node(
        kind=node_kind_value(node.kind),
        state=pb.NodeState.Value(f"NODE_STATE_{node.state}"),
        start_time=timestamp(node.start_time),
        due_time=timestamp(node.due_time),
        complete_time=timestamp(node.complete_time),
        handler=node.handler,
        note=node.note,
        time_limit=_duration(_limit_seconds(node)) if node.start_time else None,
        working_days=node.working_days,
        paused_duration=_duration(node.paused_seconds) if node.paused_seconds else None,
        pause_time=timestamp(node.pause_time),
    )


def event_message(event: EventRow) -> pb.ApplicationEvent:
    return pb.ApplicationEvent(
        action=pb.ApplicationAction.Value(f"APPLICATION_ACTION_{event.action}"),
        node=node_kind_value(event.node),
        actor=event.actor,
        note=event.note,
        time=timestamp(event.time),
    )


def application_message(
    row: ApplicationRow, nodes: Sequence[NodeRow], events: Sequence[EventRow]
) -> pb.Application:
    """The application with its nodes (in order) and history (oldest first)."""
    current = next((n for n in nodes if n.seq == row.current_seq), None)
    closed = row.state != "IN_PROGRESS"
    return pb.Application(
        name=APPLICATIONS.name(row.id),
        kind=pb.ApplicationKind.Value(f"APPLICATION_KIND_{row.kind}"),
        purpose=pb.ApplicationPurpose.Value(f"APPLICATION_PURPOSE_{row.purpose}"),
        state=pb.ApplicationState.Value(f"APPLICATION_STATE_{row.state}"),
        applicant=pb.Applicant(
            name=row.applicant_name,
            id_number=row.applicant_id_number,
            contact_phone=row.applicant_phone,
        ),
        address=row.address,
        area_code=row.area_code,
        capacity_kva=row.capacity_kva,
        customer=row.customer,
        supply_office=row.supply_office,
        nodes=[node_message(n) for n in sorted(nodes, key=lambda n: n.seq)],
        current_node=node_kind_value(current.kind)
        if current and not closed
        else pb.NODE_KIND_UNSPECIFIED,
        creator=row.creator,
        reject_reason=row.reject_reason,
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
        complete_time=timestamp(row.complete_time),
        history=[event_message(e) for e in events],
        dual_supply=row.dual_supply,
    )


def limit_message(row: NodeLimitRow) -> pb.NodeTimeLimit:
    name = LIMITS.name(row.id)
    return pb.NodeTimeLimit(
        name=name,
        application_kind=pb.ApplicationKind.Value(f"APPLICATION_KIND_{row.application_kind}"),
        node_kind=node_kind_value(row.node_kind),
        sequence=row.sequence,
        time_limit=_duration(row.time_limit_seconds) if row.time_limit_seconds else None,
        reminder_lead_time=_duration(row.reminder_lead_seconds),
        update_time=timestamp(row.update_time),
        etag=etag(name, row.version),
        working_days=row.working_days,
        dual_supply_working_days=row.dual_supply_working_days,
    )
