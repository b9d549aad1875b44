"""Billing RPCs that phones call to read (BillingService): a customer's archive,
balance, usage, bills, estimate and readings, and the public tariffs."""

from __future__ import annotations

import grpc
from sqlmodel import Session, col, select

from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from palmgrid.billing.v1 import resources_pb2, tariff_pb2
from palmlib.masking import mask_message
from servers.billing import archive, daily_usage, hot_reads, readings
from servers.billing.config import BillingConfig
from servers.billing.estimate import charge_estimate
from servers.billing.ledger import Balance
from servers.billing.models import (
    MeterReading,
    Tariff,
    TariffVersion,
)
from servers.billing.months import cst_date
from servers.billing.resources import balance_resource, bill_resource, usage_resource
from servers.billing.scope import authorize_customer, scoped_customer
from servers.billing.tariff_resources import tariff_resource
from servers.runtime import Clock, NotFound, Runtime, paging
from servers.runtime.ids import resource_ids
from servers.runtime.protoconv import from_timestamp

# ListMeterReadings: newest first; ties on time are broken by (meter, reading id).
_READING_ORDER = (col(MeterReading.read_time), col(MeterReading.meter_id), col(MeterReading.id))


class ReadMethods:
    """Method group mixed into a billing servicer; `self.runtime` is the service Runtime."""

    runtime: Runtime
    config: BillingConfig
    clock: Clock

    def pending_payments_fen(self, session: Session, customer_id: str) -> int:
        """Payments started but not yet confirmed, in fen (Balance.pending_fen). The
        payments method group overrides this; the core knows of no pending payments."""
        return 0

    def GetCustomer(
        self, request: service_pb2.GetCustomerRequest, context: grpc.ServicerContext
    ) -> resources_pb2.Customer:
        customer_id = resource_ids(request.name)[0]
        with self.runtime.session() as session:
            row = scoped_customer(session, customer_id)
            meters = archive.meters_of(session, [customer_id])[customer_id]
        customer = archive.customer_resource(row, meters)
        mask_message(customer)
        return customer

    def GetBalance(
        self, request: service_pb2.GetBalanceRequest, context: grpc.ServicerContext
    ) -> resources_pb2.Balance:
        customer_id = resource_ids(request.name)[0]
        with hot_reads.read_connection(self.runtime) as connection:
            rows = hot_reads.scoped_rows(connection, customer_id, hot_reads.BALANCE)
            # An ORM session over the same connection, closed here: it must not outlive
            # the connection it borrows (which goes back to the pool).
            with Session(bind=connection) as session:
                pending = self.pending_payments_fen(session, customer_id)
        if rows:
            balance = Balance(customer_id, rows[0].net_fen, rows[0].update_time)
        else:
            balance = Balance(customer_id, 0, self.clock.now())
        return balance_resource(balance, pending)

    def ListMonthlyUsage(
        self, request: service_pb2.ListMonthlyUsageRequest, context: grpc.ServicerContext
    ) -> service_pb2.ListMonthlyUsageResponse:
        customer_id = resource_ids(request.parent)[0]
        size = paging.page_size(request.page_size, 24)
        before = paging.decode_token(request.page_token, [request.parent], types=(str,))
        with hot_reads.read_connection(self.runtime) as connection:
            rows = hot_reads.scoped_rows(
                connection,
                customer_id,
                hot_reads.USAGE,
                before=None if before is None else before[0],
                newest_first=True,
                limit=size + 1,
            )
        token = paging.next_page_token(rows, size, lambda row: [row.month], [request.parent])
        return service_pb2.ListMonthlyUsageResponse(
            monthly_usage=[usage_resource(row) for row in rows[:size]],
            next_page_token=token,
        )

    def GetMonthlyUsage(
        self, request: service_pb2.GetMonthlyUsageRequest, context: grpc.ServicerContext
    ) -> resources_pb2.MonthlyUsage:
        customer_id, month = resource_ids(request.name)
        with hot_reads.read_connection(self.runtime) as connection:
            rows = hot_reads.scoped_rows(connection, customer_id, hot_reads.USAGE, month=month)
        if not rows:
            raise NotFound(f"{request.name} not found")
        return usage_resource(rows[0])

    def ListDailyUsage(
        self, request: service_pb2.ListDailyUsageRequest, context: grpc.ServicerContext
    ) -> service_pb2.ListDailyUsageResponse:
        customer_id = resource_ids(request.parent)[0]
        days = daily_usage.requested_range(
            request.start_date, request.end_date, cst_date(self.clock.now())
        )
        with hot_reads.read_connection(self.runtime) as connection:
            rows = hot_reads.scoped_rows(
                connection, customer_id, hot_reads.DAILY, days=(days.first, days.last)
            )
        return daily_usage.daily_response(customer_id, days, rows)

    def ListBills(
        self, request: service_pb2.ListBillsRequest, context: grpc.ServicerContext
    ) -> service_pb2.ListBillsResponse:
        customer_id = resource_ids(request.parent)[0]
        size = paging.page_size(request.page_size, 24)
        before = paging.decode_token(request.page_token, [request.parent], types=(str,))
        with hot_reads.read_connection(self.runtime) as connection:
            rows = hot_reads.scoped_rows(
                connection,
                customer_id,
                hot_reads.BILL,
                before=None if before is None else before[0],
                newest_first=True,
                limit=size + 1,
            )
        token = paging.next_page_token(rows, size, lambda row: [row.month], [request.parent])
        today = cst_date(self.clock.now())
        return service_pb2.ListBillsResponse(
            bills=[bill_resource(row, today) for row in rows[:size]],
            next_page_token=token,
        )

    def GetBill(
        self, request: service_pb2.GetBillRequest, context: grpc.ServicerContext
    ) -> resources_pb2.Bill:
        customer_id, month = resource_ids(request.name)
        with hot_reads.read_connection(self.runtime) as connection:
            rows = hot_reads.scoped_rows(connection, customer_id, hot_reads.BILL, month=month)
        if not rows:
            raise NotFound(f"{request.name} not found")
        return bill_resource(rows[0], cst_date(self.clock.now()))

    def GetChargeEstimate(
        self, request: service_pb2.GetChargeEstimateRequest, context: grpc.ServicerContext
    ) -> resources_pb2.ChargeEstimate:
        customer_id = resource_ids(request.name)[0]
        with self.runtime.session() as session:
            customer = scoped_customer(session, customer_id)
            return charge_estimate(session, customer, self.clock.now())

    def ListMeterReadings(
        self, request: service_pb2.ListMeterReadingsRequest, context: grpc.ServicerContext
    ) -> service_pb2.ListMeterReadingsResponse:
        customer_id, meter_id = resource_ids(request.parent)
        size = paging.page_size(request.page_size, 50)
        filters = [
            request.parent,
            request.start_time.ToJsonString() if request.HasField("start_time") else "",
            request.end_time.ToJsonString() if request.HasField("end_time") else "",
        ]
        after = paging.decode_token(request.page_token, filters, types=(str, str, str))
        query = select(MeterReading).where(MeterReading.customer_id == customer_id)
        if meter_id != "-":
            query = query.where(MeterReading.meter_id == meter_id)
        if request.HasField("start_time"):
            query = query.where(MeterReading.read_time >= from_timestamp(request.start_time))
        if request.HasField("end_time"):
            query = query.where(MeterReading.read_time < from_timestamp(request.end_time))
        if after is not None:
            time_key, meter_key, id_key = after
            key = (paging.time_from_key(time_key), meter_key, id_key)
            query = query.where(paging.descending_after(_READING_ORDER, key))
        query = query.order_by(*(column.desc() for column in _READING_ORDER))
        with self.runtime.session() as session:
            authorize_customer(session, customer_id)
            rows = session.exec(query.limit(size + 1)).all()
        token = paging.next_page_token(
            rows, size, lambda row: [paging.time_key(row.read_time), row.meter_id, row.id], filters
        )
        return service_pb2.ListMeterReadingsResponse(
            meter_readings=[readings.reading_resource(row) for row in rows[:size]],
            next_page_token=token,
        )

    def GetTariff(
        self, request: service_pb2.GetTariffRequest, context: grpc.ServicerContext
    ) -> tariff_pb2.Tariff:
        tariff_id = resource_ids(request.name)[0]
        with self.runtime.session() as session:
            row = session.get(Tariff, tariff_id)
            if row is None:
                raise NotFound(f"{request.name} not found")
            versions = session.exec(
                select(TariffVersion).where(TariffVersion.tariff_id == tariff_id)
            ).all()
        return tariff_resource(row, versions, cst_date(self.clock.now()))

    def ListTariffs(
        self, request: service_pb2.ListTariffsRequest, context: grpc.ServicerContext
    ) -> service_pb2.ListTariffsResponse:
        size = paging.page_size(request.page_size, 50)
        category = request.customer_category
        after = paging.decode_token(request.page_token, [category], types=(str,))
        query = select(Tariff)
        if category:
            name = tariff_pb2.CustomerCategory.Name(category).removeprefix("CUSTOMER_CATEGORY_")
            query = query.where(Tariff.customer_category == name)
        if after is not None:
            query = query.where(col(Tariff.id) > after[0])
        with self.runtime.session() as session:
            rows = session.exec(query.order_by(col(Tariff.id)).limit(size + 1)).all()
            token = paging.next_page_token(rows, size, lambda row: [row.id], [category])
            rows = rows[:size]
            versions = session.exec(
                select(TariffVersion).where(col(TariffVersion.tariff_id).in_([r.id for r in rows]))
            ).all()
        today = cst_date(self.clock.now())
        return service_pb2.ListTariffsResponse(
            tariffs=[
                tariff_resource(row, [v for v in versions if v.tariff_id == row.id], today)
                for row in rows
            ],
            next_page_token=token,
        )
