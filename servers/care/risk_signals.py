"""The figures the risk model scores, gathered for a batch of customers and for every
supply office.

Care's own feedback tables give complaints, contacts, ratings and deadlines; billing
(ListCustomerBillingSignals, one page per batch) gives the customers, their bills and
arrears; the outage service (ListAreaOutages, one paged call per batch for all its
areas) gives the outages in their areas. Nothing is asked per customer.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import grpc
from sqlmodel import Session, col, func, or_, select

from palmgrid.billing.v1 import billing_internal_service_pb2 as billing_pb
from palmgrid.billing.v1 import billing_internal_service_pb2_grpc as billing_grpc
from palmgrid.outage.v1 import outage_service_pb2 as outage_pb
from palmgrid.outage.v1 import outage_service_pb2_grpc as outage_grpc
from palmgrid.outage.v1 import resources_pb2 as outage_resources
from servers.care.models import ComplaintRiskRow, FeedbackRow, FeedbackState
from servers.care.risk_model import RiskRules
from servers.runtime import Runtime, Unavailable, downstream_call_options
from servers.runtime.protoconv import timestamp

UPSTREAM_TIMEOUT_SECONDS = 10.0
OPEN_STATES = (
    FeedbackState.SUBMITTED.value,
    FeedbackState.ACCEPTED.value,
    FeedbackState.IN_PROGRESS.value,
)
HIGH_LEVELS = ("HIGH", "CRITICAL")
# Outages that happened: started, whether restored yet or not.
HAPPENED = (outage_resources.OUTAGE_STATE_ACTIVE, outage_resources.OUTAGE_STATE_RESTORED)


@dataclass(frozen=True)
class CustomerFigures:
    """A customer of the batch with its figures."""

    customer: str
    supply_office: str
    figures: dict[str, float]


@dataclass(frozen=True)
class Window:
    """The moments the rules count from."""

    now: datetime
    start: datetime
    near_deadline: datetime

    @classmethod
    def of(cls, rules: RiskRules, now: datetime) -> Window:
        return cls(
            now=now,
            start=now - timedelta(days=rules.window_days),
            near_deadline=now + timedelta(hours=rules.near_deadline_hours),
        )


def upstream_unavailable(service: str) -> Unavailable:
    """UNAVAILABLE for a service care could not ask; nothing was changed."""
    return Unavailable(
        f"{service} cannot be reached right now; nothing was changed",
        reason="UPSTREAM_UNAVAILABLE",
        retry_after=timedelta(seconds=30),
    )


def billing_page(
    runtime: Runtime, rules: RiskRules, window: Window, after: str, size: int
) -> billing_pb.ListCustomerBillingSignalsResponse:
    """The next `size` active customers after `after` ("" for the first) with their
    bill signals, asked of billing as the care service."""
    stub = billing_grpc.BillingInternalServiceStub(runtime.channel("billing"))
    request = billing_pb.ListCustomerBillingSignalsRequest(
        page_size=size,
        after_customer=after,
        bill_count=rules.bill_history + 1,
        reminders_since_time=timestamp(window.start),
    )
    options = downstream_call_options(default_timeout=UPSTREAM_TIMEOUT_SECONDS)
    try:
        reply: billing_pb.ListCustomerBillingSignalsResponse = stub.ListCustomerBillingSignals(
            request, **options.kwargs()
        )
    except grpc.RpcError as error:
        raise upstream_unavailable("billing") from error
    return reply


def upstream_pages(service: str, fetch: Callable[[str, dict[str, Any]], Any]) -> Iterator[Any]:
    """Every page of a paged call to `service`: `fetch(page_token, call_kwargs)` returns
    one page. Each page has its own timeout, as care's own account; any failure is
    upstream_unavailable."""
    token = ""
    try:
        while True:
            options = downstream_call_options(default_timeout=UPSTREAM_TIMEOUT_SECONDS)
            page = fetch(token, options.kwargs())
            yield page
            token = page.next_page_token
            if not token:
                return
    except grpc.RpcError as error:
        raise upstream_unavailable(service) from error


def area_outages(runtime: Runtime, areas: Iterable[str], window: Window) -> Counter[str]:
    """How many outages happened in each of `areas` within the window."""
    wanted = sorted(set(areas))
    counts: Counter[str] = Counter()
    if not wanted:
        return counts
    stub = outage_grpc.OutageServiceStub(runtime.channel("outage"))

    def fetch(token: str, kwargs: dict[str, Any]) -> outage_pb.ListAreaOutagesResponse:
        request = outage_pb.ListAreaOutagesRequest(
            area_codes=wanted,
            states=HAPPENED,
            window_start_time=timestamp(window.start),
            window_end_time=timestamp(window.now),
            page_size=1000,
            page_token=token,
        )
        reply: outage_pb.ListAreaOutagesResponse = stub.ListAreaOutages(request, **kwargs)
        return reply

    for page in upstream_pages("the outage service", fetch):
        for outage in page.outages:
            counts.update(set(outage.area_codes) & set(wanted))
    return counts


def _bill_figures(amounts: Sequence[int], rules: RiskRules) -> dict[str, float]:
    """The latest bill against the median of those before it, when there are enough."""
    if len(amounts) < 1 + rules.bill_history_minimum:
        return {}
    usual = statistics.median(amounts[1 : 1 + rules.bill_history])
    if usual <= 0:
        return {}
    ratio = round(amounts[0] / usual, 2)
    return {"billRatio": ratio, "latestBillFen": amounts[0], "usualBillFen": round(usual)}


def _feedback_figures(
    session: Session, customers: Sequence[str], rules: RiskRules, window: Window
) -> dict[str, Counter[str]]:
    """Per customer: complaints, contacts and low ratings in the window; open feedback
    overdue and about to be."""
    query = select(FeedbackRow).where(
        col(FeedbackRow.customer).in_(customers),
        or_(col(FeedbackRow.create_time) >= window.start, col(FeedbackRow.state).in_(OPEN_STATES)),
    )
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for row in session.exec(query):
        figures = counts[row.customer]
        if row.create_time >= window.start:
            figures["contacts"] += 1
            figures["complaints"] += row.kind in rules.complaint_kinds
        rated = row.close_time or row.create_time
        if 0 < row.rating <= rules.low_rating and rated >= window.start:
            figures["lowRatings"] += 1
        if row.state in OPEN_STATES:
            figures["overdueFeedback"] += row.due_time < window.now
            figures["nearDeadlineFeedback"] += window.now <= row.due_time < window.near_deadline
    return counts


def customer_figures(
    session: Session,
    page: Sequence[billing_pb.CustomerBillingSignals],
    outages: Counter[str],
    rules: RiskRules,
    window: Window,
) -> list[CustomerFigures]:
    """The figures of each customer of a billing page."""
    feedback = _feedback_figures(session, [s.customer for s in page], rules, window)
    found = []
    for signals in page:
        figures: dict[str, float] = {
            "windowDays": rules.window_days,
            "withinHours": rules.near_deadline_hours,
            "areaOutages": outages.get(signals.area_code, 0),
            "overdueBills": signals.overdue_bill_count,
            "arrearsAlerts": signals.arrears_reminder_count,
            "arrearsReminders": signals.overdue_bill_count + signals.arrears_reminder_count,
            "arrearsFen": signals.arrears_fen,
            **_bill_figures(list(signals.recent_bill_amounts_fen), rules),
            **feedback.get(signals.customer, {}),
        }
        found.append(CustomerFigures(signals.customer, signals.supply_office, figures))
    return found


def office_figures(
    session: Session, rules: RiskRules, window: Window
) -> dict[str, dict[str, float]]:
    """The figures of every supply office with scored customers or feedback."""
    offices: dict[str, dict[str, float]] = defaultdict(
        lambda: {"windowDays": rules.window_days, "highRiskCustomers": 0}
    )
    customers = col(ComplaintRiskRow.subject).startswith("customers/")
    for office, level, count in session.exec(
        select(ComplaintRiskRow.supply_office, ComplaintRiskRow.level, func.count())
        .where(customers)
        .group_by(col(ComplaintRiskRow.supply_office), col(ComplaintRiskRow.level))
    ):
        offices[office]["highRiskCustomers"] += count if level in HIGH_LEVELS else 0
    for office, count in session.exec(
        select(FeedbackRow.supply_office, func.count())
        .where(
            col(FeedbackRow.kind).in_(rules.complaint_kinds),
            col(FeedbackRow.create_time) >= window.start,
        )
        .group_by(col(FeedbackRow.supply_office))
    ):
        offices[office]["complaints"] = count
    for office, count in session.exec(
        select(FeedbackRow.supply_office, func.count())
        .where(col(FeedbackRow.state).in_(OPEN_STATES), col(FeedbackRow.due_time) < window.now)
        .group_by(col(FeedbackRow.supply_office))
    ):
        offices[office]["overdueFeedback"] = count
    offices.pop("", None)
    return dict(offices)
