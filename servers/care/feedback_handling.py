"""The handling of feedback: care staff assign, reply and resolve it; its author rates
or closes it (staff in scope may close it too, on the author's word). Each step is
checked against `feedback_workflow.TRANSITIONS` and appended to the history. An assignee
other than the caller must cover the feedback's office (`assignees`); a reply and the
resolution are told to the author (`author_notices`)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from palmgrid.care.v1 import care_service_pb2, resources_pb2
from palmgrid.type.v1 import identity_pb2
from servers.care import feedback_workflow
from servers.care.assignees import require_assignable
from servers.care.author_notices import notify_author
from servers.care.config import CareConfig
from servers.care.feedback_resources import feedback_id, feedback_resource
from servers.care.models import FeedbackRow
from servers.runtime import (
    Clock,
    NotFound,
    PermissionDenied,
    Runtime,
    in_supply_office_scope,
    require_principal,
)

Principal = identity_pb2.Principal


def _out_of_scope(what: str) -> PermissionDenied:
    return PermissionDenied(f"{what} is outside the caller's data scope", reason="OUT_OF_SCOPE")


def _load(session: Session, name: str) -> FeedbackRow:
    row = session.get(FeedbackRow, feedback_id(name), with_for_update=True)
    if row is None:
        raise NotFound(f"{name} not found")
    return row


def _staff_in_scope(caller: Principal, row: FeedbackRow, name: str) -> None:
    if not in_supply_office_scope(caller, row.supply_office):
        raise _out_of_scope(name)


class FeedbackHandlingMethods:
    """AssignFeedback, ReplyFeedback, ResolveFeedback, RateFeedback, CloseFeedback."""

    runtime: Runtime
    clock: Clock
    config: CareConfig

    def _step(
        self,
        session: Session,
        row: FeedbackRow,
        action: str,
        caller: Principal,
        text: str,
    ) -> resources_pb2.Feedback:
        feedback_workflow.record(
            session,
            row,
            action,
            actor=caller.user,
            actor_display_name=caller.username,
            text=text,
            now=self.clock.now(),
        )
        return feedback_resource(row, feedback_workflow.history(session, row.id))

    def _tell_author(self, row: FeedbackRow, action: str) -> None:
        # Inside the step's transaction: the step commits only once the message is queued.
        notify_author(self.runtime, row, action, timeout=self.config.upstream_timeout_seconds)

    def AssignFeedback(
        self, request: care_service_pb2.AssignFeedbackRequest, context: Any
    ) -> resources_pb2.Feedback:
        caller = require_principal()
        with self.runtime.session(write=True) as session:
            row = _load(session, request.name)
            _staff_in_scope(caller, row, request.name)
            if request.supply_office and request.supply_office != row.supply_office:
                if not in_supply_office_scope(caller, request.supply_office):
                    raise _out_of_scope(f"supply office {request.supply_office}")
                row.supply_office = request.supply_office
            if request.assignee == "users/me":
                # The caller's own offices were checked above, from their assertion.
                row.assignee = caller.user
            else:
                require_assignable(
                    self.runtime,
                    request.assignee,
                    row.supply_office,
                    timeout=self.config.upstream_timeout_seconds,
                )
                row.assignee = request.assignee
            return self._step(session, row, "ASSIGNED", caller, request.note)

    def ReplyFeedback(
        self, request: care_service_pb2.ReplyFeedbackRequest, context: Any
    ) -> resources_pb2.Feedback:
        caller = require_principal()
        with self.runtime.session(write=True) as session:
            row = _load(session, request.name)
            _staff_in_scope(caller, row, request.name)
            replied = self._step(session, row, "REPLIED", caller, request.text)
            self._tell_author(row, "REPLIED")
            return replied

    def ResolveFeedback(
        self, request: care_service_pb2.ResolveFeedbackRequest, context: Any
    ) -> resources_pb2.Feedback:
        caller = require_principal()
        with self.runtime.session(write=True) as session:
            row = _load(session, request.name)
            _staff_in_scope(caller, row, request.name)
            row.resolution = request.resolution
            row.resolve_time = self.clock.now()
            resolved = self._step(session, row, "RESOLVED", caller, request.resolution)
            self._tell_author(row, "RESOLVED")
            return resolved

    def RateFeedback(
        self, request: care_service_pb2.RateFeedbackRequest, context: Any
    ) -> resources_pb2.Feedback:
        caller = require_principal()
        with self.runtime.session(write=True) as session:
            row = _load(session, request.name)
            if row.author != caller.user:
                raise _out_of_scope(request.name)
            row.rating = request.rating
            row.rating_comment = request.comment
            return self._step(session, row, "RATED", caller, request.comment)

    def CloseFeedback(
        self, request: care_service_pb2.CloseFeedbackRequest, context: Any
    ) -> resources_pb2.Feedback:
        caller = require_principal()
        with self.runtime.session(write=True) as session:
            row = _load(session, request.name)
            if row.author != caller.user:
                _staff_in_scope(caller, row, request.name)
            return self._step(session, row, "CLOSED", caller, request.reason)
