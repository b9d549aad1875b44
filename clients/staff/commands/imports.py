"""`palm imports`: import jobs from the marketing system's staging database (run one
with a progress bar, follow one the worker runs, list, show, cancel) and the quarantine
of records that could not be applied (list, show, reprocess, discard)."""

from __future__ import annotations

import time
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from google.protobuf import json_format
from google.protobuf.message import Message
from rich.console import Group

from clients.staff import output
from clients.staff.imports import follow_import_job, summary
from clients.staff.rpc import call
from palmgrid.ingest.v1 import ingest_service_pb2 as pb
from palmgrid.ingest.v1 import ingest_service_pb2_grpc
from palmgrid.ingest.v1.resources_pb2 import (
    ImportJob,
    ImportJobState,
    ImportSource,
    QuarantinedRecord,
    QuarantineState,
    RecordKind,
)

group = typer.Typer(
    name="imports",
    help="Import jobs from the staging database and the quarantine of bad records.",
    no_args_is_help=True,
)
quarantine = typer.Typer(
    name="quarantine",
    help="Records that could not be applied: fix and reprocess, or discard.",
    no_args_is_help=True,
)
STUB = ingest_service_pb2_grpc.IngestServiceStub
# CreateImportJobRequest.csv_file's limit.
MAX_FILE_BYTES = 3_500_000


class Source(StrEnum):
    customers = "customers"
    meter_readings = "meter-readings"
    payments = "payments"
    tariff_assignments = "tariff-assignments"


class JobState(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


class Kind(StrEnum):
    customer = "customer"
    meter_reading = "meter-reading"
    tariff_assignment = "tariff-assignment"
    payment = "payment"
    application_update = "application-update"


class State(StrEnum):
    open = "open"
    resolved = "resolved"
    discarded = "discarded"
    superseded = "superseded"


def _source(choice: Source | None) -> ImportSource.ValueType:
    if choice is None:
        return ImportSource.IMPORT_SOURCE_UNSPECIFIED
    return ImportSource.Value("IMPORT_SOURCE_" + choice.name.upper())


def _job_state(choice: JobState | None) -> ImportJobState.ValueType:
    if choice is None:
        return ImportJobState.IMPORT_JOB_STATE_UNSPECIFIED
    return ImportJobState.Value("IMPORT_JOB_STATE_" + choice.name.upper())


def _kind(choice: Kind | None) -> RecordKind.ValueType:
    if choice is None:
        return RecordKind.RECORD_KIND_UNSPECIFIED
    return RecordKind.Value("RECORD_KIND_" + choice.name.upper())


def _state(choice: State | None) -> QuarantineState.ValueType:
    if choice is None:
        return QuarantineState.QUARANTINE_STATE_UNSPECIFIED
    return QuarantineState.Value("QUARANTINE_STATE_" + choice.name.upper())


def _job_name(value: str) -> str:
    return output.resource("importJobs", value)


def _record_name(value: str) -> str:
    return output.resource("quarantinedRecords", value)


def _job(method: str, request: Message) -> ImportJob:
    reply: ImportJob = call("ingest", STUB, method, request)
    return reply


def _record(method: str, request: Message) -> QuarantinedRecord:
    reply: QuarantinedRecord = call("ingest", STUB, method, request)
    return reply


def _job_row(job: ImportJob) -> tuple[object, ...]:
    return (
        job.name.removeprefix("importJobs/"),
        output.enum_label(ImportSource.Name(job.source), "IMPORT_SOURCE_"),
        output.enum_label(ImportJobState.Name(job.state), "IMPORT_JOB_STATE_"),
        f"{job.read_count}/{job.total_count}",
        job.applied_count,
        job.unchanged_count,
        job.rejected_count,
        output.when(job.create_time, zone=False),
        job.creator,
    )


JOB_COLUMNS = [
    "job",
    "source",
    "state",
    "read",
    "applied",
    "unchanged",
    "quarantined",
    "created",
    "creator",
]
JobName = Annotated[str, typer.Argument(help="the job, `importJobs/ID` or ID")]
RecordName = Annotated[str, typer.Argument(help="the record, `quarantinedRecords/ID` or ID")]
Etag = Annotated[str, typer.Option("--etag", help="the etag you read (refused if it changed)")]


@group.command()
def run(
    source: Annotated[Source, typer.Argument(help="the staging table to import")],
    since: Annotated[
        str, typer.Option("--since", help="rows changed at or after this time (ISO 8601)")
    ] = "",
    row_limit: Annotated[int, typer.Option("--row-limit", min=0, help="stop after")] = 0,
    batch: Annotated[int, typer.Option("--batch", min=1, max=5000, help="rows a call")] = 500,
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            exists=True,
            dir_okay=False,
            help="a CSV file of the staging table's shape, instead of the staging database",
        ),
    ] = None,
) -> None:
    """Import a staging table (or a CSV file of its shape) now, drawing its progress,
    then its counts.

    The job starts where the source's last succeeded job ended (or at `--since`); a
    file is imported whole.

    Example: `palm imports run meter-readings --file readings.csv`
    """
    job = ImportJob(source=_source(source), row_limit=row_limit)
    if since:
        job.watermark_time.CopyFrom(output.timestamp(output.parse_time(since, "--since")))
    request = pb.CreateImportJobRequest(import_job=job, request_id=str(uuid.uuid4()))
    if csv_file is not None:
        if csv_file.stat().st_size > MAX_FILE_BYTES:
            raise typer.BadParameter(
                f"at most {MAX_FILE_BYTES:,} bytes a file: split it", param_hint="--file"
            )
        request.csv_file = csv_file.read_bytes()
    created = _job("CreateImportJob", request)

    def next_batch(current: ImportJob) -> ImportJob:
        return _job("RunImportJob", pb.RunImportJobRequest(name=current.name, max_rows=batch))

    # The first batch counts the job's rows, so the bar has its total from the start.
    follow_import_job(next_batch(created), next_batch, output.console)


