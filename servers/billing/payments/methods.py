"""Payment RPCs: the method groups mixed into the billing servicers.

- `PaymentMethods` (BillingService): CreatePayment, ListPayments, GetPayment,
  NotifyPayment, and the pending amount shown with the balance.
- `PaymentAdminMethods` (BillingAdminService): CreateRefund, GetRefund and the
  reconciliation reports.
- `PaymentInternalMethods` (BillingInternalService): BatchRecordExternalPayments.

Each is a thin translation between messages and `servers.billing.payments.*`; the
work and its rules live there.
"""

from __future__ import annotations

import grpc
from sqlmodel import Session

from palmgrid.billing.v1 import (
    billing_admin_service_pb2,
    billing_internal_service_pb2,
    billing_service_pb2,
    payment_pb2,
)
from servers.billing.payments import (
    callbacks,
    creation,
    external,
    queries,
    reconciliation,
    refunds,
)
from servers.billing.payments.resources import payment_resource, refund_resource, report_resource
from servers.billing.payments.service import PaymentService, payment_service
from servers.runtime import Clock, Runtime, current_principal, require_principal


class _PaymentGroup:
    runtime: Runtime
    clock: Clock

    @property
    def payments(self) -> PaymentService:
        """This process's payments part (built and started on first use)."""
        return payment_service(self.runtime, clock=self.clock)


def _viewer() -> str | None:
    principal = current_principal()
    return principal.user if principal is not None else None


class PaymentMethods(_PaymentGroup):
    """BillingService payment methods."""

    def CreatePayment(
        self, request: billing_service_pb2.CreatePaymentRequest, context: grpc.ServicerContext
    ) -> payment_pb2.Payment:
        principal = require_principal()
        payment = creation.create_payment(self.payments, request, principal)
        return payment_resource(payment, principal.user)

    def ListPayments(
        self, request: billing_service_pb2.ListPaymentsRequest, context: grpc.ServicerContext
    ) -> billing_service_pb2.ListPaymentsResponse:
        rows, token = queries.list_payments(self.payments, request)
        viewer = _viewer()
        return billing_service_pb2.ListPaymentsResponse(
            payments=[payment_resource(row, viewer) for row in rows], next_page_token=token
        )

    def GetPayment(
        self, request: billing_service_pb2.GetPaymentRequest, context: grpc.ServicerContext
    ) -> payment_pb2.Payment:
        return payment_resource(queries.get_payment(self.payments, request.name), _viewer())

    def NotifyPayment(
        self, request: billing_service_pb2.NotifyPaymentRequest, context: grpc.ServicerContext
    ) -> billing_service_pb2.NotifyPaymentResponse:
        headers = {
            key: value
            for key, value in context.invocation_metadata()
            if isinstance(value, str) and key.startswith("wechatpay-")
        }
        callbacks.handle_notification(
            self.payments, request.provider, headers, bytes(request.body.data)
        )
        return billing_service_pb2.NotifyPaymentResponse()

    def pending_payments_fen(self, session: Session, customer_id: str) -> int:
        """Payments started but not yet confirmed, in fen (Balance.pending_fen)."""
        return queries.pending_fen(session, customer_id)


class PaymentAdminMethods(_PaymentGroup):
    """BillingAdminService refund and reconciliation methods."""

    def CreateRefund(
        self,
        request: billing_admin_service_pb2.CreateRefundRequest,
        context: grpc.ServicerContext,
    ) -> payment_pb2.Refund:
        refund = refunds.create_refund(self.payments, request, require_principal())
        return refund_resource(refund)

    def GetRefund(
        self, request: billing_admin_service_pb2.GetRefundRequest, context: grpc.ServicerContext
    ) -> payment_pb2.Refund:
        return refund_resource(refunds.get_refund(self.payments, request.name))

    def GetReconciliationReport(
        self,
        request: billing_admin_service_pb2.GetReconciliationReportRequest,
        context: grpc.ServicerContext,
    ) -> payment_pb2.ReconciliationReport:
        return report_resource(reconciliation.get_report(self.payments, request.name))

    def ListReconciliationReports(
        self,
        request: billing_admin_service_pb2.ListReconciliationReportsRequest,
        context: grpc.ServicerContext,
    ) -> billing_admin_service_pb2.ListReconciliationReportsResponse:
        rows, token = reconciliation.list_reports(self.payments, request)
        return billing_admin_service_pb2.ListReconciliationReportsResponse(
            reconciliation_reports=[report_resource(row) for row in rows], next_page_token=token
        )

    def RunReconciliation(
        self,
        request: billing_admin_service_pb2.RunReconciliationRequest,
        context: grpc.ServicerContext,
    ) -> payment_pb2.ReconciliationReport:
        row = reconciliation.start_run(self.payments, request, require_principal())
        return report_resource(row)


class PaymentInternalMethods(_PaymentGroup):
    """BillingInternalService: payments recorded by the marketing system."""

    def BatchRecordExternalPayments(
        self,
        request: billing_internal_service_pb2.BatchRecordExternalPaymentsRequest,
        context: grpc.ServicerContext,
    ) -> billing_internal_service_pb2.BatchRecordExternalPaymentsResponse:
        result = external.record_external(self.payments, request)
        return billing_internal_service_pb2.BatchRecordExternalPaymentsResponse(
            recorded_count=result.recorded, duplicate_count=result.duplicates
        )
