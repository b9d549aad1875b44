"""A record as sent by a source, whatever its kind: its source id and version, the
customer it concerns and a digest of its content.

Source ids and versions (docs/ingest.md): a customer is known by its number and
versioned by its source_update_time; a reading by its name and the batch's source
time; a tariff assignment by the customer number and its source_update_time; a payment
by its name (the receipt id) and its complete_time; an application update by the
application's name and its source_update_time; a daily reading by its meter and day
(`{meter}/days/{date}`) and the batch's source time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from google.protobuf import timestamp_pb2

from palmgrid.billing.v1 import billing_internal_service_pb2, payment_pb2, resources_pb2
from palmgrid.ingest.v1 import resources_pb2 as ingest_pb2
from servers.runtime.protoconv import from_timestamp

KIND_PREFIX = "RECORD_KIND_"


@dataclass(frozen=True)
class Record:
    """One record of a push or an import, in the order it came."""

    kind: str  # RecordKind name without the prefix: "CUSTOMER", "METER_READING", …
    source_id: str
    version_time: datetime
    record: ingest_pb2.SourceRecord
    digest: str

    @property
    def customer_id(self) -> str:
        """The 10-digit number of the customer the record concerns ("" when malformed)."""
        name = _customer_name(self.record)
        return name.removeprefix("customers/").split("/", 1)[0]

    @property
    def kind_value(self) -> int:
        return ingest_pb2.RecordKind.Value(KIND_PREFIX + self.kind)


def _customer_name(record: ingest_pb2.SourceRecord) -> str:
    which = record.WhichOneof("record")
    if which == "customer":
        return record.customer.name
    if which == "meter_reading":
        return record.meter_reading.name
    if which == "tariff_assignment":
        return record.tariff_assignment.customer
    if which == "payment":
        return record.payment.name
    if which == "daily_reading":
        return record.daily_reading.meter
    # An application update concerns an application, not (yet) a customer.
    return ""


def _digest(record: ingest_pb2.SourceRecord) -> str:
    return hashlib.sha256(record.SerializeToString(deterministic=True)).hexdigest()


def customer_record(customer: resources_pb2.Customer) -> Record:
    wrapped = ingest_pb2.SourceRecord(customer=customer)
    return Record(
        "CUSTOMER",
        customer.name.removeprefix("customers/"),
        _time_or_epoch(customer.HasField("source_update_time"), customer.source_update_time),
        wrapped,
        _digest(wrapped),
    )


def reading_record(reading: resources_pb2.MeterReading, version_time: datetime) -> Record:
    wrapped = ingest_pb2.SourceRecord(meter_reading=reading)
    return Record("METER_READING", reading.name, version_time, wrapped, _digest(wrapped))


def daily_record(
    daily: billing_internal_service_pb2.DailyMeterReading, version_time: datetime
) -> Record:
    wrapped = ingest_pb2.SourceRecord(daily_reading=daily)
    source_id = f"{daily.meter}/days/{daily.date}"
    return Record("DAILY_READING", source_id, version_time, wrapped, _digest(wrapped))


def tariff_record(assignment: ingest_pb2.TariffAssignment) -> Record:
    wrapped = ingest_pb2.SourceRecord(tariff_assignment=assignment)
    return Record(
        "TARIFF_ASSIGNMENT",
        assignment.customer.removeprefix("customers/"),
        _time_or_epoch(assignment.HasField("source_update_time"), assignment.source_update_time),
        wrapped,
        _digest(wrapped),
    )


def payment_record(payment: payment_pb2.Payment) -> Record:
    wrapped = ingest_pb2.SourceRecord(payment=payment)
    return Record(
        "PAYMENT",
        payment.name,
        _time_or_epoch(payment.HasField("complete_time"), payment.complete_time),
        wrapped,
        _digest(wrapped),
    )


def application_record(update: ingest_pb2.ApplicationUpdate) -> Record:
    wrapped = ingest_pb2.SourceRecord(application_update=update)
    return Record(
        "APPLICATION_UPDATE",
        update.application,
        _time_or_epoch(update.HasField("source_update_time"), update.source_update_time),
        wrapped,
        _digest(wrapped),
    )


def from_source_record(record: ingest_pb2.SourceRecord, version_time: datetime) -> Record:
    """A stored or corrected SourceRecord as a Record (`version_time` is used for
    readings and daily readings, whose version is not in the record itself)."""
    which = record.WhichOneof("record")
    if which == "customer":
        return customer_record(record.customer)
    if which == "meter_reading":
        return reading_record(record.meter_reading, version_time)
    if which == "daily_reading":
        return daily_record(record.daily_reading, version_time)
    if which == "tariff_assignment":
        return tariff_record(record.tariff_assignment)
    if which == "payment":
        return payment_record(record.payment)
    if which == "application_update":
        return application_record(record.application_update)
    raise ValueError("empty source record")


EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


def _time_or_epoch(present: bool, value: timestamp_pb2.Timestamp) -> datetime:
    # A record without its version time is invalid and will be quarantined; the epoch
    # stands in so that it can still be keyed.
    return from_timestamp(value) if present else EPOCH
