"""Complaint risks over real gRPC: care scores a constructed history from its own
feedback, billing's bills and arrears and the outage service's outages, alerts the
office's care managers once through the notification service, shows the scores to care
staff in scope only, and puts high-risk customers' and nearly-due feedback first in the
agents' work list. The worker's daily job drives the scoring."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta

import grpc
import pytest

from palmgrid.care.v1 import care_service_pb2 as care_pb
from palmgrid.care.v1 import care_service_pb2_grpc as care_grpc
from palmgrid.care.v1 import resources_pb2 as care_res
from servers.care import risk_demo
from servers.care.feedback_resources import kind_name
from servers.runtime.calendar import load_calendar
from tests.care.risk_support import START, RiskSystem, risk_system
from tests.care.support import fails
from tests.tester import TESTER

CRITICAL, HIGH, MEDIUM, LOW = (
    care_res.RISK_LEVEL_CRITICAL,
    care_res.RISK_LEVEL_HIGH,
    care_res.RISK_LEVEL_MEDIUM,
    care_res.RISK_LEVEL_LOW,
)
K = care_res.RiskReasonKind
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str
) -> Iterator[RiskSystem]:
    with risk_system(tmp_path_factory.mktemp("risks"), module_database_url) as system:
        yield system


@pytest.fixture
def system(running: RiskSystem) -> RiskSystem:
    return running.reset()


def stub_as(system: RiskSystem, account: str) -> care_grpc.CareServiceStub:
    """Care as `account`'s service account (mTLS certificate, no assertion)."""
    settings = system.care.runtime.settings
    credentials = settings.client_credentials(account)
    assert credentials is not None
    channel = grpc.secure_channel(f"127.0.0.1:{system.care.port}", credentials)
    return care_grpc.CareServiceStub(channel)


def construct_history(system: RiskSystem) -> None:
    """Customer 1 (A01, 麒麟) at START, against the rules of risk_rules.toml:
    - a complaint 48 h old still ACCEPTED (due after 24 h: overdue), a suggestion 5
      days old (an opinion, closed), an inquiry 20 h old (due in 4 h: about to breach)
      and a complaint 40 days old (outside the 30-day window);
    - outages in A01 3 and 12 days ago, and one 45 days ago (outside the window);
    - bills 100.00 120.00 110.00 90.00 100.00 130.00 yuan, then 168.00 yuan unpaid past
      its due date.
    Customer 2 (A02, 麒麟): a complaint 23 h old (due in 1 h). Customer 6 (A06, 沾益):
    a complaint 3 days old, closed."""
    system.add_feedback("3100000001", "COMPLAINT", 48, "ACCEPTED")
    system.add_feedback("3100000001", "SUGGESTION", 120, "CLOSED")
    system.add_feedback("3100000001", "INQUIRY", 20, "SUBMITTED")
    system.add_feedback("3100000001", "COMPLAINT", 40 * 24, "CLOSED")
    system.add_outage("A01", 3)
    system.add_outage("A01", 12)
    system.add_outage("A01", 45)
    system.add_bills(
        "3100000001", [10000, 12000, 11000, 9000, 10000, 13000, 16800], overdue_latest=True
    )
    system.add_feedback("3100000002", "COMPLAINT", 23, "SUBMITTED")
    system.add_feedback("3100000006", "COMPLAINT", 72, "CLOSED")


def scores(system: RiskSystem) -> dict[str, care_res.ComplaintRisk]:
    listed = system.care.stub.ListComplaintRisks(
        care_pb.ListComplaintRisksRequest(page_size=100), metadata=system.agent(everywhere=True)
    )
    return {r.subject: r for r in listed.complaint_risks}


