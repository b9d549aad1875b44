"""The node time limits in force: installed from `workflow.toml` at start (only the
ones missing, so administrators' edits stay), read when a node begins, and turned into
due times on the runtime's working-day calendar.

A node's clock stops while it waits on the customer; once resumed it runs on as if the
node had begun that much later, so the due time is the limit counted from the start
plus the time waited (`due_time`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from servers.expansion.models import ApplicationRow, NodeLimitRow, NodeRow
from servers.expansion.workflow import NodeDefault, limit_id, load_workflow
from servers.runtime import Runtime, WorkingCalendar


def _row(node: NodeDefault, now: datetime) -> NodeLimitRow:
    return NodeLimitRow(
        id=node.limit_id,
        application_kind=node.kind,
        node_kind=node.node,
        sequence=node.sequence,
        working_days=node.working_days,
        dual_supply_working_days=node.dual_supply_working_days,
        reminder_lead_seconds=node.reminder_lead_hours * 3600,
        update_time=now,
    )


def install_defaults(runtime: Runtime, now: datetime) -> None:
    """Add the limits of `workflow.toml` that are not in the table yet; a replica that
    raced this one to it has added them (IntegrityError: read again, retried once)."""
    for attempt in range(2):
        try:
            with runtime.session(write=True) as session:
                for node in load_workflow().all_nodes():
                    if session.get(NodeLimitRow, node.limit_id) is None:
                        session.add(_row(node, now))
            return
        except IntegrityError:
            if attempt:
                raise


def start_node(
    session: Session,
    application: ApplicationRow,
    node: NodeRow,
    now: datetime,
    calendar: WorkingCalendar,
) -> None:
    """Begin `node` of `application` at `now` with the limit in force for it."""
    limit = limit_of(session, application, node)
    assert limit is not None, "install_defaults runs before any application is filed"
    node.state = "IN_PROGRESS"
    node.start_time = now
    days = limit.working_days
    if application.dual_supply and limit.dual_supply_working_days:
        days = limit.dual_supply_working_days
    node.working_days = days
    node.time_limit_seconds = 0 if days else limit.time_limit_seconds
    node.due_time = due_time(node, calendar)
    application.current_seq = node.seq
    running(application, node, limit)


def running(application: ApplicationRow, node: NodeRow, limit: NodeLimitRow | None) -> None:
    """Keep `application`'s due-list columns in step with its running current `node`;
    the reminder run looks at it next from its (pause-shifted) start."""
    application.current_due_time = node.due_time
    lead = timedelta(seconds=limit.reminder_lead_seconds if limit else 0)
    assert node.due_time is not None and node.start_time is not None
    application.current_near_time = node.due_time - lead
    application.next_remind_time = node.start_time + timedelta(seconds=node.paused_seconds)


def stopped(application: ApplicationRow) -> None:
    """The current node's clock stopped (waiting on the customer, or closed)."""
    application.current_due_time = None
    application.current_near_time = None
    application.next_remind_time = None


def limit_of(session: Session, application: ApplicationRow, node: NodeRow) -> NodeLimitRow | None:
    """The limit in force for `node` of `application`."""
    return session.get(NodeLimitRow, limit_id(application.kind, node.kind))


def due_time(node: NodeRow, calendar: WorkingCalendar) -> datetime:
    """When `node` (begun) must be completed: its limit counted from its start moved on
    by the time already waited on the customer."""
    assert node.start_time is not None
    begin = node.start_time + timedelta(seconds=node.paused_seconds)
    if node.working_days:
        return calendar.deadline(begin, node.working_days)
    return begin + timedelta(seconds=node.time_limit_seconds)


def limit_span(node: NodeRow) -> timedelta:
    """The node's limit as calendar time, from its (pause-shifted) start to its due
    time: what reminder shares are taken of."""
    assert node.start_time is not None and node.due_time is not None
    return node.due_time - (node.start_time + timedelta(seconds=node.paused_seconds))
