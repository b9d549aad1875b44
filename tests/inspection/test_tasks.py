"""Inspection tasks over real gRPC: the two-inspector rule, who may be assigned, the
checklist by kind, who sees which tasks, idempotent creation, reassignment and
cancelling."""

from __future__ import annotations

import grpc

from palmgrid.inspection.v1 import inspection_service_pb2 as inspection_pb
from palmgrid.inspection.v1 import resources_pb2
from servers.inspection.checklists import checklist
from servers.runtime import FailedPrecondition, InvalidArgument, PermissionDenied
from tests.care.support import fails
from tests.inspection.support import (
    DAY,
    ZY_CUSTOMER,
    InspectionSystem,
    new_request_id,
    task,
)


def test_a_task_with_one_inspector_is_refused_naming_the_assignees(
    system: InspectionSystem,
) -> None:
    error = fails(lambda: system.create("i-one"))
    assert isinstance(error, InvalidArgument)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in error.field_violations] == ["inspection.assignees"]
    assert "2" in error.field_violations[0].description


def test_a_task_for_two_inspectors_is_pending_with_the_customers_office_and_checklist(
    system: InspectionSystem,
) -> None:
    made = system.create(kind=resources_pb2.INSPECTION_KIND_SPECIAL)
    assert made.name.startswith("inspections/")
    assert made.state == resources_pb2.INSPECTION_STATE_PENDING
    assert list(made.assignees) == ["users/i-one", "users/i-two"]
    assert made.supply_office == "QJ-QL"
    assert made.customer_display_name == "张三明"
    assert made.creator == "users/m-one"
    special = [resources_pb2.CheckItem.Value(f"CHECK_ITEM_{i}") for i in checklist("SPECIAL")]
    assert list(made.checklist) == special
    periodic = system.create(kind=resources_pb2.INSPECTION_KIND_PERIODIC)
    assert list(periodic.checklist) != special
    assert (
        system.stub.GetInspection(
            inspection_pb.GetInspectionRequest(name=made.name), metadata=system.manager()
        )
        == made
    )


def test_assignees_must_be_active_inspectors_covering_the_customers_office(
    system: InspectionSystem,
) -> None:
    for assignees, why in (
        (("i-one", "i-far"), "does not cover supply office QJ-QL"),
        (("i-one", "i-gone"), "disabled"),
        (("i-one", "a-one"), "not an inspector"),
    ):
        error = fails(lambda a=assignees: system.create(*a))  # type: ignore[misc]
        assert isinstance(error, InvalidArgument)
        assert [v.field for v in error.field_violations] == ["inspection.assignees[1]"]
        assert why in error.field_violations[0].description


def test_a_customer_of_another_office_is_out_of_scope(system: InspectionSystem) -> None:
    error = fails(lambda: system.create(customer=ZY_CUSTOMER))
    assert isinstance(error, PermissionDenied)
    assert error.reason == "OUT_OF_SCOPE"


def test_the_same_request_id_makes_one_task(system: InspectionSystem) -> None:
    request = inspection_pb.CreateInspectionRequest(
        inspection=task(system.clock.now()), request_id=new_request_id()
    )
    first = system.stub.CreateInspection(request, metadata=system.manager())
    again = system.stub.CreateInspection(request, metadata=system.manager())
    assert again == first
    listed = system.stub.ListInspections(
        inspection_pb.ListInspectionsRequest(), metadata=system.manager()
    )
    assert [t.name for t in listed.inspections] == [first.name]
    assert len(system.messages("task.assigned")) == 1


def test_assigned_inspectors_are_told_of_their_task(system: InspectionSystem) -> None:
    made = system.create()
    [message] = system.messages("task.assigned")
    assert sorted(message.users) == ["users/i-one", "users/i-two"]
    assert message.parameters["task"] == made.name


