"""Billing RPCs that phones call to read (BillingService): a customer's archive,
balance, usage, bills, estimate and readings, and the public tariffs."""

from __future__ import annotations

from datetime import datetime

import grpc
from sqlmodel import Session, col, select

from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from palmgrid.billing.v1 import resources_pb2, tariff_pb2
from servers.billing import archive, hot_reads, readings
from servers.billing.config import BillingConfig
from servers.billing.estimate import charge_estimate
from servers.billing.ledger import Balance
from servers.billing.masking import mask_message
from servers.billing.models import (
    MeterReading,
    Tariff,
    TariffVersion,
)
from servers.billing.months import cst_date
from servers.billing.names import resource_ids
from servers.billing.pagination import decode_token, encode_token, page_size
from servers.billing.resources import balance_resource, bill_resource, usage_resource
from servers.billing.scope import authorize_customer, scoped_customer
from servers.billing.tariff_resources import tariff_resource
from servers.runtime import Clock, NotFound, Runtime
from servers.runtime.protoconv import from_timestamp


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
            pending = self.pending_payments_fen(Session(bind=connection), customer_id)
        if rows:
            balance = Balance(customer_id, rows[0].net_fen, rows[0].update_time)
        else:
            balance = Balance(customer_id, 0, self.clock.now())
        return balance_resource(balance, pending)

    def ListMonthlyUsage(
        self, request: service_pb2.ListMonthlyUsageRequest, context: grpc.ServicerContext
    ) -> service_pb2.ListMonthlyUsageResponse:
        customer_id = resource_ids(request.parent)[0]
        size = page_size(request.page_size, 24)
        before = decode_token(request.page_token, [request.parent])
        with hot_reads.read_connection(self.runtime) as connection:
            rows = hot_reads.scoped_rows(
                connection,
                customer_id,
                hot_reads.USAGE,
                before=None if before is None else str(before),
                newest_first=True,
                limit=size + 1,
            )
        more = len(rows) > size
        rows = rows[:size]
        return service_pb2.ListMonthlyUsageResponse(
            monthly_usage=[usage_resource(row) for row in rows],
            next_page_token=encode_token(rows[-1].month, [request.parent]) if more else "",
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

    def ListBills(
        self, request: service_pb2.ListBillsRequest, context: grpc.ServicerContext
    ) -> service_pb2.ListBillsResponse:
        customer_id = resource_ids(request.parent)[0]
        size = page_size(request.page_size, 24)
        before = decode_token(request.page_token, [request.parent])
        with hot_reads.read_connection(self.runtime) as connection:
            rows = hot_reads.scoped_rows(
                connection,
                customer_id,
                hot_reads.BILL,
                before=None if before is None else str(before),
                newest_first=True,
                limit=size + 1,
            )
        more = len(rows) > size
        rows = rows[:size]
        today = cst_date(self.clock.now())
        return service_pb2.ListBillsResponse(
            bills=[bill_resource(row, today) for row in rows],
            next_page_token=encode_token(rows[-1].month, [request.parent]) if more else "",
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
        size = page_size(request.page_size, 50)
        filters = [
            request.parent,
            request.start_time.ToJsonString() if request.HasField("start_time") else "",
            request.end_time.ToJsonString() if request.HasField("end_time") else "",
        ]
        after = decode_token(request.page_token, filters)
        query = select(MeterReading).where(MeterReading.customer_id == customer_id)
        if meter_id != "-":
            query = query.where(MeterReading.meter_id == meter_id)
        if request.HasField("start_time"):
            query = query.where(MeterReading.read_time >= from_timestamp(request.start_time))
        if request.HasField("end_time"):
            query = query.where(MeterReading.read_time < from_timestamp(request.end_time))
        if after is not None:
            # Newest first; ties on time are broken by (meter, reading id).
            time_key, meter_key, id_key = after
            last_time = datetime.fromisoformat(str(time_key))
            query = query.where(
                (MeterReading.read_time < last_time)
                | (
                    (MeterReading.read_time == last_time)
                    & (
                        (col(MeterReading.meter_id) < meter_key)
                        | ((MeterReading.meter_id == meter_key) & (col(MeterReading.id) < id_key))
                    )
                )
            )
        query = query.order_by(
            col(MeterReading.read_time).desc(),
            col(MeterReading.meter_id).desc(),
            col(MeterReading.id).desc(),
        )
        with self.runtime.session() as session:
            authorize_customer(session, customer_id)
            rows = session.exec(query.limit(size + 1)).all()
        more = len(rows) > size
        rows = rows[:size]
        token = ""
        if more:
            last = rows[-1]
            token = encode_token([last.read_time.isoformat(), last.meter_id, last.id], filters)
        return service_pb2.ListMeterReadingsResponse(
            meter_readings=[readings.reading_resource(row) for row in rows],
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
        size = page_size(request.page_size, 50)
        category = request.customer_category
        after = decode_token(request.page_token, [category])
        query = select(Tariff)
        if category:
            name = tariff_pb2.CustomerCategory.Name(category).removeprefix("CUSTOMER_CATEGORY_")
            query = query.where(Tariff.customer_category == name)
        if after is not None:
            query = query.where(Tariff.id > str(after))
        with self.runtime.session() as session:
            rows = session.exec(query.order_by(col(Tariff.id)).limit(size + 1)).all()
            more = len(rows) > size
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
            next_page_token=encode_token(rows[-1].id, [category]) if more else "",
        )
