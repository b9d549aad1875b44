"""The push methods: the source systems' batches of customer changes, meter readings,
daily readings, tariff assignments and payments, each record checked and applied on its
own (see servers.ingest.ingestor); the source is the caller's service account."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypeVar

from palmgrid.ingest.v1 import ingest_service_pb2 as ingest_pb
from servers.ingest.ingestor import Ingestor, Outcome
from servers.ingest.quarantine import quarantined_resource
from servers.ingest.records import (
    Record,
    application_record,
    customer_record,
    daily_record,
    payment_record,
    reading_record,
    tariff_record,
)
from servers.runtime import Clock, require_principal
from servers.runtime.protoconv import from_timestamp

Reply = TypeVar(
    "Reply",
    ingest_pb.PushCustomerChangesResponse,
    ingest_pb.PushMeterReadingsResponse,
    ingest_pb.PushDailyReadingsResponse,
)


def push_source() -> str:
    """Who is pushing: the caller's service account, `serviceAccounts/{cn}`."""
    return require_principal().user or "serviceAccounts/unknown"


class PushMethods:
    """Method group mixed into the ingest servicer."""

    ingestor: Ingestor
    clock: Clock

    def _quarantined(self, outcome: Outcome) -> dict[str, Any]:
        return {
            "quarantined_count": len(outcome.quarantined),
            "quarantined_records": [quarantined_resource(r) for r in outcome.quarantined],
        }

    def _ingest_counted(self, records: list[Record], reply_type: type[Reply]) -> Reply:
        """Ingest pushed records; the reply of a kind counted created, updated,
        unchanged and stale."""
        outcome = self.ingestor.ingest(records, push_source())
        return reply_type(
            created_count=outcome.created,
            updated_count=outcome.updated,
            unchanged_count=outcome.unchanged,
            stale_count=outcome.stale,
            **self._quarantined(outcome),
        )

    def PushCustomerChanges(
        self, request: ingest_pb.PushCustomerChangesRequest, context: Any
    ) -> ingest_pb.PushCustomerChangesResponse:
        records = [customer_record(c) for c in request.customers]
        return self._ingest_counted(records, ingest_pb.PushCustomerChangesResponse)

    def _reading_version(self, request: Any) -> datetime:
        if request.HasField("source_update_time"):
            return from_timestamp(request.source_update_time)
        return self.clock.now()

    def PushMeterReadings(
        self, request: ingest_pb.PushMeterReadingsRequest, context: Any
    ) -> ingest_pb.PushMeterReadingsResponse:
        version = self._reading_version(request)
        records = [reading_record(r, version) for r in request.meter_readings]
        return self._ingest_counted(records, ingest_pb.PushMeterReadingsResponse)

    def PushDailyReadings(
        self, request: ingest_pb.PushDailyReadingsRequest, context: Any
    ) -> ingest_pb.PushDailyReadingsResponse:
        version = self._reading_version(request)
        records = [daily_record(d, version) for d in request.daily_readings]
        return self._ingest_counted(records, ingest_pb.PushDailyReadingsResponse)

    def StreamMeterReadings(
        self, request_iterator: Iterator[ingest_pb.StreamMeterReadingsRequest], context: Any
    ) -> ingest_pb.StreamMeterReadingsResponse:
        source = push_source()
        reply = ingest_pb.StreamMeterReadingsResponse()
        for chunk in request_iterator:
            version = self._reading_version(chunk)
            records = [reading_record(r, version) for r in chunk.meter_readings]
            outcome = self.ingestor.ingest(records, source)
            reply.chunk_count += 1
            if outcome.unchanged + outcome.stale == len(records):
                reply.duplicate_chunk_count += 1
            reply.created_count += outcome.created
            reply.updated_count += outcome.updated
            reply.unchanged_count += outcome.unchanged
            reply.stale_count += outcome.stale
            reply.quarantined_count += len(outcome.quarantined)
        return reply

    def PushTariffAssignments(
        self, request: ingest_pb.PushTariffAssignmentsRequest, context: Any
    ) -> ingest_pb.PushTariffAssignmentsResponse:
        records = [tariff_record(a) for a in request.tariff_assignments]
        outcome = self.ingestor.ingest(records, push_source())
        return ingest_pb.PushTariffAssignmentsResponse(
            updated_count=outcome.updated,
            unchanged_count=outcome.unchanged,
            stale_count=outcome.stale,
            **self._quarantined(outcome),
        )

    def PushPayments(
        self, request: ingest_pb.PushPaymentsRequest, context: Any
    ) -> ingest_pb.PushPaymentsResponse:
        records = [payment_record(p) for p in request.payments]
        outcome = self.ingestor.ingest(records, push_source())
        return ingest_pb.PushPaymentsResponse(
            created_count=outcome.created,
            unchanged_count=outcome.unchanged + outcome.stale,
            **self._quarantined(outcome),
        )

    def PushApplicationUpdates(
        self, request: ingest_pb.PushApplicationUpdatesRequest, context: Any
    ) -> ingest_pb.PushApplicationUpdatesResponse:
        records = [application_record(u) for u in request.application_updates]
        outcome = self.ingestor.ingest(records, push_source())
        return ingest_pb.PushApplicationUpdatesResponse(
            applied_count=outcome.applied,
            unchanged_count=outcome.unchanged + outcome.stale,
            **self._quarantined(outcome),
        )
