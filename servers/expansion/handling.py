"""Moving applications on: staff of the application's supply office advance its
current node, send it back for missing documents, reject it or assign a handler; the
applicant (or staff) resumes a node sent back. The moves and their refusals are
`transitions`; the applicant hears of each move but a resume (`notices`); the audit
record of each call says what moved (`audit_note`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from palmgrid.account.v1 import resources_pb2 as user_pb
from palmgrid.expansion.v1 import expansion_service_pb2 as service_pb
from palmgrid.expansion.v1 import resources_pb2
from palmgrid.type.v1 import identity_pb2
from servers.expansion import transitions
from servers.expansion.config import ExpansionConfig
from servers.expansion.models import ApplicationRow, NodeRow
from servers.expansion.notices import tell_applicant
from servers.expansion.resources import node_kind_name
from servers.expansion.store import load_row, message, nodes_of
from servers.expansion.upstream import staff_user
from servers.runtime import (
    Clock,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
    Runtime,
    audit_note,
    in_supply_office_scope,
    require_principal,
    require_supply_office_scope,
)

Principal = identity_pb2.Principal
STAFF = identity_pb2.PRINCIPAL_KIND_STAFF


def _staff_in_scope(caller: Principal, row: ApplicationRow, name: str) -> None:
    if caller.kind == identity_pb2.PRINCIPAL_KIND_CUSTOMER or not in_supply_office_scope(
        caller, row.supply_office
    ):
        raise PermissionDenied(f"{name} is outside the caller's data scope", reason="OUT_OF_SCOPE")


class HandlingMethods:
    """AdvanceApplication, SendBackApplication, ResumeApplication, RejectApplication,
    AssignApplication."""

    runtime: Runtime
    clock: Clock
    config: ExpansionConfig

    def _move(
        self,
        name: str,
        action: str,
        note: str,
        *,
        allowed: Callable[[Principal, ApplicationRow], None],
        expected_node: int = 0,
        tell: bool = True,
    ) -> resources_pb2.Application:
        caller = require_principal()
        with self.runtime.session(write=True) as session:
            row = load_row(session, name, lock=True)
            allowed(caller, row)
            nodes = nodes_of(session, row.id)
            node = transitions.move(
                session,
                row,
                nodes,
                action,
                actor=caller.user,
                note=note,
                now=self.clock.now(),
                calendar=self.runtime.calendar,
                expected_node=node_kind_name(expected_node) if expected_node else "",
            )
            if action == "ADVANCED" and not node.handler:
                node.handler = caller.user
                session.add(node)
            session.flush()
            audit_note().details = {"action": action, "node": node.kind, "state": row.state}
            if tell:
                # The applicant reads where the application is now: the next node once
                # one is completed.
                now_at = next((n for n in nodes if n.seq == row.current_seq), node)
                tell_applicant(
                    self.runtime, row, now_at, action, timeout=self.config.upstream_timeout_seconds
                )
            return message(session, row)

    def _staff(self, name: str) -> Callable[[Principal, ApplicationRow], None]:
        return lambda caller, row: _staff_in_scope(caller, row, name)

    def AdvanceApplication(
        self, request: service_pb.AdvanceApplicationRequest, context: Any
    ) -> resources_pb2.Application:
        return self._move(
            request.name,
            "ADVANCED",
            request.note,
            allowed=self._staff(request.name),
            expected_node=request.node,
        )

    def SendBackApplication(
        self, request: service_pb.SendBackApplicationRequest, context: Any
    ) -> resources_pb2.Application:
        return self._move(
            request.name, "SENT_BACK", request.reason, allowed=self._staff(request.name)
        )

    def RejectApplication(
        self, request: service_pb.RejectApplicationRequest, context: Any
    ) -> resources_pb2.Application:
        return self._move(
            request.name, "REJECTED", request.reason, allowed=self._staff(request.name)
        )

    def ResumeApplication(
        self, request: service_pb.ResumeApplicationRequest, context: Any
    ) -> resources_pb2.Application:
        def applicant_or_staff(caller: Principal, row: ApplicationRow) -> None:
            require_supply_office_scope(caller, row.supply_office, creator=row.creator)

        return self._move(
            request.name, "RESUMED", request.note, allowed=applicant_or_staff, tell=False
        )

    def AssignApplication(
        self, request: service_pb.AssignApplicationRequest, context: Any
    ) -> resources_pb2.Application:
        caller = require_principal()
        handler = caller.user if request.handler == "users/me" else request.handler
        with self.runtime.session(write=True) as session:
            row = load_row(session, request.name, lock=True)
            _staff_in_scope(caller, row, request.name)
            nodes = nodes_of(session, row.id)
            current = transitions.current_node(row, nodes)
            wanted = node_kind_name(request.node) if request.node else current.kind
            node = self._assignable(nodes, wanted)
            if handler != caller.user:
                self._require_covering(handler, row.supply_office)
            node.handler = handler
            session.add(node)
            transitions.record(
                session, row, node.kind, "ASSIGNED", caller.user, handler, self.clock.now()
            )
            session.flush()
            audit_note().details = {"node": node.kind, "handler": handler}
            return message(session, row)

    def _assignable(self, nodes: list[NodeRow], kind: str) -> NodeRow:
        node = next((n for n in nodes if n.kind == kind), None)
        if node is None:
            raise InvalidArgument(
                f"the application's workflow has no {kind} node",
                field_violations=[FieldViolation("node", "not a node of this application")],
            )
        if node.state not in ("PENDING", "IN_PROGRESS", "WAITING_ON_CUSTOMER"):
            raise FailedPrecondition(
                f"the {kind} node is {node.state.lower()}",
                metadata={"rule": "NODE_CLOSED", "node": kind},
            )
        return node

    def _require_covering(self, handler: str, office: str) -> None:
        """Refuse a handler who is not active staff covering `office`."""
        user = staff_user(self.runtime, handler, timeout=self.config.upstream_timeout_seconds)
        if user is None or user.kind != STAFF:
            raise InvalidArgument(
                f"{handler} is not a staff member",
                field_violations=[FieldViolation("handler", "no staff member of that name")],
            )
        all_offices = user.supply_office_coverage == user_pb.SUPPLY_OFFICE_COVERAGE_ALL
        if not all_offices and office not in user.supply_offices:
            raise FailedPrecondition(
                f"{handler} does not cover supply office {office}",
                metadata={
                    "rule": "HANDLER_OUT_OF_SCOPE",
                    "field": "handler",
                    "supplyOffice": office,
                },
            )
