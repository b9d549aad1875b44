"""ListCustomerBillingSignals: what each active customer's bills say about them, a page
of customers at a time, for the care service's complaint-risk scoring.

A page costs four queries whatever its size (customers, their latest bills, balances,
arrears alerts), so a caller paging through a million customers makes no per-customer
calls and billing no per-customer queries.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import grpc
from sqlmodel import Session, col, func, select

from palmgrid.billing.v1 import billing_internal_service_pb2 as internal_pb2
from servers.billing import archive
from servers.billing.bills import effective_state
from servers.billing.models import BalanceRow, Bill, BillState, Customer, CustomerState
from servers.billing.months import cst_date
from servers.billing.payments.alerts import ARREARS, LOW_BALANCE
from servers.billing.payments.models import OutboxMessage
from servers.runtime import Clock, Runtime, paging
from servers.runtime.protoconv import from_timestamp

DEFAULT_PAGE = 500
DEFAULT_BILL_COUNT = 7
REMINDER_TEMPLATES = (ARREARS, LOW_BALANCE)


def _latest_bills(session: Session, ids: list[str], count: int) -> dict[str, list[Bill]]:
    """Each customer's latest `count` bills, newest first."""
    bills: dict[str, list[Bill]] = defaultdict(list)
    query = (
        select(Bill)
        .where(col(Bill.customer_id).in_(ids))
        .order_by(col(Bill.customer_id), col(Bill.month).desc())
    )
    for bill in session.exec(query):
        if len(bills[bill.customer_id]) < count:
            bills[bill.customer_id].append(bill)
    return bills


def _reminders(session: Session, ids: list[str], since: datetime | None) -> dict[str, int]:
    if since is None:
        return {}
    query = (
        select(OutboxMessage.customer_id, func.count())
        .where(
            col(OutboxMessage.customer_id).in_(ids),
            col(OutboxMessage.template).in_(REMINDER_TEMPLATES),
            col(OutboxMessage.create_time) >= since,
        )
        .group_by(col(OutboxMessage.customer_id))
    )
    return {customer: int(count) for customer, count in session.exec(query)}


class BillingSignalMethods:
    """Method group of BillingInternalService: ListCustomerBillingSignals."""

    runtime: Runtime
    clock: Clock

    def ListCustomerBillingSignals(
        self,
        request: internal_pb2.ListCustomerBillingSignalsRequest,
        context: grpc.ServicerContext,
    ) -> internal_pb2.ListCustomerBillingSignalsResponse:
        since = (
            from_timestamp(request.reminders_since_time)
            if request.HasField("reminders_since_time")
            else None
        )
        count = request.bill_count or DEFAULT_BILL_COUNT
        filters = [request.after_customer, count, since.isoformat() if since else ""]
        after = paging.decode_token(request.page_token, filters, types=(str,))
        size = paging.page_size(request.page_size, DEFAULT_PAGE)
        start = after[0] if after else archive.customer_id_of(request.after_customer or "")
        query = (
            select(Customer)
            .where(Customer.state == CustomerState.ACTIVE.value, col(Customer.id) > start)
            .order_by(col(Customer.id))
            .limit(size + 1)
        )
        today = cst_date(self.clock.now())
        with self.runtime.session() as session:
            customers = list(session.exec(query))
            ids = [c.id for c in customers[:size]]
            bills = _latest_bills(session, ids, count)
            balances = select(BalanceRow).where(col(BalanceRow.customer_id).in_(ids))
            nets = {row.customer_id: row.net_fen for row in session.exec(balances)}
            reminders = _reminders(session, ids, since)
            overdue = {
                customer_id: sum(
                    1 for bill in theirs if effective_state(bill, today) == BillState.OVERDUE.value
                )
                for customer_id, theirs in bills.items()
            }
        signals = [
            internal_pb2.CustomerBillingSignals(
                customer=archive.customer_name(c.id),
                supply_office=c.supply_office,
                area_code=c.area_code,
                recent_bill_amounts_fen=[b.amount_fen for b in bills.get(c.id, [])],
                latest_bill_month=bills[c.id][0].month if bills.get(c.id) else "",
                overdue_bill_count=overdue.get(c.id, 0),
                arrears_fen=max(-nets.get(c.id, 0), 0),
                arrears_reminder_count=reminders.get(c.id, 0),
            )
            for c in customers[:size]
        ]
        return internal_pb2.ListCustomerBillingSignalsResponse(
            signals=signals,
            next_page_token=paging.next_page_token(customers, size, lambda c: [c.id], filters),
        )
