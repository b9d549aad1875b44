"""Deadline reminders of connection nodes: when a configured share of a running node's
limit has passed (by default 50% and 80%: `PALMGRID_EXPANSION_REMINDER_PERCENTS`) and
when it is overdue, the staff responsible are told: the node's handler, else the
connection staff (role `expander`) covering the application's office.

Each reminder is claimed by inserting its row in `expansion_reminders` (primary key:
application, node, mark) in the transaction that queues its message, so of two workers
running at once exactly one sends it: the other's insert conflicts and it moves on.
The message's request id is derived from the same key, so even a commit lost after
the message was queued sends nothing twice. A node waiting on the customer has no
running clock and is not reminded; resumed, its marks are measured from its moved
start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from servers.expansion.config import ExpansionConfig
from servers.expansion.limits import limit_span
from servers.expansion.models import ApplicationRow, NodeRow, ReminderRow
from servers.expansion.notices import remind_staff
from servers.expansion.upstream import office_staff
from servers.runtime import Clock, Runtime

log = logging.getLogger("palmgrid.expansion")

OVERDUE = "OVERDUE"
STAFF_ROLE = "roles/expander"


@dataclass(frozen=True)
class Due:
    """A reminder whose moment has passed: of node `seq` of application `application_id`."""

    application_id: str
    seq: int
    mark: str


def due_marks(node: NodeRow, percents: tuple[int, ...], now: datetime) -> list[str]:
    """The marks of running `node` whose moment has passed at `now`: a percent as text
    ("50") once that share of its limit is spent, OVERDUE once its due time has come."""
    assert node.start_time is not None and node.due_time is not None
    begin = node.start_time + timedelta(seconds=node.paused_seconds)
    span = limit_span(node)
    marks = [str(p) for p in percents if begin + span * p / 100 <= now]
    if node.due_time <= now:
        marks.append(OVERDUE)
    return marks


@dataclass(frozen=True)
class Sent:
    """How many reminders one run sent."""

    shares: int = 0
    overdue: int = 0


class Reminders:
    """The reminder run of one expansion process."""

    def __init__(self, runtime: Runtime, clock: Clock, config: ExpansionConfig) -> None:
        self.runtime = runtime
        self.clock = clock
        self.config = config

    def _candidates(self, now: datetime) -> list[Due]:
        """Every reminder due and not yet sent, the earliest due node first."""
        with self.runtime.session() as session:
            query = (
                select(ApplicationRow, NodeRow)
                .join(NodeRow, col(NodeRow.application_id) == col(ApplicationRow.id))
                .where(
                    col(ApplicationRow.state) == "IN_PROGRESS",
                    col(ApplicationRow.current_due_time).is_not(None),
                    col(NodeRow.seq) == col(ApplicationRow.current_seq),
                )
                .order_by(col(ApplicationRow.current_due_time), col(ApplicationRow.id))
            )
            wanted: list[Due] = []
            for application, node in session.exec(query):
                for mark in due_marks(node, self.config.reminder_percents, now):
                    wanted.append(Due(application.id, node.seq, mark))
            if not wanted:
                return []
            sent = {
                (r.application_id, r.seq, r.mark)
                for r in session.exec(
                    select(ReminderRow).where(
                        col(ReminderRow.application_id).in_({d.application_id for d in wanted})
                    )
                )
            }
        return [d for d in wanted if (d.application_id, d.seq, d.mark) not in sent]

    def _send(self, due: Due, now: datetime) -> bool:
        """Claim and send one reminder; False when another run has it (or the node
        moved on meanwhile)."""
        timeout = self.config.upstream_timeout_seconds
        try:
            with self.runtime.session(write=True) as session:
                if session.get(ReminderRow, (due.application_id, due.seq, due.mark)):
                    return False
                session.add(
                    ReminderRow(
                        application_id=due.application_id, seq=due.seq, mark=due.mark, send_time=now
                    )
                )
                session.flush()
                application = session.get(ApplicationRow, due.application_id)
                node = session.exec(
                    select(NodeRow).where(
                        NodeRow.application_id == due.application_id, NodeRow.seq == due.seq
                    )
                ).one()
                if application is None or node.state != "IN_PROGRESS":
                    return False
                users = (
                    [node.handler]
                    if node.handler
                    else office_staff(
                        self.runtime, application.supply_office, STAFF_ROLE, timeout=timeout
                    )
                )
                if not users:
                    log.warning(
                        "no connection staff to remind",
                        extra={"supply_office": application.supply_office},
                    )
                    return False
                remind_staff(self.runtime, application, node, due.mark, users, timeout=timeout)
                return True
        except IntegrityError:
            # Another worker claimed it between our look and our insert.
            return False

    def run(self) -> Sent:
        """Send every reminder the clock has made due; Unavailable (what was sent stays
        sent) when account or notification cannot be reached."""
        now = self.clock.now()
        shares = overdue = 0
        for due in self._candidates(now):
            if self._send(due, now):
                if due.mark == OVERDUE:
                    overdue += 1
                else:
                    shares += 1
        return Sent(shares, overdue)
