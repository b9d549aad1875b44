"""The demo inspection tasks: seeded once the demo inspectors exist, each assigned to
both of them (the two-inspector rule), and not seeded twice."""

from __future__ import annotations

from palmgrid.inspection.v1 import inspection_service_pb2 as inspection_pb
from palmgrid.inspection.v1 import resources_pb2
from servers.inspection.customers import BillingCustomerArchive
from servers.inspection.demo import DEMO_TASKS, seed_tasks
from servers.inspection.staff import AccountStaff
from tests.inspection.support import InspectionSystem


def test_demo_tasks_are_assigned_to_inspector_and_patroller_once(
    system: InspectionSystem,
) -> None:
    runtime = system.inspection.runtime
    archive = BillingCustomerArchive(runtime, 5.0)
    staff = AccountStaff(runtime, 5.0)
    assert seed_tasks(runtime, system.clock, archive, staff) == len(DEMO_TASKS)
    assert seed_tasks(runtime, system.clock, archive, staff) == 0
    listed = system.stub.ListInspections(
        inspection_pb.ListInspectionsRequest(), metadata=system.inspector("d-patroller")
    )
    assert sorted(t.name for t in listed.inspections) == sorted(
        f"inspections/{t.id}" for t in DEMO_TASKS
    )
    for task in listed.inspections:
        assert list(task.assignees) == ["users/d-inspector", "users/d-patroller"]
        assert task.state == resources_pb2.INSPECTION_STATE_PENDING
        assert task.supply_office == "QJ-QL"
        assert len(task.checklist) >= 5
