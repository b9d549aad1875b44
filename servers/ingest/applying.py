"""Checked records handed to their owning service (billing; expansion for application
updates, see servers.ingest.applications), a batch per kind. Billing refuses a whole batch
when one record in it is bad (a check only it can make, or a race), so a refused batch
is sent again record by record and only the refused records come back as problems."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import grpc

from palmgrid.billing.v1 import resources_pb2
from servers.ingest.applications import send_application_updates
from servers.ingest.checks import Problem
from servers.ingest.records import Record
from servers.ingest.upstream import Upstream
from servers.runtime import Unavailable
from servers.runtime.errors import DomainError, InvalidArgument

BATCH = 500


@dataclass
class Applied:
    """What billing did with the records it accepted, and the ones it refused."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    accepted: list[Record] = field(default_factory=list)
    refused: list[tuple[Record, Problem]] = field(default_factory=list)

    def add(self, created: int, updated: int, unchanged: int) -> None:
        self.created += created
        self.updated += updated
        self.unchanged += unchanged


Send = Callable[[Sequence[Record]], tuple[int, int, int]]


def apply_records(
    records: Sequence[Record], customers: dict[str, resources_pb2.Customer], upstream: Upstream
) -> Applied:
    """Apply checked records (of any kinds) through billing. `customers`: the archive
    records the check read (tariff assignments change them)."""
    applied = Applied()
    senders: dict[str, Send] = {
        "CUSTOMER": lambda batch: _customers(upstream, batch),
        "METER_READING": lambda batch: _readings(upstream, batch),
        "DAILY_READING": lambda batch: _daily_readings(upstream, batch),
        "TARIFF_ASSIGNMENT": lambda batch: _tariffs(upstream, batch, customers),
        "PAYMENT": lambda batch: _payments(upstream, batch),
        "APPLICATION_UPDATE": lambda batch: send_application_updates(
            upstream, [r.record.application_update for r in batch]
        ),
    }
    for kind, send in senders.items():
        of_kind = [r for r in records if r.kind == kind]
        for start in range(0, len(of_kind), BATCH):
            owner = "EXPANSION" if kind == "APPLICATION_UPDATE" else "BILLING"
            _send_batch(of_kind[start : start + BATCH], send, applied, owner)
    return applied


def _send_batch(batch: Sequence[Record], send: Send, applied: Applied, owner: str) -> None:
    if len(batch) > 1:
        try:
            applied.add(*send(batch))
            applied.accepted.extend(batch)
            return
        except Unavailable:
            raise
        except DomainError:
            pass
    for record in batch:
        try:
            applied.add(*send([record]))
            applied.accepted.append(record)
        except Unavailable:
            raise
        except DomainError as error:
            applied.refused.append((record, _problem(error, owner)))


def _problem(error: DomainError, owner: str) -> Problem:
    if error.code == grpc.StatusCode.NOT_FOUND and owner == "EXPANSION":
        return Problem("UNKNOWN_APPLICATION", "application", error.message)
    if error.code == grpc.StatusCode.ALREADY_EXISTS:
        return Problem("PAYMENT_ID_CONFLICT", "name", error.message)
    if error.code == grpc.StatusCode.FAILED_PRECONDITION:
        # The owning service does not take the record now; it is kept for later.
        return Problem("OWNER_UNAVAILABLE", "", error.message)
    where = ""
    if isinstance(error, InvalidArgument) and error.field_violations:
        # "customers[0].tariff" → "tariff": the path within the one record sent.
        field = error.field_violations[0].field
        where = field.partition("].")[2] or field
    return Problem(f"REFUSED_BY_{owner}", where, error.message)


def _customers(upstream: Upstream, batch: Sequence[Record]) -> tuple[int, int, int]:
    reply = upstream.upsert_customers([r.record.customer for r in batch])
    return reply.created_count, reply.updated_count, reply.unchanged_count + reply.stale_count


def _readings(upstream: Upstream, batch: Sequence[Record]) -> tuple[int, int, int]:
    reply = upstream.upsert_readings([r.record.meter_reading for r in batch])
    return reply.created_count, reply.updated_count, reply.unchanged_count


def _daily_readings(upstream: Upstream, batch: Sequence[Record]) -> tuple[int, int, int]:
    reply = upstream.upsert_daily_readings([r.record.daily_reading for r in batch])
    return reply.created_count, reply.updated_count, reply.unchanged_count


def _tariffs(
    upstream: Upstream, batch: Sequence[Record], customers: dict[str, resources_pb2.Customer]
) -> tuple[int, int, int]:
    changed: dict[str, resources_pb2.Customer] = {}
    for record in batch:
        assignment = record.record.tariff_assignment
        current = changed.get(record.customer_id) or customers[record.customer_id]
        if current.tariff == assignment.tariff:
            continue
        moved = resources_pb2.Customer()
        moved.CopyFrom(current)
        moved.tariff = assignment.tariff
        # Billing keeps the newest source time of the record; an assignment newer than
        # the archive record moves it on, an older one leaves it.
        if assignment.source_update_time.ToNanoseconds() > moved.source_update_time.ToNanoseconds():
            moved.source_update_time.CopyFrom(assignment.source_update_time)
        changed[record.customer_id] = moved
    if changed:
        upstream.upsert_customers(list(changed.values()))
    return 0, len(changed), len(batch) - len(changed)


def _payments(upstream: Upstream, batch: Sequence[Record]) -> tuple[int, int, int]:
    reply = upstream.record_payments([r.record.payment for r in batch])
    return reply.recorded_count, 0, reply.duplicate_count