def test_a_constructed_history_scores_as_computed_by_hand(system: RiskSystem) -> None:
    construct_history(system)
    outcome, message = system.worker.run_now("care.complaint-risks") or ("", "")
    assert outcome == "OK", message
    assert "3 customers and 2 supply offices scored" in message

    found = scores(system)
    first = found["customers/3100000001"]
    # complaints and opinions 2 → 25; contacts 3 → 10; overdue 1 → 20; about to breach
    # 1 → 10; outages in the area 2 → 10; latest bill 16800 against the median of the
    # six before it, (10000 + 11000) / 2 = 10500: ratio 1.6 → 10; one overdue bill → 5.
    assert first.score == 25 + 10 + 20 + 10 + 10 + 10 + 5 == 90
    assert first.level == CRITICAL
    assert first.supply_office == "QJ-QL" and first.customer == "customers/3100000001"
    assert first.model_version == "rules-2026.1"
    assert first.compute_time.ToDatetime(tzinfo=UTC) == START
    reasons = [(r.kind, r.points, dict(r.figures)) for r in first.reasons]
    assert reasons == [
        (K.RISK_REASON_KIND_REPEATED_COMPLAINTS, 25, {"complaints": 2, "windowDays": 30}),
        (K.RISK_REASON_KIND_OVERDUE_HANDLING, 20, {"overdueFeedback": 1}),
        (K.RISK_REASON_KIND_REPEATED_CONTACTS, 10, {"contacts": 3, "windowDays": 30}),
        (
            K.RISK_REASON_KIND_HANDLING_NEAR_DEADLINE,
            10,
            {"nearDeadlineFeedback": 1, "withinHours": 6},
        ),
        (K.RISK_REASON_KIND_REPEATED_OUTAGES, 10, {"areaOutages": 2, "windowDays": 30}),
        (
            K.RISK_REASON_KIND_BILL_SPIKE,
            10,
            {"billRatio": 1.6, "latestBillFen": 16800, "usualBillFen": 10500},
        ),
        (
            K.RISK_REASON_KIND_ARREARS_REMINDERS,
            5,
            {"arrearsReminders": 1, "overdueBills": 1, "arrearsAlerts": 0, "arrearsFen": 16800},
        ),
    ]
    assert first.reasons[5].description == "latest bill 16800 fen, 1.60 times the usual 10500 fen"

    # Customer 2: one complaint → 10, about to breach → 10. Customer 6: one complaint.
    assert (found["customers/3100000002"].score, found["customers/3100000002"].level) == (20, LOW)
    assert (found["customers/3100000006"].score, found["customers/3100000006"].level) == (10, LOW)
    # 麒麟: one customer at high risk or above → 20; 3 complaints (below 5) → 0; one
    # overdue → 10. 沾益: nothing that counts.
    office = found["supplyOffices/QJ-QL"]
    assert (office.score, office.level, office.customer) == (30, LOW, "")
    assert [r.kind for r in office.reasons] == [
        K.RISK_REASON_KIND_HIGH_RISK_CUSTOMERS,
        K.RISK_REASON_KIND_OVERDUE_HANDLING,
    ]
    assert found["supplyOffices/QJ-ZY"].score == 0


def test_a_rise_to_critical_alerts_the_office_managers_once(system: RiskSystem) -> None:
    construct_history(system)
    qilin, zhanyi = system.managers["mgrqilin"], system.managers["mgrzhanyi"]
    for _ in range(3):
        assert (system.worker.run_now("care.complaint-risks") or ("",))[0] == "OK"
        system.clock.advance(HOUR)
    deliveries = system.alerts_to(qilin)
    assert len(deliveries) == 1
    assert "户号3100000001" in deliveries[0].body and "90分" in deliveries[0].body
    assert system.alerts_to(zhanyi) == []

    # Handled: the overdue complaint is resolved, the score falls below critical; a
    # later rise is a new event and alerts again, once.
    # A scorer outside care (the tests' certificate) records a calmer score.
    stub = stub_as(system, TESTER)
    risk = scores(system)["customers/3100000001"]
    calmer = care_res.ComplaintRisk(subject=risk.subject, score=50, model_version="manual-1")
    calmer.compute_time.FromDatetime(system.clock.now())
    assert (
        stub.RecordComplaintRisk(care_pb.RecordComplaintRiskRequest(complaint_risk=calmer)).level
        == MEDIUM
    )
    system.clock.advance(HOUR)
    assert (system.worker.run_now("care.complaint-risks") or ("",))[0] == "OK"
    assert (system.worker.run_now("care.complaint-risks") or ("",))[0] == "OK"
    assert len(system.alerts_to(qilin)) == 2


def test_scoring_in_batches_reaches_every_customer_and_then_the_offices(
    system: RiskSystem,
) -> None:
    construct_history(system)
    stub = stub_as(system, "worker")
    first = stub.ScoreComplaintRisks(care_pb.ScoreComplaintRisksRequest(batch_size=2))
    assert (first.scored_count, first.done, first.office_count) == (2, False, 0)
    assert first.last_customer == "customers/3100000002"
    assert first.raised_count == 1 and first.notified_count == 1
    last = stub.ScoreComplaintRisks(
        care_pb.ScoreComplaintRisksRequest(batch_size=2, after_customer=first.last_customer)
    )
    assert (last.scored_count, last.done, last.office_count) == (1, True, 2)
    assert set(scores(system)) == {
        "customers/3100000001",
        "customers/3100000002",
        "customers/3100000006",
        "supplyOffices/QJ-QL",
        "supplyOffices/QJ-ZY",
    }


