"""The audit log: an append-only hash chain of records.

Each record's hash is SHA-256 over a canonical JSON form of its content and the
previous record's hash (32 zero bytes before the first). Appends lock the head row
(`account_audit_head`), so sequence numbers have no gaps even with several replicas;
triggers refuse UPDATE and DELETE of records; `verify` recomputes the chain and names
the first record that does not match, so an edit made around the triggers (by someone
with the database's owner rights) is found. `python -m servers.account.verify_audit`
runs the check from the command line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from palmgrid.account.v1 import admin_resources_pb2 as admin_pb
from servers.account import models
from servers.runtime.audit import AuditEntry, sanitize_details

__all__ = ["GENESIS", "AuditEntry", "Verification", "append", "seed", "to_proto", "verify"]

GENESIS = bytes(32)
_BATCH = 1000


def _micros(moment: datetime) -> datetime:
    # Python datetimes hold microseconds, as both databases do, so what is hashed here
    # is exactly what is read back when the chain is verified.
    return moment.astimezone(UTC)


def _time_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_hash(record: models.AuditRecord) -> bytes:
    """SHA-256 over the record's content and its previous_hash."""
    content = {
        "sequence": record.sequence,
        "event_time": _time_text(record.event_time),
        "actor": record.actor,
        "actor_username": record.actor_username,
        "action": record.action,
        "resource": record.resource,
        "code": record.code,
        "error_reason": record.error_reason,
        "request_id": record.request_id,
        "trace_id": record.trace_id,
        "client_ip": record.client_ip,
        "details": dict(sorted(record.details.items())),
        "recorder": record.recorder,
        "create_time": _time_text(record.create_time),
        "previous_hash": record.previous_hash.hex(),
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).digest()


def seed(session: Session) -> None:
    """Create the chain's head row unless it exists."""
    if session.get(models.AuditHead, 1) is None:
        session.add(models.AuditHead(id=1, sequence=0, hash=GENESIS))


def append(
    session: Session, entry: AuditEntry, *, now: datetime, write_request_id: str | None = None
) -> models.AuditRecord:
    """Append `entry` in the session's transaction (a write transaction on SQLite); an
    entry without an event time happened `now`."""
    if write_request_id:
        existing = session.exec(
            select(models.AuditRecord).where(
                models.AuditRecord.write_request_id == write_request_id
            )
        ).first()
        if existing is not None:
            return existing
    head = session.exec(
        select(models.AuditHead).where(models.AuditHead.id == 1).with_for_update()
    ).one()
    record = models.AuditRecord(
        sequence=head.sequence + 1,
        event_time=_micros(entry.event_time or now),
        actor=entry.actor,
        actor_username=entry.actor_username[:64],
        action=entry.action[:256],
        resource=entry.resource[:512],
        code=entry.code,
        error_reason=entry.error_reason[:64],
        request_id=entry.request_id[:64],
        trace_id=entry.trace_id[:32],
        client_ip=entry.client_ip[:64],
        details=sanitize_details(entry.details),
        recorder=entry.recorder,
        create_time=_micros(now),
        previous_hash=head.hash,
        hash=b"",
        write_request_id=write_request_id,
    )
    record.hash = record_hash(record)
    head.sequence = record.sequence
    head.hash = record.hash
    session.add(record)
    session.add(head)
    session.flush()
    return record


@dataclass(frozen=True)
class Verification:
    """The outcome of checking the chain over a range of sequences."""

    valid: bool
    start_sequence: int
    end_sequence: int
    verified_count: int
    head_hash: bytes
    first_invalid_sequence: int = 0
    problem: str = ""


def _records(session: Session, start: int, end: int) -> Iterator[models.AuditRecord]:
    after = start - 1
    while after < end:
        batch = session.exec(
            select(models.AuditRecord)
            .where(
                col(models.AuditRecord.sequence) > after, col(models.AuditRecord.sequence) <= end
            )
            .order_by(col(models.AuditRecord.sequence))
            .limit(_BATCH)
        ).all()
        if not batch:
            return
        yield from batch
        after = batch[-1].sequence


def verify(session: Session, start: int = 0, end: int = 0) -> Verification:
    """Check records `start`..`end` (0: the first / the newest): each hash recomputes,
    each links to its predecessor's hash, no sequence is missing, and the head matches."""
    head = session.get(models.AuditHead, 1)
    newest = head.sequence if head else 0
    start = max(start, 1)
    end = newest if end == 0 else min(end, newest)
    if end < start:
        return Verification(True, start, end, 0, head.hash if head else GENESIS)
    if start == 1:
        previous = GENESIS
    else:
        before = session.get(models.AuditRecord, start - 1)
        if before is None:
            return Verification(False, start, end, 0, GENESIS, start - 1, "missing record")
        previous = before.hash
    expected = start
    count = 0
    for record in _records(session, start, end):
        problem = ""
        if record.sequence != expected:
            return Verification(False, start, end, count, previous, expected, "missing record")
        if record.previous_hash != previous:
            problem = "broken link: previous_hash does not match the preceding record"
        elif record_hash(record) != record.hash:
            problem = "hash mismatch: the record was changed after it was written"
        if problem:
            return Verification(False, start, end, count, previous, record.sequence, problem)
        previous = record.hash
        expected += 1
        count += 1
    if expected <= end:
        return Verification(False, start, end, count, previous, expected, "missing record")
    if head is not None and end == newest and head.hash != previous:
        return Verification(
            False, start, end, count, previous, end, "head does not match the newest record"
        )
    return Verification(True, start, end, count, previous)


def to_proto(record: models.AuditRecord) -> admin_pb.AuditRecord:
    message = admin_pb.AuditRecord(
        name=f"auditRecords/{record.sequence}",
        sequence=record.sequence,
        actor=record.actor,
        actor_username=record.actor_username,
        action=record.action,
        resource=record.resource,
        code=record.code,  # type: ignore[arg-type]
        error_reason=record.error_reason,
        request_id=record.request_id,
        trace_id=record.trace_id,
        client_ip=record.client_ip,
        details=record.details,
        recorder=record.recorder,
        previous_hash=record.previous_hash,
        hash=record.hash,
    )
    message.event_time.FromDatetime(record.event_time)
    message.create_time.FromDatetime(record.create_time)
    return message
