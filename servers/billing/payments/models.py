"""Tables of the payments part of billing, all named `payment*`.

They derive from the billing core's `BillingModel`, so they are part of the billing
service's metadata (and its migrations' autogenerate), but they reference the core's
tables by value only: the payments migration branch stays independent of the core's.
Money is integer fen, times aware UTC. States are stored by their proto names without
the enum prefix ("PENDING", "SUCCEEDED").
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Index, Text
from sqlmodel import Field

from palmgrid.billing.v1 import payment_pb2
from servers.billing.models import BillingModel
from servers.runtime import SYSTEM_CLOCK
from servers.runtime.columns import AutoBigInt, UtcDateTime


class PaymentState(enum.StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CLOSED = "CLOSED"
    REFUNDED = "REFUNDED"

    @property
    def proto(self) -> int:
        return int(payment_pb2.PaymentState.Value(f"PAYMENT_STATE_{self.value}"))


class RefundState(enum.StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def proto(self) -> int:
        return int(payment_pb2.RefundState.Value(f"REFUND_STATE_{self.value}"))


class ProviderCall(enum.StrEnum):
    """What billing knows of its order (or refund) request at the provider."""

    # Not sent yet, or sent without an answer: the provider may or may not have it.
    UNCONFIRMED = "UNCONFIRMED"
    # The provider took it.
    ACCEPTED = "ACCEPTED"
    # The provider refused it: nothing exists there.
    REJECTED = "REJECTED"


class RequestState(enum.StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


class PaymentOrigin(enum.StrEnum):
    # Made in the app through a provider: PalmGrid placed the order.
    APP = "APP"
    # Made elsewhere (counter, direct debit, banks), reported by the marketing system.
    EXTERNAL = "EXTERNAL"


class Payment(BillingModel, table=True):
    """A payment to a customer's account. For app payments `id` is also the provider's
    `out_trade_no`, so an order can never be placed twice for one payment; recorded
    external payments keep the marketing system's receipt id."""

    __tablename__ = "payment"
    __table_args__ = (
        Index("ix_payment_customer", "customer_id", "create_time", "id"),
        Index("ix_payment_state", "state", "create_time"),
    )

    id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(max_length=10)
    amount_fen: int = Field(sa_type=BigInteger)
    channel: str = Field(max_length=16)
    origin: str = Field(default=PaymentOrigin.APP.value, max_length=16)
    # The provider the order is placed with ("wechatpay"); empty for external payments.
    provider: str = Field(default="", max_length=32)
    # The CreatePayment request_id that created it.
    request_id: str = Field(default="", max_length=64)
    state: str = Field(default=PaymentState.PENDING.value, max_length=16)
    provider_call: str = Field(default=ProviderCall.UNCONFIRMED.value, max_length=16)
    payer: str = Field(default="", max_length=128)
    prepay_id: str = Field(default="", max_length=64)
    checkout_payload: str = Field(default="", sa_type=Text)
    provider_order_id: str = Field(default="", max_length=64)
    failure_reason: str = Field(default="", max_length=64)
    refunded_fen: int = Field(default=0, sa_type=BigInteger)
    ledger_entry_id: int | None = Field(default=None, sa_type=BigInteger)
    create_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)
    # When a PENDING app payment is closed; None for external payments.
    expire_time: datetime | None = Field(default=None, sa_type=UtcDateTime)
    complete_time: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # When the provider was last asked about it (the resolver spaces its queries).
    check_time: datetime | None = Field(default=None, sa_type=UtcDateTime)
    update_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)

    @property
    def name(self) -> str:
        return f"customers/{self.customer_id}/payments/{self.id}"


class PaymentRequest(BillingModel, table=True):
    """An idempotency key: one row per (operation, request_id), claimed by inserting it
    in the transaction that records what the request creates."""

    __tablename__ = "payment_request"

    operation: str = Field(primary_key=True, max_length=32)
    request_id: str = Field(primary_key=True, max_length=64)
    # SHA-256 of the request body and caller: the same key with another body is refused.
    fingerprint: str = Field(max_length=64)
    # The resource the request created, `customers/…/payments/…`; empty for batches.
    resource: str = Field(default="", max_length=200)
    state: str = Field(default=RequestState.IN_PROGRESS.value, max_length=16)
    # What a completed request answered, when it is not just the resource (JSON).
    response: str = Field(default="", sa_type=Text)
    # Who holds an IN_PROGRESS request and until when; after that another request with
    # the same key may take it over and finish it.
    owner: str = Field(max_length=32)
    lease_until: datetime = Field(sa_type=UtcDateTime)
    create_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)
    update_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)


class Refund(BillingModel, table=True):
    """A refund of (part of) a succeeded payment; `id` is the provider's `out_refund_no`."""

    __tablename__ = "payment_refund"
    __table_args__ = (
        Index("ix_payment_refund_payment", "payment_id", "create_time"),
        Index("ix_payment_refund_state", "state", "create_time"),
    )

    id: str = Field(primary_key=True, max_length=32)
    payment_id: str = Field(max_length=64)
    customer_id: str = Field(max_length=10)
    amount_fen: int = Field(sa_type=BigInteger)
    reason: str = Field(max_length=500)
    state: str = Field(default=RefundState.PENDING.value, max_length=16)
    provider_call: str = Field(default=ProviderCall.UNCONFIRMED.value, max_length=16)
    provider_refund_id: str = Field(default="", max_length=64)
    failure_reason: str = Field(default="", max_length=64)
    requester: str = Field(default="", max_length=128)
    create_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)
    complete_time: datetime | None = Field(default=None, sa_type=UtcDateTime)
    check_time: datetime | None = Field(default=None, sa_type=UtcDateTime)

    @property
    def name(self) -> str:
        return f"customers/{self.customer_id}/payments/{self.payment_id}/refunds/{self.id}"


class ReconciliationReportRow(BillingModel, table=True):
    """One day's reconciliation (China Standard Time); channels and discrepancies are
    JSON lists (see servers.billing.payments.reconciliation)."""

    __tablename__ = "payment_reconciliation"

    day: str = Field(primary_key=True, max_length=10)
    state: str = Field(max_length=24)
    runner: str = Field(default="", max_length=128)
    # Which run this is; a run that finds a newer one started writes nothing.
    run_id: str = Field(max_length=32)
    start_time: datetime = Field(sa_type=UtcDateTime)
    complete_time: datetime | None = Field(default=None, sa_type=UtcDateTime)
    failure_message: str = Field(default="", max_length=1000)
    channels: str = Field(default="[]", sa_type=Text)
    discrepancy_count: int = Field(default=0)
    discrepancies: str = Field(default="[]", sa_type=Text)


class OutboxMessage(BillingModel, table=True):
    """A notification to send (an alert), written in the transaction of the event it
    reports and delivered to the notification service later, with retries."""

    __tablename__ = "payment_outbox"
    __table_args__ = (Index("ix_payment_outbox_due", "state", "next_attempt_time"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=AutoBigInt)
    # The notification service's idempotency key, derived from the event.
    request_id: str = Field(max_length=36, unique=True)
    customer_id: str = Field(max_length=10)
    template: str = Field(max_length=64)
    # JSON object of template parameters.
    parameters: str = Field(default="{}", sa_type=Text)
    target: str = Field(default="", max_length=256)
    state: str = Field(default="PENDING", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)
    last_error: str = Field(default="", max_length=500)
    create_time: datetime = Field(default_factory=SYSTEM_CLOCK.now, sa_type=UtcDateTime)
    sent_time: datetime | None = Field(default=None, sa_type=UtcDateTime)