def test_inspectors_see_their_own_tasks_and_managers_their_offices(
    system: InspectionSystem,
) -> None:
    mine = system.create("i-one", "i-two")
    theirs = system.create("i-two", "i-three")

    def names(metadata: list[tuple[str, bytes]], **filters: object) -> list[str]:
        reply = system.stub.ListInspections(
            inspection_pb.ListInspectionsRequest(**filters),  # type: ignore[arg-type]
            metadata=metadata,
        )
        return sorted(t.name for t in reply.inspections)

    assert names(system.inspector("i-one")) == [mine.name]
    assert names(system.inspector("i-two")) == sorted([mine.name, theirs.name])
    assert names(system.inspector("i-three"), assignee="users/me") == [theirs.name]
    assert names(system.manager()) == sorted([mine.name, theirs.name])
    assert names(system.manager("m-far", "QJ-ZY")) == []
    error = fails(
        lambda: system.stub.GetInspection(
            inspection_pb.GetInspectionRequest(name=theirs.name),
            metadata=system.inspector("i-one"),
        )
    )
    assert isinstance(error, PermissionDenied)


def test_tasks_are_listed_soonest_due_first_a_page_at_a_time(system: InspectionSystem) -> None:
    made = []
    for days in (5, 2, 9):
        request = inspection_pb.CreateInspectionRequest(
            inspection=task(system.clock.now()), request_id=new_request_id()
        )
        request.inspection.due_time.FromDatetime(system.clock.now() + days * DAY)
        made.append(system.stub.CreateInspection(request, metadata=system.manager()))
    first = system.stub.ListInspections(
        inspection_pb.ListInspectionsRequest(page_size=2), metadata=system.manager()
    )
    second = system.stub.ListInspections(
        inspection_pb.ListInspectionsRequest(page_size=2, page_token=first.next_page_token),
        metadata=system.manager(),
    )
    assert [t.name for t in [*first.inspections, *second.inspections]] == [
        made[1].name,
        made[0].name,
        made[2].name,
    ]
    assert second.next_page_token == ""


def test_reassigning_keeps_the_two_inspector_rule_and_tells_the_new_inspector(
    system: InspectionSystem,
) -> None:
    made = system.create("i-one", "i-two")
    error = fails(
        lambda: system.stub.AssignInspection(
            inspection_pb.AssignInspectionRequest(name=made.name, assignees=["users/i-one"]),
            metadata=system.manager(),
        )
    )
    assert isinstance(error, InvalidArgument)
    assert [v.field for v in error.field_violations] == ["assignees"]
    system.clock.advance(DAY)
    moved = system.stub.AssignInspection(
        inspection_pb.AssignInspectionRequest(
            name=made.name, assignees=["users/i-one", "users/i-three"], note="i-two 休假"
        ),
        metadata=system.manager(),
    )
    assert list(moved.assignees) == ["users/i-one", "users/i-three"]
    told = [m.users for m in system.messages("task.assigned")]
    assert told[-1] == ["users/i-three"]


def test_a_cancelled_task_cannot_change_again(system: InspectionSystem) -> None:
    made = system.create()
    cancelled = system.stub.CancelInspection(
        inspection_pb.CancelInspectionRequest(name=made.name, reason="客户已销户"),
        metadata=system.manager(),
    )
    assert cancelled.state == resources_pb2.INSPECTION_STATE_CANCELLED
    assert cancelled.cancel_reason == "客户已销户"
    assert cancelled.HasField("close_time")
    error = fails(
        lambda: system.stub.CancelInspection(
            inspection_pb.CancelInspectionRequest(name=made.name, reason="再次"),
            metadata=system.manager(),
        )
    )
    assert isinstance(error, FailedPrecondition)


def test_a_task_for_a_customer_not_in_the_archive_names_the_customer(
    system: InspectionSystem,
) -> None:
    error = fails(lambda: system.create(customer="customers/3199999999"))
    assert isinstance(error, InvalidArgument)
    assert [v.field for v in error.field_violations] == ["inspection.customer"]
