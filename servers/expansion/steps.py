"""Steps the marketing system took on an application, recorded through ingest
(`ExpansionInternalService.RecordApplicationStep`): the application reached a node, or
completed. The earlier nodes are advanced by the real transitions (a node waiting on the
customer is resumed first), so the history, clocks and the applicant's message are the
same as when staff move it. A step is keyed by the application and its source time: one
not newer than the last recorded, or one the application is already past, changes
nothing."""

from __future__ import annotations

from sqlmodel import Session

from palmgrid.expansion.v1 import expansion_internal_service_pb2 as internal_pb
from servers.expansion import transitions
from servers.expansion.config import ExpansionConfig
from servers.expansion.models import ApplicationRow, NodeRow
from servers.expansion.notices import tell_applicant
from servers.expansion.store import load_row, message, nodes_of
from servers.runtime import (
    Clock,
    FieldViolation,
    InvalidArgument,
    Runtime,
    audit_note,
    require_principal,
)
from servers.runtime.protoconv import from_timestamp

COMPLETED = "COMPLETED"


def _target_seq(nodes: list[NodeRow], node: str) -> int:
    """The position the step reached: past the last node for COMPLETED."""
    if node == COMPLETED:
        return len(nodes) + 1
    found = next((n.seq for n in nodes if n.kind == node), None)
    if found is None:
        raise InvalidArgument(
            f"the application's workflow has no {node} node",
            field_violations=[FieldViolation("node", "not a node of this application")],
        )
    return found


class Steps:
    """RecordApplicationStep's work, on the service's runtime and clock."""

    def __init__(self, runtime: Runtime, clock: Clock, config: ExpansionConfig) -> None:
        self.runtime = runtime
        self.clock = clock
        self.config = config

    def record(
        self, request: internal_pb.RecordApplicationStepRequest
    ) -> internal_pb.RecordApplicationStepResponse:
        caller = require_principal()
        version = from_timestamp(request.source_update_time)
        with self.runtime.session(write=True) as session:
            row = load_row(session, request.application, lock=True)
            nodes = nodes_of(session, row.id)
            target = _target_seq(nodes, request.node)
            if row.source_step_time is not None and version <= row.source_step_time:
                return internal_pb.RecordApplicationStepResponse(
                    application=message(session, row), changed=False
                )
            if row.state == "REJECTED":
                transitions.current_node(row, nodes)  # refuses: APPLICATION_CLOSED
            moved = self._advance_to(session, row, nodes, target, caller.user, request.note)
            row.source_step_time = version
            session.add(row)
            session.flush()
            audit_note().details = {"node": request.node, "advanced": str(len(moved))}
            if moved:
                now_at = next((n for n in nodes if n.seq == row.current_seq), moved[-1])
                tell_applicant(
                    self.runtime,
                    row,
                    now_at,
                    "ADVANCED",
                    timeout=self.config.upstream_timeout_seconds,
                )
            return internal_pb.RecordApplicationStepResponse(
                application=message(session, row), changed=bool(moved)
            )

    def _advance_to(
        self,
        session: Session,
        row: ApplicationRow,
        nodes: list[NodeRow],
        target: int,
        actor: str,
        note: str,
    ) -> list[NodeRow]:
        """Advance the current node until the application is at `target`; the nodes
        completed."""
        moved: list[NodeRow] = []
        now = self.clock.now()
        calendar = self.runtime.calendar
        while row.state == "IN_PROGRESS" and row.current_seq < target:
            current = transitions.current_node(row, nodes)
            actions = ["ADVANCED"]
            if current.state == "WAITING_ON_CUSTOMER":
                # The marketing system went on past it: the wait is over.
                actions.insert(0, "RESUMED")
            for action in actions:
                transitions.move(
                    session, row, nodes, action, actor=actor, note=note, now=now, calendar=calendar
                )
            moved.append(current)
        return moved
