"""Reading applications with their nodes and history."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from palmgrid.expansion.v1 import resources_pb2 as pb
from servers.expansion.models import ApplicationRow, EventRow, NodeRow
from servers.expansion.resources import APPLICATIONS, application_message
from servers.runtime import NotFound


def load_row(session: Session, name: str, *, lock: bool = False) -> ApplicationRow:
    """The application `name` (`applications/{id}`), locked for update with `lock`;
    NotFound when there is none."""
    row = session.get(ApplicationRow, APPLICATIONS.id(name), with_for_update=lock)
    if row is None:
        raise NotFound(f"{name} not found")
    return row


def nodes_of(session: Session, application_id: str) -> list[NodeRow]:
    query = select(NodeRow).where(NodeRow.application_id == application_id)
    return list(session.exec(query.order_by(col(NodeRow.seq))))


def messages(session: Session, rows: Sequence[ApplicationRow]) -> list[pb.Application]:
    """The applications of `rows` with their nodes and history, in the order given (two
    queries, not two per application)."""
    ids = [row.id for row in rows]
    if not ids:
        return []
    nodes: dict[str, list[NodeRow]] = {i: [] for i in ids}
    events: dict[str, list[EventRow]] = {i: [] for i in ids}
    node_query = select(NodeRow).where(col(NodeRow.application_id).in_(ids))
    for node in session.exec(node_query.order_by(col(NodeRow.seq))):
        nodes[node.application_id].append(node)
    event_query = select(EventRow).where(col(EventRow.application_id).in_(ids))
    for event in session.exec(event_query.order_by(col(EventRow.id))):
        events[event.application_id].append(event)
    return [application_message(row, nodes[row.id], events[row.id]) for row in rows]


def message(session: Session, row: ApplicationRow) -> pb.Application:
    return messages(session, [row])[0]
