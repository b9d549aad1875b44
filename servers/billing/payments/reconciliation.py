"""The daily reconciliation: the provider's statement of a day against the ledger.

A day is China Standard Time. The provider side is its statement (succeeded payments
and refunds of the day); the PalmGrid side is the PAYMENT ledger entries of in-app
payments booked for the day (an entry's time is the provider's success time, so both
sides put a payment on the same day) and the refunds that succeeded that day. Every
record is matched by the provider's `out_trade_no` / `out_refund_no` (our ids):

- on the statement only: MISSING_IN_LEDGER (such as a lost callback not yet resolved);
- in PalmGrid only: MISSING_AT_PROVIDER;
- on both with different amounts: AMOUNT_MISMATCH;
- a refund on the statement that PalmGrid does not have as succeeded: STATE_MISMATCH.

RunReconciliation records the run as RUNNING and does the work on a background thread;
the report is then BALANCED, DISCREPANCIES_FOUND or FAILED (statement not available).
Running a day again replaces its report; a newer run makes an older one's result moot.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlmodel import col, select

from palmgrid.billing.v1 import billing_admin_service_pb2, payment_pb2
from palmgrid.type.v1 import identity_pb2
from servers.billing.models import LedgerEntry, LedgerEntryKind
from servers.billing.payments.models import (
    Payment,
    PaymentOrigin,
    ReconciliationReportRow,
    Refund,
    RefundState,
)
from servers.billing.payments.protocol import ProtocolError
from servers.billing.payments.provider import ProviderError
from servers.billing.payments.resources import channel_name
from servers.billing.payments.statement import PAYMENT, REFUND, StatementRecord
from servers.runtime import CHINA_STANDARD_TIME, Aborted, FailedPrecondition, NotFound, paging

if TYPE_CHECKING:
    from servers.billing.payments.service import PaymentService

log = logging.getLogger("palmgrid.payments.reconciliation")

PROVIDER_CHANNELS = ("WECHAT_PAY", "ALIPAY", "UNIONPAY")
# Statement lines no payment explains are put on the provider endpoint's own channel.
DEFAULT_CHANNEL = "WECHAT_PAY"
MAX_LISTED = 1000
# A RUNNING report older than this is taken to be from a run that died.
STALE_RUN = timedelta(minutes=10)


@dataclass
class ChannelTotals:
    channel: str
    provider_payment_count: int = 0
    provider_payment_fen: int = 0
    provider_refund_count: int = 0
    provider_refund_fen: int = 0
    ledger_payment_count: int = 0
    ledger_payment_fen: int = 0
    ledger_refund_count: int = 0
    ledger_refund_fen: int = 0
    matched_count: int = 0
    discrepancy_count: int = 0
    statement_time: str = ""


@dataclass
class Discrepancy:
    kind: str
    channel: str
    provider_order_id: str
    source: str
    provider_amount_fen: int
    ledger_amount_fen: int
    description: str


@dataclass
class Result:
    channels: dict[str, ChannelTotals]
    discrepancies: list[Discrepancy] = field(default_factory=list)

    def add(self, discrepancy: Discrepancy) -> None:
        self.discrepancies.append(discrepancy)
        self.channels[discrepancy.channel].discrepancy_count += 1


def day_of(name: str) -> date:
    """The day of `reconciliationReports/YYYY-MM-DD`; NotFound for an impossible date."""
    try:
        return date.fromisoformat(name.rsplit("/", 1)[-1])
    except ValueError:
        raise NotFound(f"{name} not found") from None


def start_run(
    service: PaymentService,
    request: billing_admin_service_pb2.RunReconciliationRequest,
    principal: identity_pb2.Principal,
) -> ReconciliationReportRow:
    """Record a new run of the day as RUNNING and start it in the background."""
    day = day_of(request.name)
    now = service.now()
    if day >= now.astimezone(CHINA_STANDARD_TIME).date():
        raise FailedPrecondition(f"{day} has not ended yet (China Standard Time)")
    channels = [channel_name(c) for c in request.channels] or list(PROVIDER_CHANNELS)
    run_id = secrets.token_hex(8)
    with service.runtime.session(write=True) as session:
        row = session.exec(
            select(ReconciliationReportRow)
            .where(ReconciliationReportRow.day == day.isoformat())
            .with_for_update()
        ).first()
        if row is not None and row.state == "RUNNING" and row.start_time > now - STALE_RUN:
            raise Aborted(f"a reconciliation of {day} is in progress", reason="REQUEST_IN_PROGRESS")
        row = row or ReconciliationReportRow(
            day=day.isoformat(), state="RUNNING", run_id="", start_time=now
        )
        row.state, row.run_id, row.runner = "RUNNING", run_id, principal.user
        row.start_time, row.complete_time, row.failure_message = now, None, ""
        row.channels, row.discrepancies, row.discrepancy_count = "[]", "[]", 0
        session.add(row)
    worker = threading.Thread(
        target=_run, args=(service, day, channels, run_id), name="reconciliation", daemon=True
    )
    worker.start()
    return row


def _run(service: PaymentService, day: date, channels: list[str], run_id: str) -> None:
    try:
        result = reconcile(service, day, channels)
    except (ProviderError, ProtocolError) as exc:
        _finish(service, day, run_id, None, f"the provider's statement is not available: {exc}")
    except Exception:
        log.exception("reconciliation failed", extra={"day": day.isoformat()})
        _finish(service, day, run_id, None, "internal error; the server log has the details")
    else:
        _finish(service, day, run_id, result, "")


def reconcile(service: PaymentService, day: date, channels: list[str]) -> Result:
    """Compare the provider's statement of `day` with the ledger, for `channels`."""
    statement_time = service.now().isoformat()
    records = service.provider.statement(day)
    start = datetime.combine(day, time(), CHINA_STANDARD_TIME).astimezone(UTC)
    end = start + timedelta(days=1)
    with service.runtime.session() as session:
        entries = session.exec(
            select(LedgerEntry.reference, LedgerEntry.amount_fen).where(
                LedgerEntry.kind == LedgerEntryKind.PAYMENT.value,
                LedgerEntry.occurred_at >= start,
                LedgerEntry.occurred_at < end,
            )
        ).all()
        ledger = {
            reference.rsplit("/", 1)[-1]: (reference, amount) for reference, amount in entries
        }
        wanted = set(ledger) | {r.out_trade_no for r in records}
        payments = {
            p.id: p for p in session.exec(select(Payment).where(col(Payment.id).in_(wanted))).all()
        }
        refunds = {
            r.id: r
            for r in session.exec(
                select(Refund).where(
                    Refund.state == RefundState.SUCCEEDED.value,
                    col(Refund.complete_time) >= start,
                    col(Refund.complete_time) < end,
                )
            ).all()
        }
        stated_refunds = [r.out_refund_no for r in records if r.kind == REFUND]
        refunds_stated = {
            r.id: r
            for r in session.exec(select(Refund).where(col(Refund.id).in_(stated_refunds))).all()
        }
    result = Result({c: ChannelTotals(c, statement_time=statement_time) for c in channels})

    def channel_of(payment_id: str) -> str:
        payment = payments.get(payment_id)
        return payment.channel if payment is not None else DEFAULT_CHANNEL

    # Only in-app payments reach a provider: external ones are not on any statement.
    app_ledger = {
        pid: value
        for pid, value in ledger.items()
        if pid in payments and payments[pid].origin == PaymentOrigin.APP
    }
    _payments(result, [r for r in records if r.kind == PAYMENT], app_ledger, payments, channel_of)
    _refunds(result, [r for r in records if r.kind == REFUND], refunds, refunds_stated, channel_of)
    return result


