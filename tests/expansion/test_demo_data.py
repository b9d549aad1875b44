"""The dev profile's demo applications: seeded through the real transitions at
different nodes, once however often the service starts, and read back over gRPC."""

from __future__ import annotations

from palmgrid.expansion.v1 import expansion_service_pb2 as service_pb
from palmgrid.expansion.v1 import resources_pb2 as pb
from servers.expansion.demo import seed_demo
from tests.expansion.support import ExpansionSystem


def test_the_demo_shows_applications_at_different_nodes(system: ExpansionSystem) -> None:
    seed_demo(system.expansion.runtime, system.clock)
    seed_demo(system.expansion.runtime, system.clock)
    listed = system.stub.ListApplications(
        service_pb.ListApplicationsRequest(), metadata=system.expander()
    ).applications
    by_id = {a.name.removeprefix("applications/"): a for a in listed}
    assert set(by_id) == {
        "demo-residential-new",
        "demo-business-plan",
        "demo-hv-design",
        "demo-hv-overdue",
        "demo-residential-done",
    }
    assert by_id["demo-residential-new"].current_node == pb.NODE_KIND_ACCEPTANCE
    assert by_id["demo-business-plan"].current_node == pb.NODE_KIND_SUPPLY_PLAN
    design = by_id["demo-hv-design"]
    assert design.current_node == pb.NODE_KIND_DESIGN_REVIEW
    assert design.nodes[3].state == pb.NODE_STATE_WAITING_ON_CUSTOMER
    assert by_id["demo-residential-done"].state == pb.APPLICATION_STATE_COMPLETED
    overdue = system.stub.ListDueApplications(
        service_pb.ListDueApplicationsRequest(overdue_only=True), metadata=system.expander()
    ).applications
    assert [a.name for a in overdue] == ["applications/demo-hv-overdue"]
    other = system.stub.ListApplications(
        service_pb.ListApplicationsRequest(), metadata=system.expander("s-zy")
    ).applications
    assert [a.name for a in other] == ["applications/demo-zhanyi-new"]
