"""Staff work on the quarantine: list and read quarantined records, reprocess one (as
corrected, or as it was once what it lacked has arrived), or discard it."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from palmgrid.ingest.v1 import ingest_service_pb2 as ingest_pb
from palmgrid.ingest.v1 import resources_pb2
from servers.ingest.ingestor import Ingestor
from servers.ingest.listing import newest_first
from servers.ingest.models import QuarantineRow, QuarantineState
from servers.ingest.quarantine import OPEN, QUARANTINED, quarantined_resource
from servers.ingest.records import KIND_PREFIX, from_source_record
from servers.runtime import (
    Clock,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Runtime,
    audit_note,
)
from servers.runtime.etags import check_content_etag


class QuarantineMethods:
    """Method group mixed into the ingest servicer."""

    runtime: Runtime
    ingestor: Ingestor
    clock: Clock

    def ListQuarantinedRecords(
        self, request: ingest_pb.ListQuarantinedRecordsRequest, context: Any
    ) -> ingest_pb.ListQuarantinedRecordsResponse:
        state = request.state or resources_pb2.QUARANTINE_STATE_OPEN
        state_name = resources_pb2.QuarantineState.Name(state).removeprefix("QUARANTINE_STATE_")
        query = select(QuarantineRow).where(col(QuarantineRow.state) == state_name)
        if request.kind:
            kind = resources_pb2.RecordKind.Name(request.kind).removeprefix(KIND_PREFIX)
            query = query.where(col(QuarantineRow.kind) == kind)
        if request.source:
            query = query.where(col(QuarantineRow.source) == request.source)
        rows, token = newest_first(
            self.runtime, QuarantineRow, query, request, [state, request.kind, request.source]
        )
        return ingest_pb.ListQuarantinedRecordsResponse(
            quarantined_records=[quarantined_resource(r) for r in rows], next_page_token=token
        )

    def GetQuarantinedRecord(
        self, request: ingest_pb.GetQuarantinedRecordRequest, context: Any
    ) -> resources_pb2.QuarantinedRecord:
        with self.runtime.session() as session:
            return quarantined_resource(_open_or_any(session, request.name, need_open=False))

    def ReprocessQuarantinedRecord(
        self, request: ingest_pb.ReprocessQuarantinedRecordRequest, context: Any
    ) -> resources_pb2.QuarantinedRecord:
        with self.runtime.session() as session:
            row = _open_or_any(session, request.name, need_open=True)
            check_content_etag(request.etag, quarantined_resource(row))
        stored = resources_pb2.SourceRecord()
        stored.ParseFromString(row.payload)
        record = from_source_record(stored, row.version_time)
        if request.HasField("record"):
            record = from_source_record(request.record, self.clock.now())
            if (record.kind, record.source_id) != (row.kind, row.source_id):
                raise InvalidArgument(
                    "the corrected record must be the same record (kind and source id)",
                    field_violations=[
                        FieldViolation("record", f"must be {row.kind} {row.source_id}")
                    ],
                )
        outcome = self.ingestor.process([record])
        self.ingestor.commit(outcome, row.source, keep_failed=False)
        now = self.clock.now()
        with self.runtime.session(write=True) as session:
            current = _open_or_any(session, request.name, need_open=False)
            current.payload = record.record.SerializeToString(deterministic=True)
            current.version_time = record.version_time
            current.update_time = now
            if outcome.failed:
                problem = outcome.failed[0][1]
                current.state = OPEN
                current.reason, current.field = problem.reason, problem.field
                current.message = problem.message
            elif outcome.stale:
                current.state = QuarantineState.SUPERSEDED.value
            else:
                current.state = QuarantineState.RESOLVED.value
            session.add(current)
            session.flush()
            audit_note().details = {"sourceId": current.source_id, "state": current.state}
            return quarantined_resource(current)

    def DiscardQuarantinedRecord(
        self, request: ingest_pb.DiscardQuarantinedRecordRequest, context: Any
    ) -> resources_pb2.QuarantinedRecord:
        with self.runtime.session(write=True) as session:
            row = _open_or_any(session, request.name, need_open=True)
            check_content_etag(request.etag, quarantined_resource(row))
            row.state = QuarantineState.DISCARDED.value
            row.discard_reason = request.reason
            row.update_time = self.clock.now()
            session.add(row)
            session.flush()
            audit_note().details = {"sourceId": row.source_id, "reason": request.reason}
            return quarantined_resource(row)


def _open_or_any(session: Any, name: str, *, need_open: bool) -> QuarantineRow:
    row = session.get(QuarantineRow, QUARANTINED.id(name))
    if row is None:
        raise NotFound(f"{name} not found")
    if need_open and row.state != OPEN:
        raise FailedPrecondition(
            f"{name} is {row.state.lower()}, not open", reason="FAILED_PRECONDITION"
        )
    return row
