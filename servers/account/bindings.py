"""Binding customers (户号) to users.

Billing's customer archive decides whether a verification (the last four digits of the
customer's registered phone) matches; its answer is the same "no" for an unknown
customer, a closed one and a wrong verification. Failed verifications are counted per
user within a window (AccountConfig), so customer numbers and phone digits cannot be
found by trying; past the limit the user must wait, and every failure is audited.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import grpc
from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from palmgrid.account.v1 import resources_pb2 as account_pb
from palmgrid.billing.v1 import billing_internal_service_pb2 as billing_pb
from palmgrid.billing.v1 import billing_internal_service_pb2_grpc as billing_grpc
from servers.account import models
from servers.account.core import AccountCore
from servers.runtime import (
    AlreadyExists,
    FieldViolation,
    InvalidArgument,
    ResourceExhausted,
    Unavailable,
    downstream_call_options,
)

# The form billing accepts; anything else cannot match and is not sent.
_VERIFICATION = re.compile(r"^[0-9A-Za-z]{4,18}$")


def name_of(row: models.CustomerBinding) -> str:
    return f"users/{row.user_id}/customerBindings/{row.customer.removeprefix('customers/')}"


def to_proto(row: models.CustomerBinding) -> account_pb.CustomerBinding:
    message = account_pb.CustomerBinding(
        name=name_of(row), customer=row.customer, display_name=row.display_name
    )
    message.create_time.FromDatetime(row.create_time)
    return message


def count(session: Session, user_id: str) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(models.CustomerBinding)
            .where(models.CustomerBinding.user_id == user_id)
        ).one()
    )


def recent_failures(session: Session, user_id: str, since: datetime) -> list[datetime]:
    rows = session.exec(
        select(models.BindingFailure.create_time)
        .where(
            col(models.BindingFailure.user_id) == user_id,
            col(models.BindingFailure.create_time) >= since,
        )
        .order_by(col(models.BindingFailure.create_time))
    ).all()
    return list(rows)


def check_attempt_allowed(core: AccountCore, session: Session, user_id: str, now: datetime) -> None:
    """RATE_LIMITED while the user has used up their failed verifications."""
    window = timedelta(seconds=core.config.binding_failure_window_seconds)
    failures = recent_failures(session, user_id, now - window)
    if len(failures) >= core.config.binding_failure_limit:
        raise ResourceExhausted(
            "too many failed binding verifications; try again later",
            reason="RATE_LIMITED",
            retry_after=failures[0] + window - now,
        )


def check_can_bind(session: Session, user_id: str, customer: str, limit: int) -> None:
    if session.get(models.CustomerBinding, (user_id, customer)) is not None:
        raise AlreadyExists(f"{customer} is already bound")
    if count(session, user_id) >= limit:
        raise ResourceExhausted(
            f"at most {limit} customers may be bound to one user", reason="QUOTA_EXCEEDED"
        )


def verify_with_billing(
    core: AccountCore, customer: str, verification: str
) -> billing_pb.VerifyCustomerBindingResponse:
    """Ask billing whether `verification` proves knowledge of `customer`; when it does,
    the answer also names the customer's supply office."""
    if not _VERIFICATION.match(verification):
        return billing_pb.VerifyCustomerBindingResponse(verified=False)
    stub = billing_grpc.BillingInternalServiceStub(core.runtime.channel("billing"))
    # As the account service itself: the customer's own assertion does not carry the
    # permission to ask billing this.
    options = downstream_call_options(default_timeout=core.config.billing_timeout_seconds)
    try:
        reply = stub.VerifyCustomerBinding(
            billing_pb.VerifyCustomerBindingRequest(name=customer, verification=verification),
            **options.kwargs(),
        )
    except grpc.RpcError as exc:
        raise Unavailable(
            "the customer archive cannot verify bindings right now",
            retry_after=timedelta(seconds=5),
        ) from exc
    verified: billing_pb.VerifyCustomerBindingResponse = reply
    return verified


def record_failure(session: Session, user_id: str, now: datetime, retention: timedelta) -> None:
    session.add(models.BindingFailure(user_id=user_id, create_time=now))
    session.execute(
        delete(models.BindingFailure).where(
            col(models.BindingFailure.user_id) == user_id,
            col(models.BindingFailure.create_time) < now - retention,
        )
    )


def verification_failed() -> InvalidArgument:
    return InvalidArgument(
        "the verification does not match the customer",
        reason="VERIFICATION_FAILED",
        field_violations=[
            FieldViolation(
                "customerBinding.verification",
                "does not match the customer's registered phone",
                "VERIFICATION_FAILED",
            )
        ],
    )
