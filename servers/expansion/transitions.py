"""The moves of an application's current node, as a table, and their application.

Staff advance the current node (the next begins, or the application completes), send
it back to the customer (its clock pauses), resume it (its clock runs again, the due
time moved on by the wait) or reject the application at it. Anything else is refused
with FAILED_PRECONDITION, its ErrorInfo's `rule` naming the rule: a closed application
(APPLICATION_CLOSED), a move the node's state does not allow (NODE_WAITING_ON_CUSTOMER,
NODE_NOT_WAITING), or a stale call naming another node (NOT_CURRENT_NODE). Every move
is recorded with its actor and time (`expansion_events`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from servers.expansion.limits import due_time, limit_of, running, start_node, stopped
from servers.expansion.models import ApplicationRow, EventRow, NodeRow
from servers.runtime import FailedPrecondition, WorkingCalendar

# (the current node's state, the move) → the node's state after it.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("IN_PROGRESS", "ADVANCED"): "COMPLETED",
    ("IN_PROGRESS", "SENT_BACK"): "WAITING_ON_CUSTOMER",
    ("IN_PROGRESS", "REJECTED"): "REJECTED",
    ("WAITING_ON_CUSTOMER", "RESUMED"): "IN_PROGRESS",
    ("WAITING_ON_CUSTOMER", "REJECTED"): "REJECTED",
}
# Why a move is refused from a state that does not allow it.
_REFUSALS: dict[str, tuple[str, str]] = {
    "WAITING_ON_CUSTOMER": (
        "NODE_WAITING_ON_CUSTOMER",
        "the node waits on the customer; resume it first",
    ),
    "IN_PROGRESS": ("NODE_NOT_WAITING", "the node is not waiting on the customer"),
}


def current_node(application: ApplicationRow, nodes: list[NodeRow]) -> NodeRow:
    """The node being worked on; FAILED_PRECONDITION once the application is closed."""
    if application.state != "IN_PROGRESS":
        raise FailedPrecondition(
            f"the application is {application.state.lower()}; nothing more can be done",
            metadata={"rule": "APPLICATION_CLOSED", "state": application.state},
        )
    return next(n for n in nodes if n.seq == application.current_seq)


def record(
    session: Session,
    application: ApplicationRow,
    node: str,
    action: str,
    actor: str,
    note: str,
    now: datetime,
) -> None:
    """Append a move to the application's history and bump its version."""
    session.add(
        EventRow(
            application_id=application.id,
            action=action,
            node=node,
            actor=actor,
            note=note,
            time=now,
        )
    )
    application.version += 1
    application.update_time = now
    session.add(application)


@dataclass(frozen=True)
class _Move:
    """One move being made: what its effect needs."""

    session: Session
    application: ApplicationRow
    nodes: list[NodeRow]
    node: NodeRow
    note: str
    now: datetime
    calendar: WorkingCalendar


def move(
    session: Session,
    application: ApplicationRow,
    nodes: list[NodeRow],
    action: str,
    *,
    actor: str,
    note: str,
    now: datetime,
    calendar: WorkingCalendar,
    expected_node: str = "",
) -> NodeRow:
    """Make `action` on the current node (checked against TRANSITIONS) and record it;
    returns the node moved. `expected_node`, when given, must be the current node."""
    node = current_node(application, nodes)
    if expected_node and expected_node != node.kind:
        raise FailedPrecondition(
            f"the current node is {node.kind}, not {expected_node}",
            metadata={"rule": "NOT_CURRENT_NODE", "currentNode": node.kind},
        )
    after = TRANSITIONS.get((node.state, action))
    if after is None:
        rule, text = _REFUSALS[node.state]
        raise FailedPrecondition(text, metadata={"rule": rule, "nodeState": node.state})
    node.state = after
    _EFFECTS[action](_Move(session, application, nodes, node, note, now, calendar))
    for changed in nodes:
        session.add(changed)
    record(session, application, node.kind, action, actor, note, now)
    return node


def _close_wait(node: NodeRow, now: datetime) -> None:
    if node.pause_time is not None:
        node.paused_seconds += int((now - node.pause_time).total_seconds())
        node.pause_time = None


def _advanced(m: _Move) -> None:
    m.node.complete_time = m.now
    m.node.note = m.note
    following = [n for n in m.nodes if n.seq == m.node.seq + 1]
    if following:
        start_node(m.session, m.application, following[0], m.now, m.calendar)
        return
    m.application.state = "COMPLETED"
    m.application.current_seq = 0
    stopped(m.application)
    m.application.complete_time = m.now


def _sent_back(m: _Move) -> None:
    m.node.pause_time = m.now
    m.node.note = m.note
    stopped(m.application)


def _resumed(m: _Move) -> None:
    _close_wait(m.node, m.now)
    m.node.due_time = due_time(m.node, m.calendar)
    running(m.application, m.node, limit_of(m.session, m.application, m.node))


def _rejected(m: _Move) -> None:
    m.node.note = m.note
    m.node.complete_time = m.now
    _close_wait(m.node, m.now)
    for later in m.nodes:
        if later.seq > m.node.seq:
            later.state = "CANCELLED"
    m.application.state = "REJECTED"
    m.application.reject_reason = m.note
    m.application.current_seq = 0
    stopped(m.application)
    m.application.complete_time = m.now


_EFFECTS: dict[str, Callable[[_Move], None]] = {
    "ADVANCED": _advanced,
    "SENT_BACK": _sent_back,
    "RESUMED": _resumed,
    "REJECTED": _rejected,
}