@group.command()
def follow(
    job: JobName,
    interval: Annotated[float, typer.Option("--interval", min=0.05, help="seconds")] = 1.0,
) -> None:
    """Follow a job the worker runs until it ends, drawing its progress.

    Example: `palm imports follow 5f2c...`
    """

    def after_a_pause(current: ImportJob) -> ImportJob:
        time.sleep(interval)
        return _job("GetImportJob", pb.GetImportJobRequest(name=current.name))

    first = _job("GetImportJob", pb.GetImportJobRequest(name=_job_name(job)))
    follow_import_job(first, after_a_pause, output.console)


@group.command("list")
def list_jobs(
    source: Annotated[Source | None, typer.Option("--source")] = None,
    state: Annotated[JobState | None, typer.Option("--state")] = None,
    limit: output.Limit = 50,
    page_token: output.PageToken = "",
    as_json: output.JsonFlag = False,
) -> None:
    """List import jobs, newest first.

    Example: `palm imports list --source meter-readings`
    """
    request = pb.ListImportJobsRequest(
        source=_source(source),
        state=_job_state(state),
        page_size=limit,
        page_token=page_token,
    )
    reply: pb.ListImportJobsResponse = call("ingest", STUB, "ListImportJobs", request)
    rows = [_job_row(j) for j in reply.import_jobs]
    output.show_page(reply, as_json, "import jobs", JOB_COLUMNS, rows)


@group.command()
def show(job: JobName, as_json: output.JsonFlag = False) -> None:
    """Show one job: its counts and the first rows it quarantined.

    Example: `palm imports show 5f2c...`
    """
    found = _job("GetImportJob", pb.GetImportJobRequest(name=_job_name(job)))

    def render() -> object:
        errors = output.table(
            "first quarantined rows",
            ["row", "reason", "field", "message"],
            [(e.row_key, e.reason, e.field, e.message) for e in found.errors],
            timed=False,
        )
        head = output.fields(
            found.name,
            [
                ("source", output.enum_label(ImportSource.Name(found.source), "IMPORT_SOURCE_")),
                ("rows from", "a CSV file" if found.from_file else "the staging database"),
                ("changed since", output.when(found.watermark_time)),
                ("next watermark", output.when(found.next_watermark_time)),
                ("creator", found.creator),
                ("created", output.when(found.create_time)),
            ],
        )
        return Group(head, summary(found), errors)

    output.show(found, as_json, render)


@group.command()
def cancel(job: JobName, as_json: output.JsonFlag = False) -> None:
    """Stop a job; what it applied stays.

    Example: `palm imports cancel 5f2c...`
    """
    found = _job("CancelImportJob", pb.CancelImportJobRequest(name=_job_name(job)))
    output.show(found, as_json, lambda: summary(found))


