"""Billing RPCs that explain a customer's usage (BillingService): a month's analysis,
this month's forecast, the yearly trend and the export of the customer's data."""

from __future__ import annotations

import grpc

from palmgrid.billing.v1 import billing_service_pb2 as service_pb2
from palmgrid.billing.v1 import insights_pb2
from servers.billing.analysis import usage_analysis
from servers.billing.config import BillingConfig
from servers.billing.forecast import usage_forecast
from servers.billing.months import Month
from servers.billing.scope import authorize_customer, scoped_customer
from servers.billing.trend import usage_trend
from servers.runtime import Clock, Runtime
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
