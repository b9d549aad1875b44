"""Metering anomalies over real gRPC: recorded once per metering event in the customer's
office, listed for that office's staff, dismissed with a reason, or claimed by the one
anomaly inspection made for them."""

from __future__ import annotations

from datetime import timedelta

from palmgrid.inspection.v1 import inspection_service_pb2 as inspection_pb
from palmgrid.inspection.v1 import resources_pb2
from servers.runtime import FailedPrecondition, InvalidArgument, PermissionDenied
from tests.care.support import fails
from tests.inspection.support import QL_CUSTOMER, ZY_CUSTOMER, InspectionSystem

ANOMALY = resources_pb2.INSPECTION_KIND_ANOMALY


def _record(
    system: InspectionSystem, event: str, customer: str = QL_CUSTOMER
) -> resources_pb2.Anomaly:
    anomaly = resources_pb2.Anomaly(
        customer=customer,
        kind=resources_pb2.ANOMALY_KIND_CONSUMPTION_DROP,
        source_event=event,
        meter_number="M3100000001",
        description="近30日用电量较去年同期下降82%",
    )
    anomaly.detect_time.FromDatetime(system.clock.now() - timedelta(hours=6))
    return system.stub.RecordAnomaly(
        inspection_pb.RecordAnomalyRequest(anomaly=anomaly), metadata=system.ingest()
    )


def _listed(system: InspectionSystem, **filters: object) -> list[str]:
    reply = system.stub.ListAnomalies(
        inspection_pb.ListAnomaliesRequest(**filters),  # type: ignore[arg-type]
        metadata=system.manager(),
    )
    return [a.name for a in reply.anomalies]


def test_an_event_recorded_twice_is_one_open_anomaly_of_the_customers_office(
    system: InspectionSystem,
) -> None:
    first = _record(system, "mdm:evt-1")
    again = _record(system, "mdm:evt-1")
    assert again == first
    assert first.state == resources_pb2.ANOMALY_STATE_OPEN
    assert first.supply_office == "QJ-QL"
    assert _listed(system) == [first.name]


def test_an_anomaly_of_an_unknown_customer_names_the_field(system: InspectionSystem) -> None:
    error = fails(lambda: _record(system, "mdm:evt-x", "customers/3199999999"))
    assert isinstance(error, InvalidArgument)
    assert [v.field for v in error.field_violations] == ["anomaly.customer"]


def test_staff_see_only_their_offices_anomalies(system: InspectionSystem) -> None:
    ours = _record(system, "mdm:evt-ql")
    theirs = _record(system, "mdm:evt-zy", ZY_CUSTOMER)
    assert _listed(system) == [ours.name]
    error = fails(
        lambda: system.stub.GetAnomaly(
            inspection_pb.GetAnomalyRequest(name=theirs.name), metadata=system.manager()
        )
    )
    assert isinstance(error, PermissionDenied)


def test_an_anomaly_task_claims_its_anomaly_once(system: InspectionSystem) -> None:
    anomaly = _record(system, "mdm:evt-2")
    task = system.create(kind=ANOMALY, anomaly=anomaly.name)
    assert task.anomaly == anomaly.name
    got = system.stub.GetAnomaly(
        inspection_pb.GetAnomalyRequest(name=anomaly.name), metadata=system.manager()
    )
    assert got.state == resources_pb2.ANOMALY_STATE_TASKED
    assert got.inspection == task.name
    assert _listed(system) == []
    error = fails(lambda: system.create(kind=ANOMALY, anomaly=anomaly.name))
    assert isinstance(error, FailedPrecondition)


def test_a_task_cannot_claim_another_customers_anomaly(system: InspectionSystem) -> None:
    anomaly = _record(system, "mdm:evt-3", "customers/3100000002")
    error = fails(lambda: system.create(kind=ANOMALY, anomaly=anomaly.name))
    assert isinstance(error, InvalidArgument)
    assert [v.field for v in error.field_violations] == ["inspection.anomaly"]
    periodic = fails(lambda: system.create(anomaly=anomaly.name))
    assert isinstance(periodic, InvalidArgument)


def test_a_dismissed_anomaly_leaves_the_open_list(system: InspectionSystem) -> None:
    anomaly = _record(system, "mdm:evt-4")
    dismissed = system.stub.DismissAnomaly(
        inspection_pb.DismissAnomalyRequest(name=anomaly.name, reason="表计更换导致"),
        metadata=system.manager(),
    )
    assert dismissed.state == resources_pb2.ANOMALY_STATE_DISMISSED
    assert dismissed.dismiss_reason == "表计更换导致"
    assert _listed(system) == []
    assert _listed(system, state=resources_pb2.ANOMALY_STATE_DISMISSED) == [anomaly.name]
    error = fails(
        lambda: system.stub.DismissAnomaly(
            inspection_pb.DismissAnomalyRequest(name=anomaly.name, reason="再次"),
            metadata=system.manager(),
        )
    )
    assert isinstance(error, FailedPrecondition)
