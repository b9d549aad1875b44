"""Billing RPCs for other PalmGrid services (BillingInternalService): binding checks,
customers by area and in bulk, archive and reading upserts, recomputation."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import grpc
from sqlmodel import col, select

from palmgrid.billing.v1 import billing_internal_service_pb2 as internal_pb2
from servers.billing import archive, daily_usage, readings
from servers.billing.changes import customer_data_changed
from servers.billing.config import BillingConfig
from servers.billing.models import Customer, CustomerState
from servers.billing.months import Month
from servers.billing.recompute import RecomputeResult, recompute_customer
from servers.runtime import Clock, NotFound, Runtime, paging

log = logging.getLogger("palmgrid.billing")


class InternalMethods:
    """Method group mixed into a billing servicer; `self.runtime` is the service Runtime."""

    runtime: Runtime
    config: BillingConfig
    clock: Clock

    def VerifyCustomerBinding(
        self, request: internal_pb2.VerifyCustomerBindingRequest, context: grpc.ServicerContext
    ) -> internal_pb2.VerifyCustomerBindingResponse:
        customer_id = archive.customer_id_of(request.name)
        with self.runtime.session() as session:
            row = session.get(Customer, customer_id)
        # The phone is where the account service sends the one-time code; nothing the
        # user can see or guess is compared here. The office of an active customer
        # without a phone is named too: staff may bind it on their word
        # (AccountAdminService.VerifyCustomerBinding), within their offices.
        if row is None or row.state != CustomerState.ACTIVE.value:
            return internal_pb2.VerifyCustomerBindingResponse(verified=False)
        if not row.registered_phone:
            return internal_pb2.VerifyCustomerBindingResponse(supply_office=row.supply_office)
        return internal_pb2.VerifyCustomerBindingResponse(
            verified=True, supply_office=row.supply_office, registered_phone=row.registered_phone
        )

    def ListCustomersByArea(
        self, request: internal_pb2.ListCustomersByAreaRequest, context: grpc.ServicerContext
    ) -> internal_pb2.ListCustomersByAreaResponse:
        areas = sorted(request.area_codes)
        after = paging.decode_token(request.page_token, areas, types=(str,))
        size = paging.page_size(request.page_size, 1000)
        query = select(Customer.id).where(
            col(Customer.area_code).in_(areas), Customer.state == CustomerState.ACTIVE.value
        )
        if after is not None:
            query = query.where(col(Customer.id) > after[0])
        with self.runtime.session() as session:
            ids = list(session.exec(query.order_by(col(Customer.id)).limit(size + 1)))
        return internal_pb2.ListCustomersByAreaResponse(
            customers=[archive.customer_name(i) for i in ids[:size]],
            next_page_token=paging.next_page_token(ids, size, lambda i: [i], areas),
        )

    def BatchGetCustomers(
        self, request: internal_pb2.BatchGetCustomersRequest, context: grpc.ServicerContext
    ) -> internal_pb2.BatchGetCustomersResponse:
        ids = [archive.customer_id_of(name) for name in request.names]
        with self.runtime.session() as session:
            rows = {
                c.id: c for c in session.exec(select(Customer).where(col(Customer.id).in_(ids)))
            }
            missing = [archive.customer_name(i) for i in ids if i not in rows]
            if missing:
                raise NotFound(f"{missing[0]} not found", metadata={"name": missing[0]})
            meters = archive.meters_of(session, ids)
        return internal_pb2.BatchGetCustomersResponse(
            customers=[archive.customer_resource(rows[i], meters[i]) for i in ids]
        )

    def BatchUpsertCustomers(
        self, request: internal_pb2.BatchUpsertCustomersRequest, context: grpc.ServicerContext
    ) -> internal_pb2.BatchUpsertCustomersResponse:
        with self.runtime.session(write=True) as session:
            archive.check_records(session, request.customers)
            counts = archive.upsert_customers(session, request.customers, self.clock.now())
        self.recompute_many(dict.fromkeys(counts.rebill))
        customer_data_changed(counts.changed)
        return internal_pb2.BatchUpsertCustomersResponse(
            created_count=counts.created,
            updated_count=counts.updated,
            unchanged_count=counts.unchanged,
            stale_count=counts.stale,
        )

    def BatchUpsertMeterReadings(
        self, request: internal_pb2.BatchUpsertMeterReadingsRequest, context: grpc.ServicerContext
    ) -> internal_pb2.BatchUpsertMeterReadingsResponse:
        with self.runtime.session(write=True) as session:
            readings.check_readings(session, request.meter_readings)
            counts = readings.upsert_readings(session, request.meter_readings, self.clock.now())
        # The readings are stored; each customer's figures follow in a transaction of
        # their own, so one customer's failure leaves the others (and the readings)
        # in place, and RecomputeCustomerBilling can redo it.
        self.recompute_many(counts.earliest)
        customer_data_changed(counts.earliest)
        return internal_pb2.BatchUpsertMeterReadingsResponse(
            created_count=counts.created,
            updated_count=counts.updated,
            unchanged_count=counts.unchanged,
        )

    def BatchUpsertDailyUsage(
        self, request: internal_pb2.BatchUpsertDailyUsageRequest, context: grpc.ServicerContext
    ) -> internal_pb2.BatchUpsertDailyUsageResponse:
        with self.runtime.session(write=True) as session:
            daily_usage.check_daily_readings(session, request.daily_readings)
            counts = daily_usage.upsert_daily_readings(
                session, request.daily_readings, self.clock.now()
            )
        customer_data_changed(counts.changed)
        return internal_pb2.BatchUpsertDailyUsageResponse(
            created_count=counts.created,
            updated_count=counts.updated,
            unchanged_count=counts.unchanged,
        )

    def RecomputeCustomerBilling(
        self, request: internal_pb2.RecomputeCustomerBillingRequest, context: grpc.ServicerContext
    ) -> internal_pb2.RecomputeCustomerBillingResponse:
        customer_id = archive.customer_id_of(request.name)
        start = Month.parse(request.start_month) if request.start_month else None
        result = self.recompute(customer_id, start)
        if result is None:
            raise NotFound(f"{request.name} not found")
        customer_data_changed([customer_id])
        return internal_pb2.RecomputeCustomerBillingResponse(
            months=result.months,
            revised_bills=result.revised_bills,
            net_change_fen=result.net_change_fen,
        )

    def recompute(self, customer_id: str, start: Month | None) -> RecomputeResult | None:
        """Recompute one customer in its own transaction; None when it does not exist."""
        with self.runtime.session(write=True) as session:
            customer = session.get(Customer, customer_id)
            if customer is None:
                return None
            return recompute_customer(
                session, customer, now=self.clock.now(), config=self.config, start_month=start
            )

    def recompute_many(self, starts: Mapping[str, Month | None]) -> None:
        """Recompute each customer from its month (None: the default start)."""
        for customer_id, start in starts.items():
            try:
                self.recompute(customer_id, start)
            except Exception:
                log.exception("recompute failed", extra={"customer": customer_id})
