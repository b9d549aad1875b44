"""Feedback's loose ends over real gRPC: the author hears of a reply and of the
resolution (counted in the notification service's outbox, read over its API), an
assignee must cover the feedback's office (asked of the account service), and the
worker's daily job closes resolved feedback left unrated for the configured days."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from palmgrid.care.v1 import care_service_pb2 as pb
from palmgrid.care.v1 import care_service_pb2_grpc
from palmgrid.care.v1 import resources_pb2 as res
from servers.runtime import Settings
from servers.worker.config import WorkerConfig
from servers.worker.job import load_jobs
from servers.worker.models import OK
from servers.worker.process import open_runtime
from servers.worker.runner import Worker
from tests.care.feedback_support import Neighbours, People, outbox
from tests.care.support import TICK, fails, start_care
from tests.care.test_feedback import get, submit

Metadata = list[tuple[str, bytes]]


def assign(people: People, who: Metadata, name: str, assignee: str) -> res.Feedback:
    request = pb.AssignFeedbackRequest(name=name, assignee=assignee)
    return people.care.stub.AssignFeedback(request, metadata=who)


def reply(people: People, who: Metadata, name: str, text: str = "已安排现场核查。") -> None:
    people.care.stub.ReplyFeedback(pb.ReplyFeedbackRequest(name=name, text=text), metadata=who)


def resolve(people: People, who: Metadata, name: str) -> res.Feedback:
    request = pb.ResolveFeedbackRequest(name=name, resolution="表计已更换，多收电费已退还。")
    return people.care.stub.ResolveFeedback(request, metadata=who)


def handled(people: People, customer: str = "3100000001") -> tuple[str, Metadata, Metadata]:
    """Alice's feedback about `customer`, taken on by ql1 of QJ-QL: (name, alice, ql1)."""
    alice = people.customer("users/alice", customer)
    agent = people.agent("users/ql1", "QJ-QL")
    name = submit(people, alice, customer).name
    assign(people, agent, name, "users/me")
    return name, alice, agent


def test_the_author_hears_of_each_reply_and_of_the_resolution(
    feedback_care: People, secure_dir: Path, neighbours: Neighbours
) -> None:
    name, _, agent = handled(feedback_care)
    assert outbox(secure_dir, neighbours.notification, name) == []  # assigning says nothing
    reply(feedback_care, agent, name)
    reply(feedback_care, agent, name, "检测结果明日告知。")
    resolve(feedback_care, agent, name)

    messages = outbox(secure_dir, neighbours.notification, name)
    assert [m.template for m in messages] == [
        "feedback.replied",
        "feedback.replied",
        "feedback.resolved",
    ]
    for message in messages:
        assert list(message.users) == ["users/alice"]
        assert message.sender == "serviceAccounts/care"
        assert message.parameters["feedback"] == name.removeprefix("feedback/")
        # Alice has no phone or device: her in-app inbox only.
        assert message.stats.total_count == 1
    assert len({m.event for m in messages}) == 3


def test_without_the_notification_service_a_reply_is_refused_and_not_recorded(
    feedback_care: People, secure_dir: Path, neighbours: Neighbours, tmp_path: Path
) -> None:
    # Nothing listens on port 9 of the loopback: the connection is refused at once.
    care = start_care(
        secure_dir,
        f"sqlite:///{tmp_path / 'care.db'}",
        grpc_security="mtls",
        billing_target=neighbours.billing,
        account_target=neighbours.account,
        notification_target="127.0.0.1:9",
    )
    try:
        people = People(care)
        name, alice, agent = handled(people)
        error = fails(lambda: reply(people, agent, name))
        assert (error.code.name, error.reason) == ("UNAVAILABLE", "UPSTREAM_UNAVAILABLE")
        after = get(people, alice, name)
        assert after.state == res.FEEDBACK_STATE_ACCEPTED
        assert [e.action for e in after.history][-1] == res.FEEDBACK_ACTION_ASSIGNED
    finally:
        care.close()


def test_an_assignee_must_cover_the_feedbacks_office(feedback_care: People) -> None:
    name, _, agent = handled(feedback_care)
    elsewhere = fails(lambda: assign(feedback_care, agent, name, "users/zy1"))
    assert elsewhere.code.name == "FAILED_PRECONDITION"
    assert (elsewhere.metadata["field"], elsewhere.metadata["supplyOffice"]) == (
        "assignee",
        "QJ-QL",
    )
    for who, why in [
        ("users/nobody", "no such user"),
        ("users/gone", "the user is disabled"),
        ("users/bob", "not a staff member"),
    ]:
        refused = fails(lambda who=who: assign(feedback_care, agent, name, who))  # type: ignore[misc]
        assert refused.code.name == "INVALID_ARGUMENT"
        assert [(v.field, v.description) for v in refused.field_violations] == [("assignee", why)]
    assert assign(feedback_care, agent, name, "users/lead").assignee == "users/lead"
    assert assign(feedback_care, agent, name, "users/boss").assignee == "users/boss"