def _record_row(r: QuarantinedRecord) -> tuple[object, ...]:
    return (
        r.name.removeprefix("quarantinedRecords/"),
        output.enum_label(RecordKind.Name(r.kind), "RECORD_KIND_"),
        r.source_id,
        r.reason,
        r.field,
        output.enum_label(QuarantineState.Name(r.state), "QUARANTINE_STATE_"),
        r.source,
        output.when(r.create_time, zone=False),
    )


RECORD_COLUMNS = ["record", "kind", "source id", "reason", "field", "state", "from", "created"]


@quarantine.command("list")
def list_records(
    state: Annotated[State | None, typer.Option("--state", help="open unless given")] = None,
    kind: Annotated[Kind | None, typer.Option("--kind")] = None,
    source: Annotated[
        str, typer.Option("--source", help="`importJobs/ID` or `serviceAccounts/ID`")
    ] = "",
    limit: output.Limit = 50,
    page_token: output.PageToken = "",
    as_json: output.JsonFlag = False,
) -> None:
    """List quarantined records, newest first.

    Example: `palm imports quarantine list --kind meter-reading`
    """
    request = pb.ListQuarantinedRecordsRequest(
        state=_state(state),
        kind=_kind(kind),
        source=source,
        page_size=limit,
        page_token=page_token,
    )
    reply: pb.ListQuarantinedRecordsResponse = call(
        "ingest", STUB, "ListQuarantinedRecords", request
    )
    rows = [_record_row(r) for r in reply.quarantined_records]
    output.show_page(reply, as_json, "quarantined records", RECORD_COLUMNS, rows)


def _record_panel(r: QuarantinedRecord) -> object:
    head = output.fields(
        r.name,
        [
            ("kind", output.enum_label(RecordKind.Name(r.kind), "RECORD_KIND_")),
            ("source id", r.source_id),
            ("version", output.when(r.source_version_time)),
            ("from", r.source),
            ("reason", r.reason),
            ("field", r.field),
            ("message", r.message),
            ("state", output.enum_label(QuarantineState.Name(r.state), "QUARANTINE_STATE_")),
            ("discarded because", r.discard_reason),
            ("etag", r.etag),
        ],
    )
    return Group(head, output.to_json(r.record))


@quarantine.command("show")
def show_record(record: RecordName, as_json: output.JsonFlag = False) -> None:
    """Show one quarantined record: why, and the record as sent (proto3 JSON, the
    shape `reprocess --record` takes).

    Example: `palm imports quarantine show 7a1e...`
    """
    found = _record(
        "GetQuarantinedRecord", pb.GetQuarantinedRecordRequest(name=_record_name(record))
    )
    output.show(found, as_json, lambda: _record_panel(found))


@quarantine.command()
def reprocess(
    record: RecordName,
    corrected: Annotated[
        Path | None,
        typer.Option(
            "--record",
            exists=True,
            dir_okay=False,
            help="the corrected record, proto3 JSON as `show` prints it; else as stored",
        ),
    ] = None,
    etag: Etag = "",
    as_json: output.JsonFlag = False,
) -> None:
    """Apply a quarantined record again, as stored or as corrected.

    Example: `palm imports quarantine reprocess 7a1e... --record fixed.json`
    """
    request = pb.ReprocessQuarantinedRecordRequest(name=_record_name(record), etag=etag)
    if corrected is not None:
        try:
            json_format.Parse(corrected.read_text(encoding="utf-8"), request.record)
        except json_format.ParseError as error:
            raise typer.BadParameter(str(error), param_hint="--record") from None
    found = _record("ReprocessQuarantinedRecord", request)
    output.show(found, as_json, lambda: _record_panel(found))


@quarantine.command()
def discard(
    record: RecordName,
    reason: Annotated[str, typer.Option("--reason", help="why it is not applied")],
    etag: Etag = "",
    as_json: output.JsonFlag = False,
) -> None:
    """Discard a quarantined record, saying why.

    Example: `palm imports quarantine discard 7a1e... --reason "重复录入"`
    """
    request = pb.DiscardQuarantinedRecordRequest(
        name=_record_name(record), reason=reason, etag=etag
    )
    found = _record("DiscardQuarantinedRecord", request)
    output.show(found, as_json, lambda: _record_panel(found))


def register(app: typer.Typer) -> None:
    group.add_typer(quarantine)
    app.add_typer(group)
