"""Staff work on the quarantine: a record fixed and reprocessed lands in billing and is
resolved; one still bad stays open with the new reason; a discarded one is final; a
newer version of a quarantined record that is applied supersedes it."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest

from palmgrid.ingest.v1 import ingest_service_pb2 as ingest_pb
from palmgrid.ingest.v1 import resources_pb2
from servers.billing.models import Customer
from tests.ingest.support import START, IngestSystem, customer, request_id

STAFF = (
    "ingest.quarantinedRecords.list",
    "ingest.quarantinedRecords.get",
    "ingest.quarantinedRecords.reprocess",
    "ingest.quarantinedRecords.discard",
)


def quarantine_one(
    system: IngestSystem, number: str, **fields: object
) -> resources_pb2.QuarantinedRecord:
    reply = system.marketing.PushCustomerChanges(
        ingest_pb.PushCustomerChangesRequest(
            customers=[customer(number, START, **fields)], request_id=request_id()
        )
    )
    assert reply.quarantined_count == 1
    return reply.quarantined_records[0]


def test_a_fixed_record_reprocessed_lands_and_is_resolved(system: IngestSystem) -> None:
    held = quarantine_one(system, "3100000060", area_code="bad")
    fixed = resources_pb2.SourceRecord()
    fixed.CopyFrom(held.record)
    fixed.customer.area_code = "A02"
    still_bad = resources_pb2.SourceRecord()
    still_bad.CopyFrom(held.record)
    still_bad.customer.tariff = "tariffs/no-such-tariff"
    still_bad.customer.area_code = "A02"

    again = system.cli.ReprocessQuarantinedRecord(
        ingest_pb.ReprocessQuarantinedRecordRequest(
            name=held.name, record=still_bad, etag=held.etag
        ),
        metadata=system.staff(*STAFF),
    )
    assert again.state == resources_pb2.QUARANTINE_STATE_OPEN
    assert (again.reason, again.field) == ("UNKNOWN_TARIFF", "tariff")

    with pytest.raises(grpc.RpcError) as caught:
        system.cli.ReprocessQuarantinedRecord(
            ingest_pb.ReprocessQuarantinedRecordRequest(
                name=held.name, record=fixed, etag=held.etag
            ),
            metadata=system.staff(*STAFF),
        )
    assert caught.value.code() == grpc.StatusCode.ABORTED

    resolved = system.cli.ReprocessQuarantinedRecord(
        ingest_pb.ReprocessQuarantinedRecordRequest(name=held.name, record=fixed, etag=again.etag),
        metadata=system.staff(*STAFF),
    )
    assert resolved.state == resources_pb2.QUARANTINE_STATE_RESOLVED
    with system.billing.runtime.session() as session:
        row = session.get(Customer, "3100000060")
    assert row is not None and row.area_code == "A02"
    listed = system.cli.ListQuarantinedRecords(
        ingest_pb.ListQuarantinedRecordsRequest(), metadata=system.staff(*STAFF)
    )
    assert list(listed.quarantined_records) == []


def test_a_discarded_record_is_final(system: IngestSystem) -> None:
    held = quarantine_one(system, "3100000061", area_code="bad")
    discarded = system.cli.DiscardQuarantinedRecord(
        ingest_pb.DiscardQuarantinedRecordRequest(name=held.name, reason="户号已在营销系统注销"),
        metadata=system.staff(*STAFF),
    )
    assert discarded.state == resources_pb2.QUARANTINE_STATE_DISCARDED
    assert discarded.discard_reason == "户号已在营销系统注销"
    with pytest.raises(grpc.RpcError) as caught:
        system.cli.ReprocessQuarantinedRecord(
            ingest_pb.ReprocessQuarantinedRecordRequest(name=held.name),
            metadata=system.staff(*STAFF),
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    listed = system.cli.ListQuarantinedRecords(
        ingest_pb.ListQuarantinedRecordsRequest(state=resources_pb2.QUARANTINE_STATE_DISCARDED),
        metadata=system.staff(*STAFF),
    )
    assert [r.name for r in listed.quarantined_records] == [held.name]


def test_a_newer_version_applied_supersedes_the_quarantined_one(system: IngestSystem) -> None:
    held = quarantine_one(system, "3100000062", area_code="bad")
    newer = customer("3100000062", START + timedelta(minutes=1), area_code="A03")
    system.marketing.PushCustomerChanges(
        ingest_pb.PushCustomerChangesRequest(customers=[newer], request_id=request_id())
    )
    got = system.cli.GetQuarantinedRecord(
        ingest_pb.GetQuarantinedRecordRequest(name=held.name), metadata=system.staff(*STAFF)
    )
    assert got.state == resources_pb2.QUARANTINE_STATE_SUPERSEDED


def test_the_quarantine_is_for_staff_holding_its_permissions(system: IngestSystem) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        system.marketing.ListQuarantinedRecords(ingest_pb.ListQuarantinedRecordsRequest())
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as caught:
        system.cli.ListQuarantinedRecords(
            ingest_pb.ListQuarantinedRecordsRequest(),
            metadata=system.staff("ingest.quarantinedRecords.get"),
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
