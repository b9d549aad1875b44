"""Import jobs: the rows of the staging database changed since a watermark, read batch
by batch (RunImportJob, driven by the worker) through the same checks, billing calls
and quarantine as a push. Each batch's progress — the cursor (change time and key of
its last row) and the counts — is committed in the transaction that remembers the
records it applied, so a job interrupted anywhere goes on from its last committed row
and no row is applied twice (a row re-read after a crash is found unchanged)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from palmgrid.ingest.v1 import ingest_service_pb2 as ingest_pb
from palmgrid.ingest.v1 import resources_pb2
from servers.ingest import staging, uploads
from servers.ingest.ingestor import Ingestor, Outcome
from servers.ingest.listing import newest_first
from servers.ingest.models import ACTIVE_JOB_STATES, ImportJobRow, ImportJobState
from servers.runtime import (
    Clock,
    FailedPrecondition,
    NotFound,
    Runtime,
    audit_note,
    require_principal,
)
from servers.runtime.db import create_engine
from servers.runtime.idempotency import IdempotentRequest, insert_once
from servers.runtime.ids import Collection, new_id
from servers.runtime.protoconv import from_timestamp, timestamp

JOBS = Collection("importJobs")
DEFAULT_ROW_LIMIT = 1_000_000
DEFAULT_BATCH = 500
KEPT_ERRORS = 100
SOURCE_PREFIX = "IMPORT_SOURCE_"
STATE_PREFIX = "IMPORT_JOB_STATE_"


def job_resource(row: ImportJobRow) -> resources_pb2.ImportJob:
    return resources_pb2.ImportJob(
        name=JOBS.name(row.id),
        source=resources_pb2.ImportSource.Value(SOURCE_PREFIX + row.source),
        watermark_time=timestamp(row.watermark_time) if row.watermark_time else None,
        row_limit=row.row_limit,
        state=resources_pb2.ImportJobState.Value(STATE_PREFIX + row.state),
        next_watermark_time=(
            timestamp(row.next_watermark_time) if row.next_watermark_time else None
        ),
        read_count=row.read_count,
        applied_count=row.applied_count,
        unchanged_count=row.unchanged_count,
        rejected_count=row.rejected_count,
        errors=[resources_pb2.ImportError(**e) for e in row.errors],
        failure_message=row.failure_message,
        creator=row.creator,
        create_time=timestamp(row.create_time),
        start_time=timestamp(row.start_time) if row.start_time else None,
        end_time=timestamp(row.end_time) if row.end_time else None,
        cursor_time=timestamp(row.cursor_time) if row.cursor_time else None,
        cursor_row_key=row.cursor_key,
        total_count=row.total_count,
        from_file=row.from_file,
    )


def _get(session: Session, name: str) -> ImportJobRow:
    row = session.get(ImportJobRow, JOBS.id(name))
    if row is None:
        raise NotFound(f"{name} not found")
    return row


def _load(session: Session, name: str) -> resources_pb2.ImportJob:
    return job_resource(_get(session, name))


def _ended(row: ImportJobRow) -> FailedPrecondition:
    return FailedPrecondition(
        f"{JOBS.name(row.id)} has ended ({row.state.lower()})", reason="FAILED_PRECONDITION"
    )


class ImportMethods:
    """Method group mixed into the ingest servicer."""

    runtime: Runtime
    ingestor: Ingestor
    clock: Clock
    staging_engine: Engine | None

    def CreateImportJob(
        self, request: ingest_pb.CreateImportJobRequest, context: Any
    ) -> resources_pb2.ImportJob:
        sent = request.import_job
        source = resources_pb2.ImportSource.Name(sent.source).removeprefix(SOURCE_PREFIX)
        key = IdempotentRequest.of(self.runtime, request, clock=self.clock)
        earlier = key.replay(self.runtime, _load) if key is not None else None
        if earlier is not None:
            return earlier
        # A file that cannot be read is refused before anything else is looked at.
        rows = uploads.parse_csv(source, request.csv_file) if request.csv_file else None
        with self.runtime.session() as session:
            active = session.exec(
                select(ImportJobRow).where(
                    col(ImportJobRow.source) == source,
                    col(ImportJobRow.state).in_(ACTIVE_JOB_STATES),
                )
            ).first()
            watermark = (
                from_timestamp(sent.watermark_time) if sent.HasField("watermark_time") else None
            )
            if watermark is None and not request.csv_file:
                watermark = _last_watermark(session, source)
        if active is not None:
            raise FailedPrecondition(
                f"{JOBS.name(active.id)} of {source.lower()} is still {active.state.lower()}",
                reason="FAILED_PRECONDITION",
            )
        row = ImportJobRow(
            id=new_id(),
            source=source,
            state=ImportJobState.QUEUED.value,
            watermark_time=watermark,
            row_limit=sent.row_limit or DEFAULT_ROW_LIMIT,
            from_file=bool(request.csv_file),
            creator=require_principal().user[:80],
            create_time=self.clock.now(),
        )
        if rows is not None:
            # Stored before the job exists, so a job never lacks its rows.
            uploads.store_upload(self.runtime.settings.data_dir, row.id, source, rows)
        made = insert_once(
            self.runtime,
            request,
            row,
            resource=job_resource,
            find=_get,
            clock=self.clock,
        )
        audit_note().resource = made.name
        return made

    def GetImportJob(
        self, request: ingest_pb.GetImportJobRequest, context: Any
    ) -> resources_pb2.ImportJob:
        with self.runtime.session() as session:
            return job_resource(_get(session, request.name))

    def ListImportJobs(
        self, request: ingest_pb.ListImportJobsRequest, context: Any
    ) -> ingest_pb.ListImportJobsResponse:
        query = select(ImportJobRow)
        if request.source:
            source = resources_pb2.ImportSource.Name(request.source).removeprefix(SOURCE_PREFIX)
            query = query.where(col(ImportJobRow.source) == source)
        if request.state:
            state = resources_pb2.ImportJobState.Name(request.state).removeprefix(STATE_PREFIX)
            query = query.where(col(ImportJobRow.state) == state)
        rows, token = newest_first(
            self.runtime, ImportJobRow, query, request, [request.source, request.state]
        )
        return ingest_pb.ListImportJobsResponse(
            import_jobs=[job_resource(r) for r in rows], next_page_token=token
        )

    def CancelImportJob(
        self, request: ingest_pb.CancelImportJobRequest, context: Any
    ) -> resources_pb2.ImportJob:
        with self.runtime.session(write=True) as session:
            row = _get(session, request.name)
            if row.state not in ACTIVE_JOB_STATES:
                raise _ended(row)
            row.state = ImportJobState.CANCELLED.value
            row.end_time = self.clock.now()
            session.add(row)
            session.flush()
            return job_resource(row)

    def RunImportJob(
        self, request: ingest_pb.RunImportJobRequest, context: Any
    ) -> resources_pb2.ImportJob:
        with self.runtime.session() as session:
            row = _get(session, request.name)
        if row.state not in ACTIVE_JOB_STATES:
            raise _ended(row)
        cursor = (row.cursor_time, row.cursor_key) if row.cursor_time else None
        limit = max(0, min(request.max_rows or DEFAULT_BATCH, row.row_limit - row.read_count))
        engine = self.staging_engine
        if row.from_file:
            engine = uploads.upload_engine(self.runtime.settings.data_dir, row.id)
        try:
            if engine is None:
                raise LookupError("no staging database is configured")
            total = None
            if row.state == ImportJobState.QUEUED.value:
                total = staging.count_rows(engine, row.source, since=row.watermark_time)
            rows = staging.read_rows(
                engine, row.source, since=row.watermark_time, cursor=cursor, limit=limit
            )
        except Exception as error:
            with self.runtime.session(write=True) as session:
                return _fail(session, _get(session, request.name), error, self.clock.now())
        finally:
            if row.from_file and engine is not None:
                engine.dispose()
        finished = len(rows) < limit or row.read_count + len(rows) >= row.row_limit
        made: dict[str, resources_pb2.ImportJob] = {}

        def progress(session: Session, outcome: Outcome) -> None:
            current = _get(session, request.name)
            moved = (current.cursor_time, current.cursor_key) != (row.cursor_time, row.cursor_key)
            if current.state not in ACTIVE_JOB_STATES or moved:
                # Cancelled while the batch ran, or another call committed this batch
                # first: what it applied stays applied (and was applied once, by the
                # ledger), and is not counted twice.
                made["job"] = job_resource(current)
                return
            if total is not None and current.state == ImportJobState.QUEUED.value:
                current.state = ImportJobState.RUNNING.value
                current.start_time = self.clock.now()
                current.total_count = min(current.row_limit, total)
            _count(current, rows, outcome)
            if finished:
                current.state = ImportJobState.SUCCEEDED.value
                current.end_time = self.clock.now()
            session.add(current)
            session.flush()
            made["job"] = job_resource(current)

        self.ingestor.ingest([r.record for r in rows], request.name, also=progress)
        return made["job"]


def _count(row: ImportJobRow, rows: list[staging.StagedRow], outcome: Outcome) -> None:
    if rows:
        row.cursor_time, row.cursor_key = rows[-1].update_time, rows[-1].key
        latest = max(r.update_time for r in rows)
        if row.next_watermark_time is None or latest > row.next_watermark_time:
            row.next_watermark_time = latest
    row.read_count += len(rows)
    row.applied_count += outcome.applied
    row.unchanged_count += outcome.unchanged + outcome.stale
    row.rejected_count += len(outcome.failed)
    keys = {id(r.record): r.key for r in rows}
    room = KEPT_ERRORS - len(row.errors)
    if room > 0 and outcome.failed:
        row.errors = [
            *row.errors,
            *(
                {
                    "row_key": keys.get(id(record), record.source_id),
                    "field": problem.field,
                    "reason": problem.reason,
                    "message": problem.message,
                }
                for record, problem in outcome.failed[:room]
            ),
        ]


def _fail(
    session: Session, row: ImportJobRow, error: Exception, now: datetime
) -> resources_pb2.ImportJob:
    """The job FAILED: the staging database could not be read. Its cursor stays where
    its last batch left it; the next job starts again from the watermark."""
    row.state = ImportJobState.FAILED.value
    row.failure_message = f"the staging database could not be read ({type(error).__name__})"
    row.end_time = now
    session.add(row)
    session.flush()
    return job_resource(row)


def _last_watermark(session: Session, source: str) -> datetime | None:
    last = session.exec(
        select(ImportJobRow)
        .where(
            col(ImportJobRow.source) == source,
            col(ImportJobRow.state) == ImportJobState.SUCCEEDED.value,
            col(ImportJobRow.next_watermark_time).is_not(None),
            col(ImportJobRow.from_file).is_(False),
        )
        .order_by(col(ImportJobRow.create_time).desc())
    ).first()
    return last.next_watermark_time if last is not None else None


def staging_engine_for(url: str) -> Engine | None:
    """The staging database's engine, or None when none is configured."""
    return create_engine(url) if url else None
