"""The services ingest hands records to, reached over gRPC as ingest's own service
account: billing (the archive, readings, tariffs, payments), inspection (metering
anomalies) and expansion (the marketing system's steps on applications). A refusal
comes back as the DomainError it carries; a service that cannot be reached as
Unavailable, so that a push is retried by its sender and an import job
fails without moving its watermark."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import grpc

from palmgrid.billing.v1 import billing_internal_service_pb2 as internal_pb
from palmgrid.billing.v1 import billing_internal_service_pb2_grpc as internal_grpc
from palmgrid.billing.v1 import billing_service_pb2 as billing_pb
from palmgrid.billing.v1 import billing_service_pb2_grpc as billing_grpc
from palmgrid.billing.v1 import payment_pb2, resources_pb2
from palmgrid.expansion.v1 import expansion_internal_service_pb2 as expansion_pb
from palmgrid.expansion.v1 import expansion_internal_service_pb2_grpc as expansion_grpc
from palmgrid.inspection.v1 import inspection_service_pb2 as inspection_pb
from palmgrid.inspection.v1 import inspection_service_pb2_grpc as inspection_grpc
from palmgrid.inspection.v1 import resources_pb2 as inspection_resources
from servers.runtime import Runtime, Unavailable, downstream_call_options
from servers.runtime.errors import DomainError, error_from_rpc

Reply = TypeVar("Reply")
RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
}
# Billing's own request ids are derived from what is sent, so a call retried with the
# same records is recognised there too.
_REQUEST_IDS = uuid.UUID("6f1c2a52-3b7e-4d0e-9a51-0c7c1f0e4a11")


def request_id_for(parts: Iterable[bytes]) -> str:
    """A request id that is the same for the same records."""
    return str(uuid.uuid5(_REQUEST_IDS, b"".join(parts).hex()))


class Upstream:
    """Billing and inspection, with one timeout per call."""

    def __init__(self, runtime: Runtime, timeout: float) -> None:
        self._runtime = runtime
        self._timeout = timeout

    def _call(self, what: str, method: Callable[..., Reply], request: Any) -> Reply:
        options = downstream_call_options(default_timeout=self._timeout)
        try:
            return method(request, **options.kwargs())
        except grpc.RpcError as error:
            if error.code() in RETRYABLE:
                raise Unavailable(
                    f"{what} cannot be reached right now",
                    reason="UPSTREAM_UNAVAILABLE",
                    retry_after=timedelta(seconds=5),
                ) from error
            raise error_from_rpc(error) from error

    def _internal(self) -> internal_grpc.BillingInternalServiceStub:
        return internal_grpc.BillingInternalServiceStub(self._runtime.channel("billing"))

    def _billing(self) -> billing_grpc.BillingServiceStub:
        return billing_grpc.BillingServiceStub(self._runtime.channel("billing"))

    def customers(self, ids: Iterable[str]) -> dict[str, resources_pb2.Customer]:
        """The archive records of those customers that exist, by number."""
        wanted = sorted(set(ids))
        found: dict[str, resources_pb2.Customer] = {}
        # BatchGetCustomers fails on the first unknown one, naming it: drop it and ask
        # again (unknown customers are rare and quarantined).
        while wanted:
            chunk = wanted[:1000]
            try:
                reply = self._call(
                    "the customer archive",
                    self._internal().BatchGetCustomers,
                    internal_pb.BatchGetCustomersRequest(names=[f"customers/{i}" for i in chunk]),
                )
            except DomainError as error:
                missing = error.metadata.get("name", "").removeprefix("customers/")
                if error.code != grpc.StatusCode.NOT_FOUND or missing not in chunk:
                    raise
                wanted.remove(missing)
                continue
            for customer in reply.customers:
                found[customer.name.removeprefix("customers/")] = customer
            wanted = wanted[len(chunk) :]
        return found

    def previous_reading(
        self, meter: str, before: resources_pb2.MeterReading
    ) -> resources_pb2.MeterReading | None:
        """The meter's latest stored reading taken before `before`'s read time."""
        reply = self._call(
            "the meter readings",
            self._billing().ListMeterReadings,
            billing_pb.ListMeterReadingsRequest(
                parent=meter, page_size=1, end_time=before.read_time
            ),
        )
        return reply.meter_readings[0] if reply.meter_readings else None

    def tariff_exists(self, name: str) -> bool:
        try:
            self._call(
                "the tariffs", self._billing().GetTariff, billing_pb.GetTariffRequest(name=name)
            )
        except DomainError as error:
            if error.code == grpc.StatusCode.NOT_FOUND:
                return False
            raise
        return True

    def upsert_customers(
        self, customers: Sequence[resources_pb2.Customer]
    ) -> internal_pb.BatchUpsertCustomersResponse:
        return self._call(
            "the customer archive",
            self._internal().BatchUpsertCustomers,
            internal_pb.BatchUpsertCustomersRequest(
                customers=customers,
                request_id=request_id_for(
                    c.SerializeToString(deterministic=True) for c in customers
                ),
            ),
        )

    def upsert_readings(
        self, readings: Sequence[resources_pb2.MeterReading]
    ) -> internal_pb.BatchUpsertMeterReadingsResponse:
        return self._call(
            "the meter readings",
            self._internal().BatchUpsertMeterReadings,
            internal_pb.BatchUpsertMeterReadingsRequest(
                meter_readings=readings,
                request_id=request_id_for(
                    r.SerializeToString(deterministic=True) for r in readings
                ),
            ),
        )

    def upsert_daily_readings(
        self, readings: Sequence[internal_pb.DailyMeterReading]
    ) -> internal_pb.BatchUpsertDailyUsageResponse:
        return self._call(
            "the daily readings",
            self._internal().BatchUpsertDailyUsage,
            internal_pb.BatchUpsertDailyUsageRequest(
                daily_readings=readings,
                request_id=request_id_for(
                    r.SerializeToString(deterministic=True) for r in readings
                ),
            ),
        )

    def record_payments(
        self, payments: Sequence[payment_pb2.Payment]
    ) -> internal_pb.BatchRecordExternalPaymentsResponse:
        return self._call(
            "the payments",
            self._internal().BatchRecordExternalPayments,
            internal_pb.BatchRecordExternalPaymentsRequest(
                payments=payments,
                request_id=request_id_for(
                    p.SerializeToString(deterministic=True) for p in payments
                ),
            ),
        )

    def record_anomaly(self, anomaly: inspection_resources.Anomaly) -> None:
        stub = inspection_grpc.InspectionServiceStub(self._runtime.channel("inspection"))
        self._call(
            "the inspection service",
            stub.RecordAnomaly,
            inspection_pb.RecordAnomalyRequest(anomaly=anomaly),
        )

    def record_application_step(
        self, step: expansion_pb.RecordApplicationStepRequest
    ) -> expansion_pb.RecordApplicationStepResponse:
        stub = expansion_grpc.ExpansionInternalServiceStub(self._runtime.channel("expansion"))
        return self._call("the expansion service", stub.RecordApplicationStep, step)
