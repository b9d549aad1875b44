"""Deadline reminders of connection nodes: when a configured share of a running node's
limit has passed (by default 50% and 80%: `PALMGRID_EXPANSION_REMINDER_PERCENTS`) and
when it is overdue, the staff responsible are told: the node's handler, else the
connection staff (role `expander`) covering the application's office.

Each reminder is claimed by inserting its row in `expansion_reminders` (primary key:
application, node, mark) in the transaction that queues its message (the staff to
remind are looked up before it, once per office and run), so of two workers
running at once exactly one sends it: the other's insert conflicts and it moves on.
The message's request id is derived from the same key, so even a commit lost after
the message was queued sends nothing twice. A node waiting on the customer has no
running clock and is not reminded; resumed, its marks are measured from its moved
start.

A run reads only what is due: each application keeps `next_remind_time`, the moment
its current node's next mark comes (set to the node's start when it begins or
resumes, moved on by each run that looks at it, cleared when the clock stops), behind
an index.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
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
# Applications looked at per run; the rest wait for the next (a minute later).
APPLICATIONS_PER_RUN = 500


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


def next_mark_time(node: NodeRow, percents: tuple[int, ...], now: datetime) -> datetime | None:
    """The moment of running `node`'s first mark after `now` (None: all have passed)."""
    assert node.start_time is not None and node.due_time is not None
    begin = node.start_time + timedelta(seconds=node.paused_seconds)
    span = limit_span(node)
    moments = [begin + span * p / 100 for p in percents] + [node.due_time]
    later = [moment for moment in moments if moment > now]
    return min(later) if later else None


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

    def _looked_at(self, now: datetime) -> list[tuple[ApplicationRow, NodeRow]]:
        """The applications whose next reminder time has come (at most
        APPLICATIONS_PER_RUN, the earliest first), with their current node."""
        with self.runtime.session() as session:
            query = (
                select(ApplicationRow, NodeRow)
                .join(NodeRow, col(NodeRow.application_id) == col(ApplicationRow.id))
                .where(
                    col(ApplicationRow.next_remind_time) <= now,
                    col(ApplicationRow.current_due_time).is_not(None),
                    col(NodeRow.seq) == col(ApplicationRow.current_seq),
                )
                .order_by(col(ApplicationRow.next_remind_time), col(ApplicationRow.id))
                .limit(APPLICATIONS_PER_RUN)
            )
            return list(session.exec(query))

    def _unsent(self, looked_at: list[tuple[ApplicationRow, NodeRow]], now: datetime) -> list[Due]:
        """The reminders of `looked_at` that are due and not sent yet."""
        wanted = [
            Due(application.id, node.seq, mark)
            for application, node in looked_at
            for mark in due_marks(node, self.config.reminder_percents, now)
        ]
        if not wanted:
            return []
        with self.runtime.session() as session:
            sent = {
                (r.application_id, r.seq, r.mark)
                for r in session.exec(
                    select(ReminderRow).where(
                        col(ReminderRow.application_id).in_({d.application_id for d in wanted})
                    )
                )
            }
        return [d for d in wanted if (d.application_id, d.seq, d.mark) not in sent]

    def _reschedule(self, looked_at: list[tuple[ApplicationRow, NodeRow]], now: datetime) -> None:
        """Move each application looked at on to its node's next mark (None after the
        overdue one), unless a move changed it meanwhile."""
        table = ApplicationRow.__table__  # type: ignore[attr-defined]
        with self.runtime.session(write=True) as session:
            for application, node in looked_at:
                session.execute(
                    update(table)
                    .where(
                        table.c.id == application.id,
                        table.c.current_seq == node.seq,
                        table.c.next_remind_time == application.next_remind_time,
                    )
                    .values(
                        next_remind_time=next_mark_time(node, self.config.reminder_percents, now)
                    )
                )

    def _recipients(
        self, application: ApplicationRow, node: NodeRow, staff: dict[str, list[str]]
    ) -> list[str]:
        """The node's handler, else the office's connection staff (asked once per run
        and office, before any transaction)."""
        if node.handler:
            return [node.handler]
        office = application.supply_office
        if office not in staff:
            staff[office] = office_staff(
                self.runtime, office, STAFF_ROLE, timeout=self.config.upstream_timeout_seconds
            )
        return staff[office]

    def _send(self, due: Due, users: list[str], now: datetime) -> bool:
        """Claim and send one reminder to `users`; False when another run has it, the
        node moved on meanwhile, or nobody is there to remind."""
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
                if not users:
                    log.warning(
                        "no connection staff to remind",
                        extra={"supply_office": application.supply_office},
                    )
                    return False
                remind_staff(
                    self.runtime,
                    application,
                    node,
                    due.mark,
                    users,
                    timeout=self.config.upstream_timeout_seconds,
                )
                return True
        except IntegrityError:
            # Another worker claimed it between our look and our insert.
            return False

    def run(self) -> Sent:
        """Send every reminder the clock has made due; Unavailable (what was sent stays
        sent) when account or notification cannot be reached."""
        now = self.clock.now()
        shares = overdue = 0
        looked_at = self._looked_at(now)
        rows = {application.id: (application, node) for application, node in looked_at}
        staff: dict[str, list[str]] = {}
        for due in self._unsent(looked_at, now):
            users = self._recipients(*rows[due.application_id], staff)
            if self._send(due, users, now):
                if due.mark == OVERDUE:
                    overdue += 1
                else:
                    shares += 1
        self._reschedule(looked_at, now)
        return Sent(shares, overdue)
