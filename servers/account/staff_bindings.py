"""AccountAdminService.VerifyCustomerBinding: a staff member binds a customer to a
customer user after checking the holder's identity at the counter, for a customer
without a registered phone or whose phone changed. The staff member must cover the
customer's supply office (as billing names it); the limits, the lock and the notices
are those of a binding by code (binding_commit.py), and one staff member binds at
most `binding_verifications_per_staff` customers a day (counted before billing is
asked, refusals included). The audit record keeps what was checked: the document's
type, a note and a keyed hash of its number (HMAC over the pepper), never the number."""

from __future__ import annotations

import grpc
from sqlmodel import Session

from palmgrid.account.v1 import account_admin_service_pb2 as admin_service_pb
from palmgrid.account.v1 import resources_pb2 as account_pb
from servers.account import binding_commit, binding_limits, bindings, models, scope, users
from servers.account.core import AccountCore
from servers.runtime import (
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    audit_note,
    require_principal,
)
from servers.runtime.idempotency import IdempotentRequest


def _check_covers(office: str) -> None:
    principal = require_principal()
    if principal.all_supply_offices or office in principal.supply_offices:
        return
    raise PermissionDenied(
        "the customer's supply office is outside the caller's scope", reason="OUT_OF_SCOPE"
    )


def _customer_user(session: Session, parent: str) -> str:
    user_id = parent.removeprefix("users/")
    user = session.get(models.User, user_id)
    if user is None:
        raise NotFound(f"{parent} not found")
    if user.kind != users.CUSTOMER:
        raise FailedPrecondition(f"{parent} is not a customer user", reason="NOT_A_CUSTOMER")
    _check_user_in_scope(session, parent, user_id)
    return user_id


def _check_user_in_scope(session: Session, parent: str, user_id: str) -> None:
    """A user already bound elsewhere belongs to those customers' offices: binding them
    to one more customer would make them, their sessions and inbox readable here, so it
    takes a staff member who could read them already. Unbound users belong to no office."""
    principal = require_principal()
    if principal.all_supply_offices:
        return
    offices = scope.offices_of(session, user_id)
    if offices.listed and not offices.listed <= set(principal.supply_offices):
        raise PermissionDenied(
            f"{parent} is bound to customers outside the caller's scope", reason="OUT_OF_SCOPE"
        )


class StaffBindingMethods:
    core: AccountCore

    def VerifyCustomerBinding(
        self, request: admin_service_pb.VerifyCustomerBindingRequest, context: grpc.ServicerContext
    ) -> account_pb.CustomerBinding:
        customer = request.customer
        note = audit_note()
        note.resource = f"{request.parent}/customerBindings/{bindings.customer_number(customer)}"
        note.details["documentType"] = admin_service_pb.IdentityDocumentType.Name(
            request.evidence.document_type
        )
        if request.evidence.note:
            note.details["evidenceNote"] = request.evidence.note
        note.details["documentDigest"] = self.core.hasher.keyed_digest(
            "identity-document", request.evidence.document_number.upper()
        )
        key = IdempotentRequest.of(self.core.runtime, request, clock=self.core.clock)
        if key is not None:
            earlier = key.replay(self.core.runtime, bindings.load)
            if earlier is not None:
                return earlier
        with self.core.runtime.session() as session:
            user_id = _customer_user(session, request.parent)
        self._count_verification()
        answer = bindings.ask_billing(self.core, customer)
        # Billing names the office of every active customer, with or without a phone.
        if not answer.supply_office:
            raise NotFound(f"{customer} is not an active customer")
        _check_covers(answer.supply_office)
        now = self.core.now()
        with self.core.runtime.session(write=True) as session:
            made = binding_commit.bind(
                self.core,
                session,
                user_id=user_id,
                customer=customer,
                display_name=request.display_name,
                supply_office=answer.supply_office,
                registered_phone=answer.registered_phone,
                now=now,
            )
            if key is not None:
                key.remember(session, made.name, now)
            return made

    def _count_verification(self) -> None:
        """Count this binding against the staff member's daily limit, committed even
        when it is refused."""
        staff = require_principal().user.removeprefix("users/")
        with self.core.runtime.session(write=True) as session:
            refused = binding_limits.count_staff_verification(
                session, self.core.config, staff_user_id=staff, now=self.core.now()
            )
        if refused is not None:
            raise refused
