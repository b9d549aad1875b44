"""Each record checked on its own before anything is applied: its format and ranges
(the billing record's `buf.validate` rules), the customer, meter and tariff it names,
and, for a reading, that it does not go below the meter's previous reading. A record
that fails gets a Problem and is quarantined; the others go on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from palmgrid.billing.v1 import billing_internal_service_pb2 as internal_pb2
from palmgrid.billing.v1 import payment_pb2, resources_pb2
from servers.ingest.records import Record
from servers.ingest.upstream import Upstream
from servers.runtime.validation import RequestValidator

# Payments that ingest records: those made outside the app.
EXTERNAL_CHANNELS = frozenset(
    {
        payment_pb2.PAYMENT_CHANNEL_COUNTER,
        payment_pb2.PAYMENT_CHANNEL_DIRECT_DEBIT,
        payment_pb2.PAYMENT_CHANNEL_OTHER,
    }
)


# Kinds whose records name an archived customer they must exist for.
NAMES_CUSTOMER = frozenset({"METER_READING", "DAILY_READING", "TARIFF_ASSIGNMENT", "PAYMENT"})


@dataclass(frozen=True)
class Problem:
    """Why a record is quarantined: an UPPER_SNAKE reason, the field at fault (a
    lowerCamelCase path in the record, or empty) and a description for staff."""

    reason: str
    field: str
    message: str


@dataclass
class Checked:
    """The outcome of checking a batch: problems by record index, and the archive
    records of the customers the batch names (for applying tariff assignments)."""

    problems: dict[int, Problem] = field(default_factory=dict)
    customers: dict[str, resources_pb2.Customer] = field(default_factory=dict)


def _member(record: Record) -> object:
    return getattr(record.record, record.record.WhichOneof("record") or "customer")


def _format_problem(validator: RequestValidator, record: Record) -> Problem | None:
    if record.record.WhichOneof("record") is None:
        return Problem("INVALID_FIELD", "", "the record is empty")
    member = _member(record)
    violations = validator.violations(member)  # type: ignore[arg-type]
    if violations:
        first = violations[0]
        return Problem("INVALID_FIELD", first.field, first.description)
    if record.kind == "PAYMENT":
        payment = record.record.payment
        if payment.channel not in EXTERNAL_CHANNELS:
            return Problem(
                "INVALID_FIELD", "channel", "must be a counter, direct-debit or other channel"
            )
        if not payment.HasField("complete_time"):
            return Problem("INVALID_FIELD", "completeTime", "the time paid is required")
    if record.kind == "DAILY_READING":
        return _daily_problem(record.record.daily_reading)
    return None


def _daily_problem(daily: internal_pb2.DailyMeterReading) -> Problem | None:
    # Billing makes the same checks; made here they name the one record at fault.
    try:
        date.fromisoformat(daily.date)
    except ValueError:
        return Problem("INVALID_FIELD", "date", "not a calendar date")
    missing = daily.quality == resources_pb2.READING_QUALITY_MISSING
    if missing and daily.HasField("energy_wh"):
        return Problem("INVALID_FIELD", "energyWh", "a MISSING day has no energy")
    if not missing and not daily.HasField("energy_wh"):
        return Problem("INVALID_FIELD", "energyWh", "required unless MISSING")
    return None


def check_records(
    records: Sequence[Record], validator: RequestValidator, upstream: Upstream
) -> Checked:
    """Check every record; the problems of those that fail."""
    checked = Checked()
    for index, record in enumerate(records):
        problem = _format_problem(validator, record)
        if problem is not None:
            checked.problems[index] = problem
    remaining = [i for i in range(len(records)) if i not in checked.problems]
    named = {records[i].customer_id for i in remaining if records[i].kind in NAMES_CUSTOMER}
    checked.customers = upstream.customers(named) if named else {}
    tariffs: dict[str, bool] = {}
    for index in remaining:
        problem = _reference_problem(records[index], checked.customers, tariffs, upstream)
        if problem is not None:
            checked.problems[index] = problem
    _check_backwards(records, checked.problems, upstream)
    return checked


def _reference_problem(
    record: Record,
    customers: dict[str, resources_pb2.Customer],
    tariffs: dict[str, bool],
    upstream: Upstream,
) -> Problem | None:
    if record.kind in NAMES_CUSTOMER and record.customer_id not in customers:
        field_name = {"TARIFF_ASSIGNMENT": "customer", "DAILY_READING": "meter"}.get(
            record.kind, "name"
        )
        return Problem(
            "UNKNOWN_CUSTOMER", field_name, f"customers/{record.customer_id} is not in the archive"
        )
    if record.kind in ("METER_READING", "DAILY_READING"):
        meter, where = _meter_named(record)
        if meter not in {m.name for m in customers[record.customer_id].meters}:
            return Problem("UNKNOWN_METER", where, f"{meter} is not one of the customer's meters")
    tariff = ""
    if record.kind == "CUSTOMER":
        tariff = record.record.customer.tariff
    elif record.kind == "TARIFF_ASSIGNMENT":
        tariff = record.record.tariff_assignment.tariff
    if tariff:
        if tariff not in tariffs:
            tariffs[tariff] = upstream.tariff_exists(tariff)
        if not tariffs[tariff]:
            return Problem("UNKNOWN_TARIFF", "tariff", f"{tariff} does not exist")
    return None


def _meter_named(record: Record) -> tuple[str, str]:
    """The meter a reading or daily reading names, and the field naming it."""
    if record.kind == "DAILY_READING":
        return record.record.daily_reading.meter, "meter"
    return record.record.meter_reading.name.rsplit("/readings/", 1)[0], "name"


def _check_backwards(
    records: Sequence[Record], problems: dict[int, Problem], upstream: Upstream
) -> None:
    """A reading below the one before it on the same meter (stored, or earlier in the
    batch) is a problem; a MISSING reading (value 0) is compared with nothing."""
    by_meter: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        if record.kind == "METER_READING" and index not in problems:
            reading = record.record.meter_reading
            if reading.quality != resources_pb2.READING_QUALITY_MISSING:
                by_meter[reading.name.rsplit("/readings/", 1)[0]].append(index)
    for meter, indexes in by_meter.items():
        indexes.sort(key=lambda i: records[i].record.meter_reading.read_time.ToNanoseconds())
        first = records[indexes[0]].record.meter_reading
        previous = upstream.previous_reading(meter, first)
        floor = previous.value_wh if previous is not None else 0
        for index in indexes:
            reading = records[index].record.meter_reading
            if reading.value_wh < floor:
                problems[index] = Problem(
                    "READING_BACKWARDS",
                    "valueWh",
                    f"{reading.value_wh} Wh is below the meter's previous reading of {floor} Wh",
                )
                continue
            floor = reading.value_wh