def _payments(
    result: Result,
    records: list[StatementRecord],
    ledger: dict[str, tuple[str, int]],
    payments: dict[str, Payment],
    channel_of: Callable[[str], str],
) -> None:
    seen: set[str] = set()
    for record in records:
        channel = channel_of(record.out_trade_no)
        if channel not in result.channels:
            continue
        totals = result.channels[channel]
        totals.provider_payment_count += 1
        totals.provider_payment_fen += record.amount_fen
        booked = ledger.get(record.out_trade_no)
        seen.add(record.out_trade_no)
        if booked is None:
            payment = payments.get(record.out_trade_no)
            state = f"{payment.state} in PalmGrid" if payment else "unknown to PalmGrid"
            result.add(
                Discrepancy(
                    "MISSING_IN_LEDGER",
                    channel,
                    record.transaction_id,
                    payment.name if payment else "",
                    record.amount_fen,
                    0,
                    f"paid at the provider, {state}, not in the ledger for the day",
                )
            )
        elif booked[1] != record.amount_fen:
            result.add(
                Discrepancy(
                    "AMOUNT_MISMATCH",
                    channel,
                    record.transaction_id,
                    booked[0],
                    record.amount_fen,
                    booked[1],
                    "the provider and the ledger disagree on the amount",
                )
            )
        else:
            totals.matched_count += 1
    for payment_id, (reference, amount) in ledger.items():
        channel = channel_of(payment_id)
        if channel not in result.channels:
            continue
        totals = result.channels[channel]
        totals.ledger_payment_count += 1
        totals.ledger_payment_fen += amount
        if payment_id not in seen:
            result.add(
                Discrepancy(
                    "MISSING_AT_PROVIDER",
                    channel,
                    payments[payment_id].provider_order_id,
                    reference,
                    0,
                    amount,
                    "credited in the ledger, not on the provider's statement for the day",
                )
            )


