"""Feedback over gRPC: due times by kind, routing to the customer's supply office (from
a real billing service), idempotent submission, who sees what, and the handling from
assignment to rating with its history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from palmgrid.care.v1 import care_service_pb2 as pb
from palmgrid.care.v1 import resources_pb2 as res
from tests.care.feedback_support import People
from tests.care.support import TICK, fails, start_care

COMPLAINT = res.FEEDBACK_KIND_COMPLAINT
Metadata = list[tuple[str, bytes]]


def submit(people: People, who: Metadata, customer: str = "", **fields: Any) -> res.Feedback:
    request_id = fields.pop("request_id", "")
    feedback = res.Feedback(
        kind=fields.pop("kind", COMPLAINT),
        customer=f"customers/{customer}" if customer else "",
        content=fields.pop("content", "抄表数据与实际不符，电费明显偏高。"),
        **fields,
    )
    return people.care.stub.CreateFeedback(
        pb.CreateFeedbackRequest(feedback=feedback, request_id=request_id), metadata=who
    )


def listed(people: People, who: Metadata, **request: Any) -> list[str]:
    answer = people.care.stub.ListFeedback(pb.ListFeedbackRequest(**request), metadata=who)
    return [f.name for f in answer.feedback]


def get(people: People, who: Metadata, name: str) -> res.Feedback:
    return people.care.stub.GetFeedback(pb.GetFeedbackRequest(name=name), metadata=who)


def test_a_complaint_is_due_in_a_day_and_goes_to_the_customers_office(
    feedback_care: People,
) -> None:
    alice = feedback_care.customer("users/alice", "3100000001")
    made = submit(feedback_care, alice, "3100000001")
    now = feedback_care.care.clock.now()
    assert made.state == res.FEEDBACK_STATE_SUBMITTED
    assert (made.author, made.supply_office) == ("users/alice", "QJ-QL")
    assert made.due_time.ToDatetime() == (now + timedelta(hours=24)).replace(tzinfo=None)
    assert [(e.action, e.actor) for e in made.history] == [
        (res.FEEDBACK_ACTION_SUBMITTED, "users/alice")
    ]


def test_the_due_time_follows_the_kind(feedback_care: People) -> None:
    alice = feedback_care.customer("users/alice")
    made = submit(
        feedback_care, alice, kind=res.FEEDBACK_KIND_SUGGESTION, content="建议增加夜间缴费点"
    )
    created = made.create_time.ToDatetime()
    # Ten working days from Monday 2 March 2026: two weeks, two weekends skipped.
    assert made.due_time.ToDatetime() - created == timedelta(days=14)
    assert made.supply_office == ""


def test_working_day_commitments_skip_a_holiday_and_count_its_make_up_day(
    feedback_care: People,
) -> None:
    # Thursday 12 February 2026, 10:00 CST. Five working days for praise: Friday 13th,
    # Saturday 14th (worked in exchange for 春节), then 15–23 February off, then the
    # 24th, 25th and 26th. A complaint's 24 hours run through the holiday.
    feedback_care.care.clock.set(datetime(2026, 2, 12, 2, 0, tzinfo=UTC))
    alice = feedback_care.customer("users/alice")
    praise = submit(feedback_care, alice, kind=res.FEEDBACK_KIND_PRAISE, content="抢修及时")
    assert praise.due_time.ToDatetime() == datetime(2026, 2, 26, 2, 0)
    feedback_care.care.clock.set(datetime(2026, 2, 14, 2, 0, tzinfo=UTC))
    complaint = submit(feedback_care, alice)
    assert complaint.due_time.ToDatetime() == datetime(2026, 2, 15, 2, 0)


def test_customers_and_staff_file_only_within_their_scope(feedback_care: People) -> None:
    alice = feedback_care.customer("users/alice", "3100000001")
    unbound = fails(lambda: submit(feedback_care, alice, "3100000006"))
    assert unbound.reason == "OUT_OF_SCOPE"
    zhanyi = feedback_care.agent("users/zy1", "QJ-ZY")
    other_office = fails(lambda: submit(feedback_care, zhanyi, "3100000001"))
    assert other_office.reason == "OUT_OF_SCOPE"
    assert submit(feedback_care, zhanyi, "3100000006").supply_office == "QJ-ZY"
    # Staff filing about no customer route it to their own office.
    assert submit(feedback_care, zhanyi).supply_office == "QJ-ZY"
    everywhere = feedback_care.agent("users/boss", everywhere=True)
    assert fails(lambda: submit(feedback_care, everywhere, "3100009999")).reason == "NOT_FOUND"


def test_a_retry_returns_the_first_submission(feedback_care: People) -> None:
    alice = feedback_care.customer("users/alice", "3100000001")
    request_id = str(uuid.uuid4())
    first = submit(feedback_care, alice, "3100000001", request_id=request_id)
    again = submit(feedback_care, alice, "3100000001", request_id=request_id)
    assert again == first
    assert listed(feedback_care, alice) == [first.name]
    changed = fails(
        lambda: submit(
            feedback_care, alice, "3100000001", request_id=request_id, content="另一件事"
        )
    )
    assert (changed.code.name, changed.reason) == ("ABORTED", "IDEMPOTENCY_KEY_REUSED")


def test_who_sees_which_feedback(feedback_care: People) -> None:
    alice = feedback_care.customer("users/alice", "3100000001")
    bob = feedback_care.customer("users/bob", "3100000002")
    hers = submit(feedback_care, alice, "3100000001").name
    feedback_care.care.clock.advance(TICK)
    his = submit(feedback_care, bob, "3100000002").name
    feedback_care.care.clock.advance(TICK)
    zhanyi = feedback_care.agent("users/zy1", "QJ-ZY")
    theirs = submit(feedback_care, zhanyi, "3100000006").name

    assert listed(feedback_care, alice) == [hers]
    assert fails(lambda: get(feedback_care, bob, hers)).reason == "OUT_OF_SCOPE"
    qilin = feedback_care.agent("users/ql1", "QJ-QL")
    assert listed(feedback_care, qilin) == [his, hers]
    assert get(feedback_care, qilin, hers).customer == "customers/3100000001"
    assert fails(lambda: get(feedback_care, qilin, theirs)).reason == "OUT_OF_SCOPE"
    assert listed(feedback_care, zhanyi) == [theirs]
    refused = fails(lambda: listed(feedback_care, zhanyi, supply_office="QJ-QL"))
    assert refused.reason == "OUT_OF_SCOPE"
    boss = feedback_care.agent("users/boss", everywhere=True)
    assert listed(feedback_care, boss) == [theirs, his, hers]
    assert listed(feedback_care, boss, supply_office="QJ-ZY") == [theirs]
    assert listed(feedback_care, boss, customer="customers/3100000002") == [his]


def test_handling_from_assignment_to_rating_is_recorded(feedback_care: People) -> None:
    alice = feedback_care.customer("users/alice", "3100000001")
    agent = feedback_care.agent("users/ql1", "QJ-QL")
    stub = feedback_care.care.stub
    name = submit(feedback_care, alice, "3100000001").name
    early = fails(
        lambda: stub.ReplyFeedback(pb.ReplyFeedbackRequest(name=name, text="您好"), metadata=agent)
    )
    assert early.code.name == "FAILED_PRECONDITION"

    assigned = stub.AssignFeedback(
        pb.AssignFeedbackRequest(name=name, assignee="users/me", note="请核实抄表"), metadata=agent
    )
    assert (assigned.state, assigned.assignee) == (res.FEEDBACK_STATE_ACCEPTED, "users/ql1")
    assert listed(feedback_care, agent, assignee="users/me") == [name]
    replied = stub.ReplyFeedback(
        pb.ReplyFeedbackRequest(name=name, text="已安排人员现场核对表计。"), metadata=agent
    )
    assert replied.state == res.FEEDBACK_STATE_IN_PROGRESS
    feedback_care.care.clock.advance(timedelta(hours=3))
    resolved = stub.ResolveFeedback(
        pb.ResolveFeedbackRequest(name=name, resolution="表计误差超差，已更换并退还多收电费。"),
        metadata=agent,
    )
    assert resolved.state == res.FEEDBACK_STATE_RESOLVED
    assert resolved.resolve_time.ToDatetime() == feedback_care.care.clock.now().replace(tzinfo=None)

    bob = feedback_care.customer("users/bob", "3100000001")
    not_author = fails(
        lambda: stub.RateFeedback(pb.RateFeedbackRequest(name=name, rating=5), metadata=bob)
    )
    assert not_author.reason == "OUT_OF_SCOPE"
    rated = stub.RateFeedback(
        pb.RateFeedbackRequest(name=name, rating=5, comment="处理及时"), metadata=alice
    )
    assert (rated.state, rated.rating, rated.rating_comment) == (
        res.FEEDBACK_STATE_CLOSED,
        5,
        "处理及时",
    )
    assert rated.HasField("close_time")
    history = get(feedback_care, alice, name).history
    assert [(e.action, e.state, e.actor) for e in history] == [
        (res.FEEDBACK_ACTION_SUBMITTED, res.FEEDBACK_STATE_SUBMITTED, "users/alice"),
        (res.FEEDBACK_ACTION_ASSIGNED, res.FEEDBACK_STATE_ACCEPTED, "users/ql1"),
        (res.FEEDBACK_ACTION_REPLIED, res.FEEDBACK_STATE_IN_PROGRESS, "users/ql1"),
        (res.FEEDBACK_ACTION_RESOLVED, res.FEEDBACK_STATE_RESOLVED, "users/ql1"),
        (res.FEEDBACK_ACTION_RATED, res.FEEDBACK_STATE_CLOSED, "users/alice"),
    ]
    assert history[1].text == "请核实抄表"
    again = fails(
        lambda: stub.RateFeedback(pb.RateFeedbackRequest(name=name, rating=1), metadata=alice)
    )
    assert again.code.name == "FAILED_PRECONDITION"


def test_a_transfer_needs_both_offices_in_scope(feedback_care: People) -> None:
    alice = feedback_care.customer("users/alice", "3100000001")
    qilin = feedback_care.agent("users/ql1", "QJ-QL")
    name = submit(feedback_care, alice, "3100000001").name
    request = pb.AssignFeedbackRequest(name=name, assignee="users/zy1", supply_office="QJ-ZY")
    refused = fails(lambda: feedback_care.care.stub.AssignFeedback(request, metadata=qilin))
    assert refused.reason == "OUT_OF_SCOPE"
    both = feedback_care.agent("users/lead", "QJ-QL", "QJ-ZY")
    moved = feedback_care.care.stub.AssignFeedback(request, metadata=both)
    assert (moved.supply_office, moved.assignee) == ("QJ-ZY", "users/zy1")
    assert listed(feedback_care, qilin) == []


def test_the_author_may_close_it_at_any_point_before_it_is_closed(feedback_care: People) -> None:
    alice = feedback_care.customer("users/alice", "3100000001")
    name = submit(feedback_care, alice, "3100000001").name
    close = pb.CloseFeedbackRequest(name=name, reason="问题已自行解决")
    closed = feedback_care.care.stub.CloseFeedback(close, metadata=alice)
    assert closed.state == res.FEEDBACK_STATE_CLOSED
    assert closed.history[-1].text == "问题已自行解决"
    twice = fails(lambda: feedback_care.care.stub.CloseFeedback(close, metadata=alice))
    assert twice.code.name == "FAILED_PRECONDITION"


def test_pages_of_feedback_newest_first(feedback_care: People) -> None:
    alice = feedback_care.customer("users/alice", "3100000001")
    names = []
    for _ in range(3):
        feedback_care.care.clock.advance(TICK)
        names.append(submit(feedback_care, alice, "3100000001").name)
    first = feedback_care.care.stub.ListFeedback(
        pb.ListFeedbackRequest(page_size=2), metadata=alice
    )
    rest = feedback_care.care.stub.ListFeedback(
        pb.ListFeedbackRequest(page_size=2, page_token=first.next_page_token), metadata=alice
    )
    assert [f.name for f in [*first.feedback, *rest.feedback]] == names[::-1]
    assert rest.next_page_token == ""


def test_without_billing_feedback_about_a_customer_is_unavailable(
    secure_dir: Path, tmp_path: Path
) -> None:
    # Nothing listens on port 9 of the loopback: the connection is refused at once.
    care = start_care(
        secure_dir,
        f"sqlite:///{tmp_path / 'care.db'}",
        grpc_security="mtls",
        billing_target="127.0.0.1:9",
    )
    try:
        people = People(care)
        alice = people.customer("users/alice", "3100000001")
        error = fails(lambda: submit(people, alice, "3100000001"))
        assert (error.code.name, error.reason) == ("UNAVAILABLE", "UPSTREAM_UNAVAILABLE")
        assert submit(people, alice).state == res.FEEDBACK_STATE_SUBMITTED
    finally:
        care.close()
