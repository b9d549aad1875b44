"""The dev profile's complaint-risk demo: the feedback histories of
`demo_feedback.toml`, and a first scoring over the demo data so `./dev up` shows a
spread of levels before the worker's daily run.

The feedback is added like the other demo rows (only what is missing). The first
scoring runs on a background thread, only while no customer has a score, and waits for
billing and the outage service to come up (they start beside care); it gives up after
`FIRST_SCORING_ATTEMPTS` and stops when the service closes.
"""

from __future__ import annotations

import logging
import threading
import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from servers.care import feedback_workflow
from servers.care.commitments import due_time
from servers.care.models import ComplaintRiskRow, FeedbackRow, FeedbackState
from servers.care.risk_alerts import Managers
from servers.care.risk_scoring import DEFAULT_BATCH, score_batch
from servers.runtime import Clock, DomainError, Runtime
from servers.runtime.background import start_background
from servers.runtime.calendar import WorkingCalendar

log = logging.getLogger("palmgrid.care")

FEEDBACK_FILE = Path(__file__).resolve().parent / "demo_feedback.toml"
DEMO_AUTHOR = "users/demo-hotline"
FIRST_SCORING_ATTEMPTS = 60
FIRST_SCORING_PAUSE_SECONDS = 3.0
# The event that leaves demo feedback in its state (none for SUBMITTED).
_LAST_STEP = {
    FeedbackState.ACCEPTED: "ASSIGNED",
    FeedbackState.IN_PROGRESS: "REPLIED",
    FeedbackState.CLOSED: "CLOSED",
}


def feedback_rows(
    now: datetime, calendar: WorkingCalendar, path: Path = FEEDBACK_FILE
) -> list[FeedbackRow]:
    """The demo feedback as rows seeded at `now`, due by `calendar`."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    rows = []
    for history in data["histories"]:
        for index, item in enumerate(history["items"], start=1):
            created = now - timedelta(hours=item["hours_ago"])
            state = FeedbackState(item["state"])
            closed = created + timedelta(hours=12) if state is FeedbackState.CLOSED else None
            rows.append(
                FeedbackRow(
                    id=f"demo-{history['customer']}-{index}",
                    kind=item["kind"],
                    customer=f"customers/{history['customer']}",
                    content=data["texts"][item["kind"]],
                    state=state.value,
                    author=DEMO_AUTHOR,
                    supply_office=history["office"],
                    due_time=due_time(item["kind"], created, calendar),
                    rating=item.get("rating", 0),
                    create_time=created,
                    update_time=closed or created,
                    resolve_time=closed,
                    close_time=closed,
                )
            )
    return rows


def seed_feedback(session: Session, now: datetime, calendar: WorkingCalendar) -> int:
    """Add the demo feedback that is missing, each with its history; how many added."""
    rows = feedback_rows(now, calendar)
    present = set(
        session.exec(select(FeedbackRow.id).where(col(FeedbackRow.id).in_([r.id for r in rows])))
    )
    missing = [r for r in rows if r.id not in present]
    for row in missing:
        session.add(row)
        session.flush()
        events: list[Any] = [
            feedback_workflow.event(row, "SUBMITTED", actor=DEMO_AUTHOR, actor_display_name="热线")
        ]
        step = _LAST_STEP.get(FeedbackState(row.state))
        if step is not None:
            events.append(
                feedback_workflow.event(row, step, actor=DEMO_AUTHOR, actor_display_name="热线")
            )
        session.add_all(events)
    session.flush()
    return len(missing)


def _scored(runtime: Runtime) -> bool:
    query = select(ComplaintRiskRow.id).where(
        col(ComplaintRiskRow.subject).startswith("customers/")
    )
    with runtime.session() as session:
        return session.exec(query.limit(1)).first() is not None


def _first_scoring(
    runtime: Runtime, clock: Clock, managers: Managers, stop: threading.Event
) -> None:
    after = ""
    for _ in range(FIRST_SCORING_ATTEMPTS):
        if stop.is_set():
            return
        try:
            while True:
                reply = score_batch(runtime, clock, managers, after=after, size=DEFAULT_BATCH)
                after = reply.last_customer
                if reply.done or stop.is_set():
                    log.info("demo complaint risks scored", extra={"model": reply.model_version})
                    return
        except DomainError as error:
            log.info("demo complaint risks wait for billing and outage", extra={"why": str(error)})
        stop.wait(FIRST_SCORING_PAUSE_SECONDS)


def seed_demo(runtime: Runtime, clock: Clock, managers: Managers) -> None:
    """Add the missing demo feedback, then score the demo data on a background thread
    unless customers have scores already."""
    with runtime.session(write=True) as session:
        added = seed_feedback(session, clock.now(), runtime.calendar)
    log.info("demo feedback ready", extra={"feedback_added": added})
    if _scored(runtime):
        return
    start_background(
        runtime, "care-demo-risks", lambda stop: _first_scoring(runtime, clock, managers, stop)
    )
