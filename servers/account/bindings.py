"""Binding customers (户号) to users.

A binding proves that the user holds the customer's registered phone: billing's
customer archive says whether the customer can be bound and gives the phone, a
one-time code goes to it (binding_codes.py, binding_notices.py), and attempts are
counted per user, per customer and per client address (binding_limits.py). Its answer
is the same "no" for an unknown customer, a closed one, one without a phone and a wrong
code. A user binds at most a few customers, and a customer has at most
`binding_users_per_customer` users.
"""

from __future__ import annotations

from datetime import timedelta

import grpc
from sqlalchemy import func
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
    NotFound,
    ResourceExhausted,
    Unavailable,
    downstream_call_options,
)


def customer_number(customer: str) -> str:
    """The 10-digit number of `customers/{number}`."""
    return customer.removeprefix("customers/")


def binding_name(user_id: str, customer: str) -> str:
    """`users/{user}/customerBindings/{number}`."""
    return f"users/{user_id}/customerBindings/{customer_number(customer)}"


def name_of(row: models.CustomerBinding) -> str:
    return binding_name(row.user_id, row.customer)


def to_proto(row: models.CustomerBinding) -> account_pb.CustomerBinding:
    message = account_pb.CustomerBinding(
        name=name_of(row), customer=row.customer, display_name=row.display_name
    )
    message.create_time.FromDatetime(row.create_time)
    return message


def load(session: Session, name: str) -> account_pb.CustomerBinding:
    """The binding `users/{user}/customerBindings/{number}`; NOT_FOUND when gone."""
    _, user_id, _, number = name.split("/")
    row = session.get(models.CustomerBinding, (user_id, f"customers/{number}"))
    if row is None:
        raise NotFound(f"{name} not found")
    return to_proto(row)


def count(session: Session, user_id: str) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(models.CustomerBinding)
            .where(models.CustomerBinding.user_id == user_id)
        ).one()
    )


def bound_users(session: Session, customer: str) -> list[str]:
    """The ids of the users bound to `customer`, in the order they bound it."""
    return list(
        session.exec(
            select(models.CustomerBinding.user_id)
            .where(models.CustomerBinding.customer == customer)
            .order_by(col(models.CustomerBinding.create_time))
        ).all()
    )


def check_can_bind(
    session: Session, user_id: str, customer: str, limit: int, users_per_customer: int
) -> None:
    """ALREADY_EXISTS when bound; QUOTA_EXCEEDED when the user has `limit` customers
    or the customer has `users_per_customer` users."""
    if session.get(models.CustomerBinding, (user_id, customer)) is not None:
        raise AlreadyExists(f"{customer} is already bound")
    if count(session, user_id) >= limit:
        raise ResourceExhausted(
            f"at most {limit} customers may be bound to one user", reason="QUOTA_EXCEEDED"
        )
    if len(bound_users(session, customer)) >= users_per_customer:
        raise ResourceExhausted(
            f"at most {users_per_customer} users may be bound to one customer",
            reason="QUOTA_EXCEEDED",
        )


def ask_billing(core: AccountCore, customer: str) -> billing_pb.VerifyCustomerBindingResponse:
    """Ask billing whether `customer` can be bound; when it can, the answer names the
    registered phone (where the code goes) and the supply office."""
    stub = billing_grpc.BillingInternalServiceStub(core.runtime.channel("billing"))
    # As the account service itself: the customer's own assertion does not carry the
    # permission to ask billing this.
    options = downstream_call_options(default_timeout=core.config.billing_timeout_seconds)
    try:
        reply = stub.VerifyCustomerBinding(
            billing_pb.VerifyCustomerBindingRequest(name=customer), **options.kwargs()
        )
    except grpc.RpcError as exc:
        raise Unavailable(
            "the customer archive cannot verify bindings right now",
            retry_after=timedelta(seconds=5),
        ) from exc
    answer: billing_pb.VerifyCustomerBindingResponse = reply
    return answer


def verification_failed() -> InvalidArgument:
    return InvalidArgument(
        "the verification is not a valid code for the customer",
        reason="VERIFICATION_FAILED",
        field_violations=[
            FieldViolation(
                "customerBinding.verification",
                "is not the code last sent to the customer's registered phone",
                "VERIFICATION_FAILED",
            )
        ],
    )
