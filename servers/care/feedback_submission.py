"""CreateFeedback: feedback from a customer or from staff on a customer's behalf.

The feedback is routed to a supply office: the customer's (from billing), else the
submitting staff member's first office; feedback from a customer about no customer
has none and is seen by staff covering every office. Its due time follows from its
kind (`feedback_commitments.toml`). A `request_id` makes the create idempotent per
author: a retry returns the feedback made first; the same id with other feedback is
ABORTED (IDEMPOTENCY_KEY_REUSED).
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from palmgrid.care.v1 import care_service_pb2, resources_pb2
from palmgrid.type.v1 import identity_pb2
from servers.care import feedback_workflow
from servers.care.commitments import due_time
from servers.care.customers import CustomerOffices
from servers.care.feedback_resources import feedback_resource, kind_name
from servers.care.models import FeedbackRow, FeedbackState
from servers.runtime import (
    Aborted,
    Clock,
    PermissionDenied,
    Runtime,
    Unimplemented,
    in_supply_office_scope,
    require_principal,
)
from servers.runtime.ids import new_id

CUSTOMER = identity_pb2.PRINCIPAL_KIND_CUSTOMER


def _request_hash(feedback: resources_pb2.Feedback) -> str:
    return hashlib.sha256(feedback.SerializeToString(deterministic=True)).hexdigest()


def _out_of_scope(customer: str) -> PermissionDenied:
    return PermissionDenied(f"{customer} is outside the caller's data scope", reason="OUT_OF_SCOPE")


def _photos(feedback: resources_pb2.Feedback) -> list[dict[str, str]]:
    if any(p.WhichOneof("source") == "data" for p in feedback.photos):
        # Inline images need the photo store, which is not built yet.
        raise Unimplemented("inline photos are not accepted yet; send their https uri")
    return [{"content_type": p.content_type, "uri": p.uri} for p in feedback.photos]


class FeedbackSubmissionMethods:
    """CreateFeedback."""

    runtime: Runtime
    clock: Clock
    customer_offices: CustomerOffices

    def _route(self, caller: identity_pb2.Principal, customer: str) -> str:
        """The supply office to handle feedback by `caller` about `customer` ("" for
        none); PERMISSION_DENIED when the customer is outside the caller's scope."""
        if not customer:
            if caller.kind == CUSTOMER or not caller.supply_offices:
                return ""
            return str(caller.supply_offices[0])
        if caller.kind == CUSTOMER and customer not in caller.customers:
            raise _out_of_scope(customer)
        office = self.customer_offices.supply_office(customer)
        if caller.kind != CUSTOMER and not in_supply_office_scope(caller, office):
            raise _out_of_scope(customer)
        return office

    def CreateFeedback(
        self, request: care_service_pb2.CreateFeedbackRequest, context: Any
    ) -> resources_pb2.Feedback:
        caller = require_principal()
        sent = request.feedback
        request_id = request.request_id or None
        digest = _request_hash(sent)
        if request_id is not None:
            earlier = self._earlier(caller.user, request_id, digest)
            if earlier is not None:
                return earlier
        photos = _photos(sent)
        office = self._route(caller, sent.customer)
        now = self.clock.now()
        kind = kind_name(sent.kind)
        row = FeedbackRow(
            id=new_id(),
            kind=kind,
            customer=sent.customer,
            content=sent.content,
            contact_name=sent.contact_name,
            contact_phone=sent.contact_phone,
            latitude=sent.location.latitude if sent.HasField("location") else None,
            longitude=sent.location.longitude if sent.HasField("location") else None,
            address=sent.address,
            photos=photos,
            state=FeedbackState.SUBMITTED.value,
            author=caller.user,
            supply_office=office,
            due_time=due_time(kind, now, self.runtime.calendar),
            request_id=request_id,
            request_hash=digest,
            create_time=now,
            update_time=now,
        )
        submitted = feedback_workflow.event(
            row, "SUBMITTED", actor=caller.user, actor_display_name=caller.username
        )
        try:
            with self.runtime.session(write=True) as session:
                session.add(row)
                session.flush()
                session.add(submitted)
                session.flush()
                return feedback_resource(row, [submitted])
        except IntegrityError:
            # A concurrent retry with the same request id got there first.
            if request_id is None:
                raise
            earlier = self._earlier(caller.user, request_id, digest)
            if earlier is None:
                raise
            return earlier

    def _earlier(self, author: str, request_id: str, digest: str) -> resources_pb2.Feedback | None:
        """The feedback `author` created with `request_id`, if any; ABORTED when it was
        created from other feedback."""
        with self.runtime.session() as session:
            row = _by_request(session, author, request_id)
            if row is None:
                return None
            if row.request_hash != digest:
                raise Aborted(
                    "request_id was used before with other feedback",
                    reason="IDEMPOTENCY_KEY_REUSED",
                    metadata={"requestId": request_id},
                )
            return feedback_resource(row, feedback_workflow.history(session, row.id))


def _by_request(session: Session, author: str, request_id: str) -> FeedbackRow | None:
    query = select(FeedbackRow).where(
        FeedbackRow.author == author, FeedbackRow.request_id == request_id
    )
    return session.exec(query).first()