def _refunds(
    result: Result,
    records: list[StatementRecord],
    succeeded: dict[str, Refund],
    stated: dict[str, Refund],
    channel_of: Callable[[str], str],
) -> None:
    seen: set[str] = set()
    for record in records:
        channel = channel_of(record.out_trade_no)
        if channel not in result.channels:
            continue
        totals = result.channels[channel]
        totals.provider_refund_count += 1
        totals.provider_refund_fen += record.amount_fen
        seen.add(record.out_refund_no)
        ours = succeeded.get(record.out_refund_no)
        if ours is None:
            known = stated.get(record.out_refund_no)
            result.add(
                Discrepancy(
                    "STATE_MISMATCH" if known else "MISSING_IN_LEDGER",
                    channel,
                    record.refund_id,
                    known.name if known else "",
                    record.amount_fen,
                    known.amount_fen if known else 0,
                    f"refunded at the provider, {known.state if known else 'unknown'} in PalmGrid",
                )
            )
        elif ours.amount_fen != record.amount_fen:
            result.add(
                Discrepancy(
                    "AMOUNT_MISMATCH",
                    channel,
                    record.refund_id,
                    ours.name,
                    record.amount_fen,
                    ours.amount_fen,
                    "the provider and PalmGrid disagree on the refund amount",
                )
            )
        else:
            totals.matched_count += 1
    for refund in succeeded.values():
        channel = channel_of(refund.payment_id)
        if channel not in result.channels:
            continue
        totals = result.channels[channel]
        totals.ledger_refund_count += 1
        totals.ledger_refund_fen += refund.amount_fen
        if refund.id not in seen:
            result.add(
                Discrepancy(
                    "MISSING_AT_PROVIDER",
                    channel,
                    refund.provider_refund_id,
                    refund.name,
                    0,
                    refund.amount_fen,
                    "refunded in PalmGrid, not on the provider's statement for the day",
                )
            )


def _finish(
    service: PaymentService, day: date, run_id: str, result: Result | None, failure: str
) -> None:
    with service.runtime.session(write=True) as session:
        row = session.exec(
            select(ReconciliationReportRow)
            .where(ReconciliationReportRow.day == day.isoformat())
            .with_for_update()
        ).first()
        if row is None or row.run_id != run_id:
            return  # a newer run replaced this one
        row.complete_time = service.now()
        if result is None:
            row.state, row.failure_message = "FAILED", failure[:1000]
        else:
            count = len(result.discrepancies)
            row.state = "DISCREPANCIES_FOUND" if count else "BALANCED"
            row.discrepancy_count = count
            row.channels = json.dumps([asdict(t) for t in result.channels.values()])
            row.discrepancies = json.dumps(
                [asdict(d) for d in result.discrepancies[:MAX_LISTED]], ensure_ascii=False
            )
        session.add(row)
    log.info("reconciliation finished", extra={"day": day.isoformat(), "state": row.state})


def get_report(service: PaymentService, name: str) -> ReconciliationReportRow:
    day = day_of(name)
    with service.runtime.session() as session:
        row = session.get(ReconciliationReportRow, day.isoformat())
    if row is None:
        raise NotFound(f"{name} not found")
    return row


def list_reports(
    service: PaymentService,
    request: billing_admin_service_pb2.ListReconciliationReportsRequest,
) -> tuple[list[ReconciliationReportRow], str]:
    """Reports newest day first, optionally in one state; and the next page token."""
    state = ""
    if request.state:
        state = payment_pb2.ReconciliationState.Name(request.state).removeprefix(
            "RECONCILIATION_STATE_"
        )
    after = paging.decode_token(request.page_token, [state], types=(str,))
    size = paging.page_size(request.page_size, 31)
    query = select(ReconciliationReportRow).order_by(col(ReconciliationReportRow.day).desc())
    if state:
        query = query.where(ReconciliationReportRow.state == state)
    if after is not None:
        query = query.where(col(ReconciliationReportRow.day) < after[0])
    with service.runtime.session() as session:
        rows = list(session.exec(query.limit(size + 1)).all())
    token = paging.next_page_token(rows, size, lambda row: [row.day], [state])
    return rows[:size], token