def test_feedback_about_no_office_goes_only_to_staff_covering_every_office(
    feedback_care: People,
) -> None:
    alice = feedback_care.customer("users/alice")
    boss = feedback_care.agent("users/boss", everywhere=True)
    name = submit(feedback_care, alice).name
    refused = fails(lambda: assign(feedback_care, boss, name, "users/lead"))
    assert (refused.code.name, refused.metadata["field"]) == ("FAILED_PRECONDITION", "assignee")
    assert assign(feedback_care, boss, name, "users/boss").state == res.FEEDBACK_STATE_ACCEPTED


@pytest.fixture
def worker(secure_dir: Path, feedback_care: People, tmp_path: Path) -> Iterator[Worker]:
    """A worker (not started: the tests run its job) calling the care server, with the
    care server's clock."""
    settings = Settings(
        data_dir=secure_dir,
        grpc_security="mtls",
        log_level="WARNING",
        care_target=f"127.0.0.1:{feedback_care.care.port}",
        worker_database_url=f"sqlite:///{tmp_path / 'worker.db'}",
    )
    config = WorkerConfig(call_timeout_seconds=10)
    runtime = open_runtime(settings, config)
    running = Worker(runtime, config, load_jobs(), feedback_care.care.clock)
    running.store.sync(running.schedules)
    try:
        yield running
    finally:
        runtime.close()


def test_the_daily_job_closes_feedback_resolved_seven_days_ago_and_left_unrated(
    feedback_care: People, worker: Worker
) -> None:
    clock = feedback_care.care.clock
    waiting, alice, agent = handled(feedback_care)
    resolve(feedback_care, agent, waiting)
    rated, _, _ = handled(feedback_care)
    resolve(feedback_care, agent, rated)
    feedback_care.care.stub.RateFeedback(
        pb.RateFeedbackRequest(name=rated, rating=4), metadata=alice
    )
    clock.advance(TICK)
    later, _, _ = handled(feedback_care)
    resolve(feedback_care, agent, later)

    clock.advance(timedelta(days=7) - 2 * TICK)
    assert worker.run_now("care.close-resolved") == (
        OK,
        "0 resolved feedback closed, 0 still due",
    )
    clock.advance(TICK)
    assert worker.run_now("care.close-resolved") == (
        OK,
        "1 resolved feedback closed, 0 still due",
    )
    closed = get(feedback_care, alice, waiting)
    assert closed.state == res.FEEDBACK_STATE_CLOSED
    assert closed.close_time.ToDatetime(tzinfo=clock.now().tzinfo) == clock.now()
    last = closed.history[-1]
    assert (last.action, last.actor) == (res.FEEDBACK_ACTION_CLOSED, "serviceAccounts/worker")
    assert last.text == "已办结7天未评价，系统自动关闭"
    assert get(feedback_care, alice, later).state == res.FEEDBACK_STATE_RESOLVED
    assert get(feedback_care, alice, rated).rating == 4


def test_the_close_rpc_works_in_batches_and_is_internal(
    feedback_care: People, worker: Worker
) -> None:
    names = []
    for _ in range(3):
        name, _, agent = handled(feedback_care)
        resolve(feedback_care, agent, name)
        names.append(name)
    feedback_care.care.clock.advance(timedelta(days=8))
    stub = care_service_pb2_grpc.CareServiceStub(worker.runtime.channel("care"))
    first = stub.CloseResolvedFeedback(pb.CloseResolvedFeedbackRequest(max_feedback=2))
    assert (first.closed_count, first.remaining_count) == (2, 1)
    rest = stub.CloseResolvedFeedback(pb.CloseResolvedFeedbackRequest())
    assert (rest.closed_count, rest.remaining_count) == (1, 0)
    boss = feedback_care.agent("users/boss", everywhere=True)
    with pytest.raises(grpc.RpcError) as refused:
        feedback_care.care.stub.CloseResolvedFeedback(
            pb.CloseResolvedFeedbackRequest(), metadata=boss
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
