"""Findings over real gRPC: recorded by assigned inspectors only, photos checked and
stored once per content, and an offline upload replayed never recorded twice."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import grpc
from sqlmodel import select

from palmgrid.inspection.v1 import inspection_service_pb2 as inspection_pb
from palmgrid.inspection.v1 import resources_pb2
from servers.inspection.models import FindingRow, PhotoRow
from servers.runtime import AlreadyExists, FailedPrecondition, InvalidArgument, PermissionDenied
from tests.care.support import fails
from tests.inspection.support import (
    JPEG,
    PNG,
    InspectionSystem,
    finding,
    new_request_id,
)


def _record(
    system: InspectionSystem,
    parent: str,
    sent: resources_pb2.Finding,
    request_id: str = "",
    user: str = "i-one",
) -> resources_pb2.Finding:
    return system.stub.CreateFinding(
        inspection_pb.CreateFindingRequest(parent=parent, finding=sent, request_id=request_id),
        metadata=system.inspector(user),
    )


def _rows(system: InspectionSystem, model: type) -> list[object]:
    with system.inspection.runtime.session() as session:
        return list(session.exec(select(model)).all())


def test_an_offline_upload_replayed_twice_is_recorded_once(system: InspectionSystem) -> None:
    task = system.create()
    # Observed two hours ago, without signal; uploaded now, then twice more after lost
    # answers.
    sent = finding(system.clock.now() - timedelta(hours=2))
    request_id = new_request_id()
    first = _record(system, task.name, sent, request_id)
    system.clock.advance(timedelta(minutes=5))
    second = _record(system, task.name, sent, request_id)
    third = _record(system, task.name, sent, request_id)
    assert first == second == third
    assert len(_rows(system, FindingRow)) == 1
    assert len(_rows(system, PhotoRow)) == 1
    got = system.stub.GetInspection(
        inspection_pb.GetInspectionRequest(name=task.name), metadata=system.inspector()
    )
    assert got.finding_count == 1
    assert got.state == resources_pb2.INSPECTION_STATE_IN_PROGRESS


def test_the_same_request_id_with_another_finding_is_refused(system: InspectionSystem) -> None:
    task = system.create()
    request_id = new_request_id()
    _record(system, task.name, finding(system.clock.now()), request_id)
    other = finding(system.clock.now(), note="另一条")
    error = fails(lambda: _record(system, task.name, other, request_id))
    assert isinstance(error, AlreadyExists)
    assert error.reason == "IDEMPOTENCY_KEY_REUSED"


def test_a_finding_keeps_what_was_observed_and_references_its_photo(
    system: InspectionSystem,
) -> None:
    task = system.create()
    observed = system.clock.now() - timedelta(minutes=30)
    made = _record(system, task.name, finding(observed), new_request_id())
    assert made.name.startswith(f"{task.name}/findings/")
    assert made.inspector == "users/i-one"
    assert made.meter_reading.register_wh == 12345670
    assert made.seal_state == resources_pb2.SEAL_STATE_INTACT
    assert made.violation_kind == resources_pb2.VIOLATION_KIND_NONE
    assert (made.location.latitude, made.location.longitude) == (25.49, 103.79)
    assert made.observe_time.ToDatetime().replace(tzinfo=observed.tzinfo) == observed
    [photo] = made.photos
    assert photo.sha256 == hashlib.sha256(JPEG).hexdigest()
    assert photo.size_bytes == len(JPEG)
    assert photo.WhichOneof("source") is None
    listed = system.stub.ListFindings(
        inspection_pb.ListFindingsRequest(parent=task.name), metadata=system.manager()
    )
    assert list(listed.findings) == [made]


def test_one_image_in_several_findings_is_stored_once(system: InspectionSystem) -> None:
    task = system.create()
    _record(system, task.name, finding(system.clock.now()), new_request_id())
    both = [
        resources_pb2.Photo(content_type="image/jpeg", data=JPEG),
        resources_pb2.Photo(content_type="image/png", data=PNG),
    ]
    _record(system, task.name, finding(system.clock.now(), photos=both), new_request_id(), "i-two")
    stored = {row.sha256 for row in _rows(system, PhotoRow)}  # type: ignore[attr-defined]
    assert stored == {hashlib.sha256(JPEG).hexdigest(), hashlib.sha256(PNG).hexdigest()}


def test_a_photo_that_is_not_its_declared_type_is_refused_by_field(
    system: InspectionSystem,
) -> None:
    task = system.create()
    renamed = [
        resources_pb2.Photo(content_type="image/jpeg", data=JPEG),
        resources_pb2.Photo(content_type="image/png", data=b"%PDF-1.7 not an image"),
    ]
    error = fails(lambda: _record(system, task.name, finding(system.clock.now(), photos=renamed)))
    assert isinstance(error, InvalidArgument)
    assert [v.field for v in error.field_violations] == ["finding.photos[1].data"]
    assert _rows(system, PhotoRow) == []


def test_a_photo_over_the_size_limit_is_refused(system: InspectionSystem) -> None:
    task = system.create()
    big = [resources_pb2.Photo(content_type="image/jpeg", data=JPEG + bytes(512 * 1024))]
    error = fails(lambda: _record(system, task.name, finding(system.clock.now(), photos=big)))
    assert isinstance(error, InvalidArgument)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in error.field_violations] == ["finding.photos[0].data"]


def test_only_an_assigned_inspector_records_a_finding(system: InspectionSystem) -> None:
    task = system.create("i-one", "i-two")
    error = fails(lambda: _record(system, task.name, finding(system.clock.now()), user="i-three"))
    assert isinstance(error, PermissionDenied)
    assert _rows(system, FindingRow) == []


def test_a_cancelled_task_takes_no_finding(system: InspectionSystem) -> None:
    task = system.create()
    system.stub.CancelInspection(
        inspection_pb.CancelInspectionRequest(name=task.name, reason="客户停业"),
        metadata=system.manager(),
    )
    error = fails(lambda: _record(system, task.name, finding(system.clock.now())))
    assert isinstance(error, FailedPrecondition)
