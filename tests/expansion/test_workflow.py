"""Connection applications over real gRPC: every kind's node sequence walked to
completion, illegal moves refused with the rule they break, due times in working days
across weekends and holidays, a clock paused while waiting on the customer, idempotent
filing, data scope, handlers and the node time limits admins edit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc

from palmgrid.expansion.v1 import expansion_service_pb2 as service_pb
from palmgrid.expansion.v1 import resources_pb2 as pb
from tests.expansion.support import ExpansionSystem, fails, new_request_id

HOUR = timedelta(hours=1)
RESIDENTIAL = pb.APPLICATION_KIND_LOW_VOLTAGE_RESIDENTIAL
BUSINESS = pb.APPLICATION_KIND_LOW_VOLTAGE_BUSINESS
HIGH_VOLTAGE = pb.APPLICATION_KIND_HIGH_VOLTAGE
# The default sequences and limits in working days (workflow.toml), written out.
SEQUENCES = {
    RESIDENTIAL: [(pb.NODE_KIND_ACCEPTANCE, 1), (pb.NODE_KIND_CONNECTION, 4)],
    BUSINESS: [
        (pb.NODE_KIND_ACCEPTANCE, 1),
        (pb.NODE_KIND_SUPPLY_PLAN, 3),
        (pb.NODE_KIND_CONNECTION, 2),
    ],
    HIGH_VOLTAGE: [
        (pb.NODE_KIND_ACCEPTANCE, 1),
        (pb.NODE_KIND_SURVEY, 2),
        (pb.NODE_KIND_SUPPLY_PLAN, 15),
        (pb.NODE_KIND_DESIGN_REVIEW, 10),
        (pb.NODE_KIND_MID_INSPECTION, 5),
        (pb.NODE_KIND_COMPLETION_INSPECTION, 5),
        (pb.NODE_KIND_CONNECTION, 5),
    ],
}


def _at(text: str) -> datetime:
    """A moment given in China Standard Time, as aware UTC."""
    local = datetime.fromisoformat(text)
    return (local - timedelta(hours=8)).replace(tzinfo=UTC)


def _due(node: pb.Node) -> datetime:
    return node.due_time.ToDatetime(tzinfo=UTC)


def test_every_kind_walks_its_node_sequence_to_completion(system: ExpansionSystem) -> None:
    for kind, sequence in SEQUENCES.items():
        filed = system.file(kind)
        assert [(n.kind, n.working_days or 0) for n in filed.nodes][:1] == [sequence[0]]
        assert [n.kind for n in filed.nodes] == [k for k, _ in sequence]
        assert [n.state for n in filed.nodes] == [pb.NODE_STATE_IN_PROGRESS] + [
            pb.NODE_STATE_PENDING
        ] * (len(sequence) - 1)
        assert filed.state == pb.APPLICATION_STATE_IN_PROGRESS
        assert filed.supply_office == "QJ-QL"
        current = filed
        for position, (node_kind, days) in enumerate(sequence):
            assert current.current_node == node_kind
            assert current.nodes[position].working_days == days
            system.clock.advance(HOUR)
            current = system.advance(current.name, f"第{position + 1}步办结", node=node_kind)
        assert current.state == pb.APPLICATION_STATE_COMPLETED
        assert current.current_node == pb.NODE_KIND_UNSPECIFIED
        assert all(n.state == pb.NODE_STATE_COMPLETED for n in current.nodes)
        assert all(n.handler == "users/s-ql" and n.HasField("complete_time") for n in current.nodes)
        assert current.nodes[-1].note == f"第{len(sequence)}步办结"
        actions = [(e.action, e.node, e.actor) for e in current.history]
        assert actions == [(pb.APPLICATION_ACTION_FILED, sequence[0][0], "users/u-app")] + [
            (pb.APPLICATION_ACTION_ADVANCED, k, "users/s-ql") for k, _ in sequence
        ]
        # What the applicant reads back is the same progress.
        seen = system.stub.GetApplication(
            service_pb.GetApplicationRequest(name=current.name), metadata=system.applicant()
        )
        assert seen.nodes == current.nodes
        assert seen.complete_time == current.complete_time


def test_illegal_moves_are_refused_with_the_rule_they_break(system: ExpansionSystem) -> None:
    filed = system.file(BUSINESS)
    skipped = fails(lambda: system.advance(filed.name, node=pb.NODE_KIND_SUPPLY_PLAN))
    assert skipped.code == grpc.StatusCode.FAILED_PRECONDITION
    assert skipped.metadata["rule"] == "NOT_CURRENT_NODE"
    assert skipped.metadata["currentNode"] == "ACCEPTANCE"

    resumed = fails(
        lambda: system.stub.ResumeApplication(
            service_pb.ResumeApplicationRequest(name=filed.name), metadata=system.expander()
        )
    )
    assert resumed.code == grpc.StatusCode.FAILED_PRECONDITION
    assert resumed.metadata["rule"] == "NODE_NOT_WAITING"

    system.stub.SendBackApplication(
        service_pb.SendBackApplicationRequest(name=filed.name, reason="缺少房产证明"),
        metadata=system.expander(),
    )
    waiting = fails(lambda: system.advance(filed.name))
    assert waiting.metadata["rule"] == "NODE_WAITING_ON_CUSTOMER"

    rejected = system.stub.RejectApplication(
        service_pb.RejectApplicationRequest(name=filed.name, reason="用电地址不在供电范围"),
        metadata=system.expander(),
    )
    assert rejected.state == pb.APPLICATION_STATE_REJECTED
    assert rejected.reject_reason == "用电地址不在供电范围"
    assert [n.state for n in rejected.nodes] == [
        pb.NODE_STATE_REJECTED,
        pb.NODE_STATE_CANCELLED,
        pb.NODE_STATE_CANCELLED,
    ]
    for again in (
        lambda: system.advance(filed.name),
        lambda: system.stub.RejectApplication(
            service_pb.RejectApplicationRequest(name=filed.name, reason="再次"),
            metadata=system.expander(),
        ),
    ):
        closed = fails(again)
        assert closed.code == grpc.StatusCode.FAILED_PRECONDITION
        assert closed.metadata["rule"] == "APPLICATION_CLOSED"

    done = system.file(RESIDENTIAL)
    system.advance(done.name)
    system.advance(done.name)
    assert fails(lambda: system.advance(done.name)).metadata["rule"] == "APPLICATION_CLOSED"
    # A refused move leaves no trace in the history.
    seen = system.stub.GetApplication(
        service_pb.GetApplicationRequest(name=filed.name), metadata=system.expander()
    )
    assert [e.action for e in seen.history] == [
        pb.APPLICATION_ACTION_FILED,
        pb.APPLICATION_ACTION_SENT_BACK,
        pb.APPLICATION_ACTION_REJECTED,
    ]


def test_due_times_count_working_days_across_weekends_and_holidays(
    system: ExpansionSystem,
) -> None:
    # Friday 10:00: one working day on is Monday 10:00.
    system.clock.set(_at("2026-03-06T10:00"))
    friday = system.file(RESIDENTIAL)
    assert _due(friday.nodes[0]) == _at("2026-03-09T10:00")

    # Thursday 30 April 10:00, before 劳动节 (1–5 May off): due Wednesday 6 May.
    system.clock.set(_at("2026-04-30T10:00"))
    filed = system.file(RESIDENTIAL)
    assert _due(filed.nodes[0]) == _at("2026-05-06T10:00")
    assert filed.nodes[0].time_limit.ToTimedelta() == timedelta(days=6)
    # Completed on 6 May at 09:00, connection's 4 working days are the 7th, the 8th,
    # Saturday the 9th (worked in exchange) and Monday the 11th.
    system.clock.set(_at("2026-05-06T09:00"))
    advanced = system.advance(filed.name)
    assert _due(advanced.nodes[1]) == _at("2026-05-11T09:00")
    assert advanced.nodes[1].start_time.ToDatetime(tzinfo=UTC) == _at("2026-05-06T09:00")


def test_sending_back_pauses_the_node_clock_until_resumed(system: ExpansionSystem) -> None:
    filed = system.file(HIGH_VOLTAGE)  # Monday 08:00, acceptance due Tuesday 08:00.
    assert _due(filed.nodes[0]) == _at("2026-03-03T08:00")
    system.clock.set(_at("2026-03-02T12:00"))
    sent_back = system.stub.SendBackApplication(
        service_pb.SendBackApplicationRequest(name=filed.name, reason="缺少营业执照"),
        metadata=system.expander(),
    )
    node = sent_back.nodes[0]
    assert node.state == pb.NODE_STATE_WAITING_ON_CUSTOMER
    assert node.pause_time.ToDatetime(tzinfo=UTC) == _at("2026-03-02T12:00")
    assert node.note == "缺少营业执照"

    # The applicant supplies the licence two days later: 48 hours do not count.
    system.clock.set(_at("2026-03-04T12:00"))
    resumed = system.stub.ResumeApplication(
        service_pb.ResumeApplicationRequest(name=filed.name, note="已上传营业执照"),
        metadata=system.applicant(),
    )
    node = resumed.nodes[0]
    assert node.state == pb.NODE_STATE_IN_PROGRESS
    assert node.paused_duration.ToTimedelta() == timedelta(hours=48)
    assert not node.HasField("pause_time")
    assert _due(node) == _at("2026-03-05T08:00")
    assert [(e.action, e.actor) for e in resumed.history][1:] == [
        (pb.APPLICATION_ACTION_SENT_BACK, "users/s-ql"),
        (pb.APPLICATION_ACTION_RESUMED, "users/u-app"),
    ]


def test_filing_is_idempotent_on_request_id(system: ExpansionSystem) -> None:
    request_id = new_request_id()
    first = system.file(RESIDENTIAL, request_id=request_id)
    system.clock.advance(HOUR)
    again = system.file(RESIDENTIAL, request_id=request_id)
    assert again == first
    listed = system.stub.ListApplications(
        service_pb.ListApplicationsRequest(), metadata=system.applicant()
    )
    assert [a.name for a in listed.applications] == [first.name]
    reused = fails(lambda: system.file(BUSINESS, request_id=request_id))
    assert (reused.code, reused.reason) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "IDEMPOTENCY_KEY_REUSED",
    )


def test_applications_are_routed_to_offices_and_read_within_scope(system: ExpansionSystem) -> None:
    own = system.file(RESIDENTIAL)
    far = system.file(RESIDENTIAL, area_code="A07")
    assert far.supply_office == "QJ-ZY"
    increase = system.file(
        RESIDENTIAL,
        purpose=pb.APPLICATION_PURPOSE_CAPACITY_INCREASE,
        customer="customers/3100000001",
        area_code="",
        capacity_kva=16,
    )
    assert (increase.supply_office, increase.area_code) == ("QJ-QL", "A01")
    foreign = fails(
        lambda: system.file(
            RESIDENTIAL,
            purpose=pb.APPLICATION_PURPOSE_CAPACITY_INCREASE,
            customer="customers/3100000007",
        )
    )
    assert (foreign.code, foreign.reason) == (grpc.StatusCode.PERMISSION_DENIED, "OUT_OF_SCOPE")

    staff_list = system.stub.ListApplications(
        service_pb.ListApplicationsRequest(), metadata=system.expander("s-ql")
    )
    assert {a.name for a in staff_list.applications} == {own.name, increase.name}
    # Staff lists mask the applicant; the applicant's own list and Get do not.
    assert {a.applicant.contact_phone for a in staff_list.applications} == {"138****1234"}
    assert {a.applicant.id_number for a in staff_list.applications} == {"530302********123X"}
    assert own.applicant.contact_phone == "13800001234"
    opened = system.stub.GetApplication(
        service_pb.GetApplicationRequest(name=own.name), metadata=system.expander("s-ql")
    )
    assert opened.applicant == own.applicant
    other = system.stub.ListApplications(
        service_pb.ListApplicationsRequest(), metadata=system.expander("s-zy")
    )
    assert [a.name for a in other.applications] == [far.name]
    assert fails(lambda: system.advance(own.name, metadata=system.expander("s-zy"))).reason == (
        "OUT_OF_SCOPE"
    )
    quiet = system.stub.ListApplications(
        service_pb.ListApplicationsRequest(), metadata=system.applicant("u-quiet")
    )
    assert list(quiet.applications) == []
    peek = fails(
        lambda: system.stub.GetApplication(
            service_pb.GetApplicationRequest(name=own.name), metadata=system.applicant("u-quiet")
        )
    )
    assert peek.code == grpc.StatusCode.PERMISSION_DENIED


def test_handlers_must_cover_the_office_and_are_shown_on_the_node(system: ExpansionSystem) -> None:
    filed = system.file(BUSINESS)
    assigned = system.stub.AssignApplication(
        service_pb.AssignApplicationRequest(
            name=filed.name, handler="users/s-ql2", node=pb.NODE_KIND_SUPPLY_PLAN
        ),
        metadata=system.expander(),
    )
    assert assigned.nodes[1].handler == "users/s-ql2"
    assert assigned.history[-1].action == pb.APPLICATION_ACTION_ASSIGNED
    outside = fails(
        lambda: system.stub.AssignApplication(
            service_pb.AssignApplicationRequest(name=filed.name, handler="users/s-zy"),
            metadata=system.expander(),
        )
    )
    assert outside.code == grpc.StatusCode.FAILED_PRECONDITION
    assert outside.metadata["rule"] == "HANDLER_OUT_OF_SCOPE"
    advanced = system.advance(filed.name)
    assert advanced.nodes[0].handler == "users/s-ql"
    assert advanced.nodes[1].handler == "users/s-ql2"
    # Each staff member lists the applications whose current node they handle.
    other = system.file(BUSINESS)
    mine = system.stub.ListApplications(
        service_pb.ListApplicationsRequest(handler="users/me"), metadata=system.expander("s-ql2")
    )
    assert [a.name for a in mine.applications] == [filed.name]
    due = system.stub.ListDueApplications(
        service_pb.ListDueApplicationsRequest(
            handler="users/s-ql2", due_within={"seconds": 86400 * 30}
        ),
        metadata=system.expander(),
    )
    assert [a.name for a in due.applications] == [filed.name]
    assert other.name not in {a.name for a in due.applications}


def test_admins_edit_node_time_limits_with_their_etag(system: ExpansionSystem) -> None:
    limits = system.stub.ListNodeTimeLimits(
        service_pb.ListNodeTimeLimitsRequest(application_kind=HIGH_VOLTAGE),
        metadata=system.admin(),
    ).node_time_limits
    assert [(x.node_kind, x.working_days) for x in limits] == SEQUENCES[HIGH_VOLTAGE]
    plan = next(x for x in limits if x.node_kind == pb.NODE_KIND_SUPPLY_PLAN)
    assert plan.name == "nodeTimeLimits/high-voltage-supply-plan"
    assert plan.dual_supply_working_days == 30
    begun = system.file(RESIDENTIAL)

    acceptance = system.stub.ListNodeTimeLimits(
        service_pb.ListNodeTimeLimitsRequest(application_kind=RESIDENTIAL), metadata=system.admin()
    ).node_time_limits[0]
    change = pb.NodeTimeLimit(name=acceptance.name, working_days=2, etag=acceptance.etag)
    updated = system.stub.UpdateNodeTimeLimit(
        service_pb.UpdateNodeTimeLimitRequest(
            node_time_limit=change, update_mask={"paths": ["working_days"]}
        ),
        metadata=system.admin(),
    )
    assert updated.working_days == 2 and updated.etag != acceptance.etag
    stale = fails(
        lambda: system.stub.UpdateNodeTimeLimit(
            service_pb.UpdateNodeTimeLimitRequest(
                node_time_limit=change, update_mask={"paths": ["working_days"]}
            ),
            metadata=system.admin(),
        )
    )
    assert stale.code == grpc.StatusCode.ABORTED
    # New nodes take the new limit; the node already begun keeps its due time.
    later = system.file(RESIDENTIAL)
    assert _due(later.nodes[0]) == _at("2026-03-04T08:00")
    kept = system.stub.GetApplication(
        service_pb.GetApplicationRequest(name=begun.name), metadata=system.expander()
    )
    assert _due(kept.nodes[0]) == _at("2026-03-03T08:00")
    refused = fails(
        lambda: system.stub.UpdateNodeTimeLimit(
            service_pb.UpdateNodeTimeLimitRequest(
                node_time_limit=pb.NodeTimeLimit(name=acceptance.name, working_days=0),
                update_mask={"paths": ["working_days"]},
            ),
            metadata=system.admin(),
        )
    )
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT


def test_a_dual_supply_plan_gets_the_longer_limit(system: ExpansionSystem) -> None:
    filed = system.file(HIGH_VOLTAGE, dual_supply=True)
    system.advance(filed.name)
    surveyed = system.advance(filed.name)
    assert surveyed.nodes[2].kind == pb.NODE_KIND_SUPPLY_PLAN
    assert surveyed.nodes[2].working_days == 30
