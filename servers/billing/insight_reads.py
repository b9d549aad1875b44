"""Billing RPCs that explain a customer's usage (BillingService): a month's analysis,
this month's forecast, the yearly trend and the export of the customer's data."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
from google.api import httpbody_pb2

from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from palmgrid.billing.v1 import insights_pb2
from palmgrid.type.v1 import identity_pb2
from servers.billing import daily_usage, export
from servers.billing.analysis import usage_analysis
from servers.billing.archive import customer_name
from servers.billing.config import BillingConfig
from servers.billing.forecast import usage_forecast
from servers.billing.months import Month, cst_date
from servers.billing.scope import authorize_customer, scoped_customer
from servers.billing.trend import usage_trend
from servers.runtime import (
    Clock,
    PermissionDenied,
    Runtime,
    current_principal,
    require_customer_scope,
)
from servers.runtime.ids import resource_ids


class InsightMethods:
    """Method group mixed into a billing servicer; `self.runtime` is the service Runtime."""

    runtime: Runtime
    config: BillingConfig
    clock: Clock

    def GetUsageAnalysis(
        self, request: service_pb2.GetUsageAnalysisRequest, context: grpc.ServicerContext
    ) -> insights_pb2.UsageAnalysis:
        customer_id, month = resource_ids(request.name)
        with self.runtime.session() as session:
            customer = scoped_customer(session, customer_id)
            return usage_analysis(session, customer, Month.parse(month), self.clock.now())

    def GetUsageForecast(
        self, request: service_pb2.GetUsageForecastRequest, context: grpc.ServicerContext
    ) -> insights_pb2.UsageForecast:
        customer_id = resource_ids(request.name)[0]
        with self.runtime.session() as session:
            customer = scoped_customer(session, customer_id)
            return usage_forecast(session, customer, self.clock.now())

    def GetUsageTrend(
        self, request: service_pb2.GetUsageTrendRequest, context: grpc.ServicerContext
    ) -> insights_pb2.UsageTrend:
        customer_id = resource_ids(request.name)[0]
        with self.runtime.session() as session:
            authorize_customer(session, customer_id)
            return usage_trend(session, customer_id, self.clock.now())

    def ExportUsage(
        self, request: service_pb2.ExportUsageRequest, context: grpc.ServicerContext
    ) -> Iterator[httpbody_pb2.HttpBody]:
        customer_id = resource_ids(request.parent)[0]
        # The customer's own data only: a bound customer user, never staff or a service.
        principal = require_customer_scope(current_principal(), customer_name(customer_id))
        if principal.kind != identity_pb2.PRINCIPAL_KIND_CUSTOMER:
            raise PermissionDenied(
                "only the customer bound to the 户号 may download its data",
                reason="OUT_OF_SCOPE",
            )
        now = self.clock.now()
        days = daily_usage.requested_range(
            request.start_date, request.end_date, cst_date(now), default_days=daily_usage.MAX_DAYS
        )
        if request.format == service_pb2.EXPORT_FORMAT_CSV:
            content_type = export.CSV_TYPE
            pieces = export.csv_pieces(self.runtime.engine, customer_id, days)
        else:
            content_type = export.ESPI_TYPE
            pieces = export.espi_pieces(self.runtime.engine, customer_id, days, now)
        return self._stream(content_type, pieces)

    @staticmethod
    def _stream(content_type: str, pieces: Iterator[str]) -> Iterator[httpbody_pb2.HttpBody]:
        for piece in pieces:
            yield httpbody_pb2.HttpBody(content_type=content_type, data=piece.encode())
