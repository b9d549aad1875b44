"""The billing runs the worker schedules (BillingInternalService): the month's bills
and the day's late fees, a page of customers per call so that no call outlives its
deadline however many customers there are.

The runs themselves are the billing core's (`recompute_customer`, `daily.run_daily`);
these methods only choose the customers of a page.
"""

from __future__ import annotations

import logging

import grpc
from sqlalchemy import exists
from sqlmodel import col, select

from palmgrid.billing.v1 import billing_internal_service_pb2 as internal_pb2
from servers.billing.changes import customer_data_changed
from servers.billing.config import BillingConfig
from servers.billing.daily import overdue_customers, run_daily
from servers.billing.models import Bill, Customer, CustomerState
from servers.billing.months import Month
from servers.billing.recompute import recompute_customer
from servers.runtime import Clock, Runtime, paging

log = logging.getLogger("palmgrid.billing.runs")

DEFAULT_RUN_PAGE = 200


class ScheduledRunMethods:
    """Method group mixed into the internal servicer; `self.runtime` is the Runtime."""

    runtime: Runtime
    config: BillingConfig
    clock: Clock

    def IssueMonthlyBills(
        self, request: internal_pb2.IssueMonthlyBillsRequest, context: grpc.ServicerContext
    ) -> internal_pb2.IssueMonthlyBillsResponse:
        filters = [request.month]
        after = paging.decode_token(request.page_token, filters, types=(str,))
        size = paging.page_size(request.page_size, DEFAULT_RUN_PAGE)
        now = self.clock.now()
        month = Month.parse(request.month) if request.month else Month.of(now).previous()
        billed = exists().where(
            col(Bill.customer_id) == col(Customer.id), col(Bill.month) == str(month)
        )
        query = select(Customer.id).where(Customer.state == CustomerState.ACTIVE.value, ~billed)
        if after is not None:
            query = query.where(col(Customer.id) > after[0])
        with self.runtime.session() as session:
            ids = list(session.exec(query.order_by(col(Customer.id)).limit(size + 1)))
        issued, failed, changed = 0, 0, []
        for customer_id in ids[:size]:
            try:
                with self.runtime.session(write=True) as session:
                    customer = session.get(Customer, customer_id)
                    if customer is None:
                        continue
                    result = recompute_customer(
                        session, customer, now=now, config=self.config, start_month=month
                    )
            except Exception:
                log.exception("monthly billing failed", extra={"customer": customer_id})
                failed += 1
                continue
            if result.issued_bills or result.revised_bills or result.late_fees_fen:
                changed.append(customer_id)
            issued += len(result.issued_bills)
        customer_data_changed(changed)
        return internal_pb2.IssueMonthlyBillsResponse(
            month=str(month),
            checked_count=len(ids[:size]),
            issued_count=issued,
            failed_count=failed,
            next_page_token=paging.next_page_token(ids, size, lambda i: [i], filters),
        )

    def AccrueLateFees(
        self, request: internal_pb2.AccrueLateFeesRequest, context: grpc.ServicerContext
    ) -> internal_pb2.AccrueLateFeesResponse:
        after = paging.decode_token(request.page_token, types=(str,))
        size = paging.page_size(request.page_size, DEFAULT_RUN_PAGE)
        now = self.clock.now()
        engine = self.runtime.engine
        result = run_daily(engine, now, self.config, after=after[0] if after else "", limit=size)
        more = bool(result.last_customer) and bool(
            overdue_customers(engine, now, after=result.last_customer, limit=1)
        )
        return internal_pb2.AccrueLateFeesResponse(
            customer_count=result.customers,
            late_fee_fen=result.late_fees_fen,
            next_page_token=paging.encode_token([result.last_customer]) if more else "",
        )
