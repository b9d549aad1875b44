"""Payment rows as API resources (`palmgrid.billing.v1` messages)."""

from __future__ import annotations

import json
from datetime import date, datetime

from palmgrid.billing.v1 import payment_pb2
from servers.billing.payments.models import (
    Payment,
    PaymentState,
    ReconciliationReportRow,
    Refund,
    RefundState,
)
from servers.runtime.protoconv import date_message, timestamp

CHANNEL_PREFIX = "PAYMENT_CHANNEL_"


def channel_name(value: int) -> str:
    """The stored channel name of a PaymentChannel value: "WECHAT_PAY"."""
    return payment_pb2.PaymentChannel.Name(value).removeprefix(CHANNEL_PREFIX)  # type: ignore[arg-type]


def channel_value(name: str) -> payment_pb2.PaymentChannel.ValueType:
    return payment_pb2.PaymentChannel.Value(CHANNEL_PREFIX + name)


def payment_resource(row: Payment, viewer: str | None) -> payment_pb2.Payment:
    """The payment as `viewer` ("users/…") sees it: the checkout payload only for its
    payer, and only while it is PENDING."""
    show_checkout = row.state == PaymentState.PENDING and viewer is not None and viewer == row.payer
    return payment_pb2.Payment(
        name=row.name,
        amount_fen=row.amount_fen,
        channel=channel_value(row.channel),
        state=PaymentState(row.state).proto,  # type: ignore[arg-type]
        provider_order_id=row.provider_order_id,
        checkout_payload=row.checkout_payload if show_checkout else "",
        failure_reason=row.failure_reason,
        refunded_fen=row.refunded_fen,
        payer=row.payer,
        create_time=timestamp(row.create_time),
        complete_time=timestamp(row.complete_time),
        expire_time=timestamp(row.expire_time),
    )


def refund_resource(row: Refund) -> payment_pb2.Refund:
    return payment_pb2.Refund(
        name=row.name,
        amount_fen=row.amount_fen,
        reason=row.reason,
        state=RefundState(row.state).proto,  # type: ignore[arg-type]
        provider_refund_id=row.provider_refund_id,
        failure_reason=row.failure_reason,
        requester=row.requester,
        create_time=timestamp(row.create_time),
        complete_time=timestamp(row.complete_time),
    )


def report_resource(row: ReconciliationReportRow) -> payment_pb2.ReconciliationReport:
    channels = [
        payment_pb2.ChannelReconciliation(
            **{
                **item,
                "channel": channel_value(item["channel"]),
                "statement_time": timestamp(datetime.fromisoformat(item["statement_time"])),
            }
        )
        for item in json.loads(row.channels)
    ]
    discrepancies = [
        payment_pb2.ReconciliationDiscrepancy(
            **{
                **item,
                "kind": payment_pb2.DiscrepancyKind.Value(f"DISCREPANCY_KIND_{item['kind']}"),
                "channel": channel_value(item["channel"]),
            }
        )
        for item in json.loads(row.discrepancies)
    ]
    return payment_pb2.ReconciliationReport(
        name=f"reconciliationReports/{row.day}",
        report_date=date_message(date.fromisoformat(row.day)),
        state=payment_pb2.ReconciliationState.Value(f"RECONCILIATION_STATE_{row.state}"),
        channels=channels,
        discrepancy_count=row.discrepancy_count,
        discrepancies=discrepancies,
        failure_message=row.failure_message,
        runner=row.runner,
        start_time=timestamp(row.start_time),
        complete_time=timestamp(row.complete_time),
    )
