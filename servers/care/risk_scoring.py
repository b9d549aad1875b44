"""ScoreComplaintRisks and RecordComplaintRisk: computing and recording scores.

ScoreComplaintRisks scores one batch of customers (billing's page after
`after_customer`) with the rules of `risk_rules.toml`, records them, and on the last
batch scores every supply office from the customers' scores and care's feedback.
Afterwards it hands the alerts of scores that rose to the top level to the
notification service. Calling it again with the same cursor recomputes the same
scores: nothing is counted twice and no rise is announced twice.
"""

from __future__ import annotations

import logging
from typing import Any

from palmgrid.care.v1 import care_service_pb2, resources_pb2
from servers.care.customers import CustomerOffices
from servers.care.feedback_resources import feedback_id
from servers.care.models import FeedbackRow
from servers.care.risk_alerts import Managers, send_pending
from servers.care.risk_model import RiskRules, Score, load_rules
from servers.care.risk_resources import (
    OFFICE_PREFIX,
    office_subject,
    risk_resource,
    stored_reason,
)
from servers.care.risk_signals import (
    Window,
    area_outages,
    billing_page,
    customer_figures,
    office_figures,
)
from servers.care.risk_store import NewScore, record
from servers.runtime import Clock, NotFound, Runtime, Unavailable
from servers.runtime.protoconv import from_timestamp

log = logging.getLogger("palmgrid.care")

DEFAULT_BATCH = 500


def _new_score(
    rules: RiskRules, subject: str, customer: str, office: str, scored: Score, window: Window
) -> NewScore:
    return NewScore(
        subject=subject,
        customer=customer,
        supply_office=office,
        score=scored.score,
        level=scored.level,
        reasons=[r.stored() for r in scored.reasons],
        model_version=rules.model_version,
        compute_time=window.now,
    )


def score_batch(
    runtime: Runtime, clock: Clock, managers: Managers, *, after: str, size: int
) -> care_service_pb2.ScoreComplaintRisksResponse:
    """Score the `size` customers after `after` ("" for the first), and every supply
    office when they are the last; then hand over the pending alerts."""
    rules = load_rules()
    window = Window.of(rules, clock.now())
    page = billing_page(runtime, rules, window, after, size)
    outages = area_outages(runtime, (s.area_code for s in page.signals), window)
    raised = offices = 0
    with runtime.session(write=True) as session:
        for item in customer_figures(session, page.signals, outages, rules, window):
            scored = rules.score(rules.customer, item.figures)
            customer, office = item.customer, item.supply_office
            new = _new_score(rules, customer, customer, office, scored, window)
            raised += record(session, new, window.now).raised
    done = not page.next_page_token
    if done:
        with runtime.session(write=True) as session:
            for office, figures in office_figures(session, rules, window).items():
                scored = rules.score(rules.office, figures)
                new = _new_score(rules, office_subject(office), "", office, scored, window)
                raised += record(session, new, window.now).raised
                offices += 1
    notified = send_pending(runtime, managers, clock.now)
    return care_service_pb2.ScoreComplaintRisksResponse(
        scored_count=len(page.signals),
        office_count=offices,
        raised_count=raised,
        notified_count=notified,
        last_customer=page.signals[-1].customer if page.signals else after,
        done=done,
        model_version=rules.model_version,
    )


class RiskScoringMethods:
    """ScoreComplaintRisks, RecordComplaintRisk."""

    runtime: Runtime
    clock: Clock
    customer_offices: CustomerOffices
    risk_managers: Managers

    def ScoreComplaintRisks(
        self, request: care_service_pb2.ScoreComplaintRisksRequest, context: Any
    ) -> care_service_pb2.ScoreComplaintRisksResponse:
        return score_batch(
            self.runtime,
            self.clock,
            self.risk_managers,
            after=request.after_customer,
            size=request.batch_size or DEFAULT_BATCH,
        )

    def _owner(self, subject: str) -> tuple[str, str]:
        """The customer and supply office a subject belongs to."""
        if subject.startswith(OFFICE_PREFIX):
            return "", subject.removeprefix(OFFICE_PREFIX)
        if subject.startswith("customers/"):
            return subject, self.customer_offices.supply_office(subject)
        with self.runtime.session() as session:
            row = session.get(FeedbackRow, feedback_id(subject))
            if row is None:
                raise NotFound(f"{subject} not found")
            return row.customer, row.supply_office

    def RecordComplaintRisk(
        self, request: care_service_pb2.RecordComplaintRiskRequest, context: Any
    ) -> resources_pb2.ComplaintRisk:
        sent = request.complaint_risk
        customer, office = self._owner(sent.subject)
        reasons = sorted((stored_reason(r) for r in sent.reasons), key=lambda r: -r["points"])
        new = NewScore(
            subject=sent.subject,
            customer=customer,
            supply_office=office,
            score=sent.score,
            level=load_rules().level(sent.score),
            reasons=reasons,
            model_version=sent.model_version,
            compute_time=from_timestamp(sent.compute_time),
        )
        with self.runtime.session(write=True) as session:
            recorded = record(session, new, self.clock.now())
            resource = risk_resource(recorded.row)
        if recorded.raised:
            try:
                send_pending(self.runtime, self.risk_managers, self.clock.now)
            except Unavailable:
                # The alert stays pending; the next scoring call hands it over.
                log.warning("complaint-risk alert left pending", extra={"subject": sent.subject})
        return resource