def test_staff_see_only_the_scores_of_their_offices(system: RiskSystem) -> None:
    construct_history(system)
    assert (system.worker.run_now("care.complaint-risks") or ("",))[0] == "OK"
    stub, qilin = system.care.stub, system.agent("QJ-QL")
    listed = stub.ListComplaintRisks(care_pb.ListComplaintRisksRequest(), metadata=qilin)
    assert [(r.subject, r.score) for r in listed.complaint_risks] == [
        ("customers/3100000001", 90),
        ("supplyOffices/QJ-QL", 30),
        ("customers/3100000002", 20),
    ]
    high = stub.ListComplaintRisks(
        care_pb.ListComplaintRisksRequest(min_score=70), metadata=qilin
    ).complaint_risks
    assert [r.subject for r in high] == ["customers/3100000001"]
    got = stub.GetComplaintRisk(care_pb.GetComplaintRiskRequest(name=high[0].name), metadata=qilin)
    assert got == high[0]

    outside = scores(system)["customers/3100000006"]
    refused = fails(
        lambda: stub.GetComplaintRisk(
            care_pb.GetComplaintRiskRequest(name=outside.name), metadata=qilin
        )
    )
    assert (refused.code, refused.reason) == (grpc.StatusCode.PERMISSION_DENIED, "OUT_OF_SCOPE")
    refused = fails(
        lambda: stub.ListComplaintRisks(
            care_pb.ListComplaintRisksRequest(supply_office="QJ-ZY"), metadata=qilin
        )
    )
    assert (refused.code, refused.reason) == (grpc.StatusCode.PERMISSION_DENIED, "OUT_OF_SCOPE")

    # Pages follow the order without repeating or skipping.
    seen, token = [], ""
    while True:
        page = stub.ListComplaintRisks(
            care_pb.ListComplaintRisksRequest(page_size=1, page_token=token), metadata=qilin
        )
        seen += [r.subject for r in page.complaint_risks]
        token = page.next_page_token
        if not token:
            break
    assert seen == [r.subject for r in listed.complaint_risks]


def test_agents_see_high_risk_and_nearly_due_feedback_first(system: RiskSystem) -> None:
    construct_history(system)
    # Customer 2's complaint is due in 1 hour; a fresh one of customer 2, in 23 hours.
    system.add_feedback("3100000002", "COMPLAINT", 1, "SUBMITTED")
    assert (system.worker.run_now("care.complaint-risks") or ("",))[0] == "OK"

    def work_list(page_size: int) -> list[tuple[str, str]]:
        seen, token = [], ""
        while True:
            page = system.care.stub.ListFeedback(
                care_pb.ListFeedbackRequest(
                    order_by="priority", page_size=page_size, page_token=token
                ),
                metadata=system.agent("QJ-QL"),
            )
            seen += [(f.customer[-2:], kind_name(f.kind)) for f in page.feedback]
            token = page.next_page_token
            if not token:
                return seen

    ordered = work_list(100)
    # Open feedback of the critical customer 1 first (overdue, then due in 4 h), then
    # customer 2's by due time (1 h, then 23 h), then what is closed.
    assert ordered[:4] == [
        ("01", "COMPLAINT"),
        ("01", "INQUIRY"),
        ("02", "COMPLAINT"),
        ("02", "COMPLAINT"),
    ]
    assert sorted(ordered[4:]) == [("01", "COMPLAINT"), ("01", "SUGGESTION")]
    assert work_list(1) == ordered
    default = system.care.stub.ListFeedback(
        care_pb.ListFeedbackRequest(), metadata=system.agent("QJ-QL")
    ).feedback
    assert [f.create_time.ToDatetime() for f in default] == sorted(
        (f.create_time.ToDatetime() for f in default), reverse=True
    )


def test_the_demo_feedback_gives_a_spread_of_levels(system: RiskSystem) -> None:
    with system.care.runtime.session(write=True) as session:
        risk_demo.seed_feedback(session, system.clock.now(), load_calendar())
    assert (system.worker.run_now("care.complaint-risks") or ("",))[0] == "OK"
    levels = {s: r.level for s, r in scores(system).items() if s.startswith("customers/")}
    # The demo histories of customers 1, 2 and 6 (billing here holds those three).
    assert levels == {
        "customers/3100000001": CRITICAL,
        "customers/3100000002": HIGH,
        "customers/3100000006": LOW,
    }
