"""The quarantine: records that could not be applied, kept with their reason and
source until staff reprocess or discard them. A record sent again while its earlier
copy waits here is not quarantined twice; a newer version of it that is applied
supersedes it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlmodel import Session, col, select, tuple_

from palmgrid.ingest.v1 import resources_pb2
from servers.ingest.checks import Problem
from servers.ingest.models import QuarantineRow, QuarantineState
from servers.ingest.records import KIND_PREFIX, Record
from servers.runtime.etags import content_etag
from servers.runtime.ids import Collection, new_id
from servers.runtime.protoconv import timestamp

QUARANTINED = Collection("quarantinedRecords")
OPEN = QuarantineState.OPEN.value


def quarantine(
    session: Session, failed: Sequence[tuple[Record, Problem]], source: str, now: datetime
) -> list[QuarantineRow]:
    """Keep each failed record (in the caller's transaction); the rows, one per record."""
    waiting = {
        (row.kind, row.source_id, row.payload): row
        for row in _open_copies(session, {(r.kind, r.source_id) for r, _ in failed})
    }
    rows: list[QuarantineRow] = []
    for record, problem in failed:
        payload = record.record.SerializeToString(deterministic=True)
        found = waiting.get((record.kind, record.source_id, payload))
        if found is None:
            found = QuarantineRow(
                id=new_id(),
                kind=record.kind,
                source=source[:80],
                source_id=record.source_id,
                version_time=record.version_time,
                payload=payload,
                reason=problem.reason,
                field=problem.field[:200],
                message=problem.message[:1000],
                state=OPEN,
                create_time=now,
                update_time=now,
            )
            session.add(found)
            waiting[(record.kind, record.source_id, payload)] = found
        rows.append(found)
    return rows


def supersede(session: Session, applied: Sequence[Record], now: datetime) -> None:
    """Open quarantined copies of applied records, no newer than them, are superseded."""
    versions = {(r.kind, r.source_id): r.version_time for r in applied}
    for row in _open_copies(session, versions):
        if row.version_time <= versions[(row.kind, row.source_id)]:
            row.state = QuarantineState.SUPERSEDED.value
            row.update_time = now
            session.add(row)


def _open_copies(session: Session, keys: Iterable[tuple[str, str]]) -> list[QuarantineRow]:
    """The OPEN rows of these (kind, source id) keys."""
    wanted = list(keys)
    found: list[QuarantineRow] = []
    for start in range(0, len(wanted), 500):
        query = select(QuarantineRow).where(
            tuple_(col(QuarantineRow.kind), col(QuarantineRow.source_id)).in_(
                wanted[start : start + 500]
            ),
            col(QuarantineRow.state) == OPEN,
        )
        found.extend(session.exec(query))
    return found


def quarantined_resource(row: QuarantineRow) -> resources_pb2.QuarantinedRecord:
    record = resources_pb2.SourceRecord()
    record.ParseFromString(row.payload)
    resource = resources_pb2.QuarantinedRecord(
        name=QUARANTINED.name(row.id),
        kind=resources_pb2.RecordKind.Value(KIND_PREFIX + row.kind),
        source=row.source,
        source_id=row.source_id,
        source_version_time=timestamp(row.version_time),
        record=record,
        reason=row.reason,
        field=row.field,
        message=row.message,
        state=resources_pb2.QuarantineState.Value("QUARANTINE_STATE_" + row.state),
        discard_reason=row.discard_reason,
        create_time=timestamp(row.create_time),
        update_time=timestamp(row.update_time),
    )
    resource.etag = content_etag(resource)
    return resource
