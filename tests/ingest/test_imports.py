"""Import jobs over a staging database: changed rows applied batch by batch with bad
ones quarantined under the job's name, progress and counts kept on the job, the next
job going on from the last one's watermark, one job per source at a time, and the
worker's import inside its window and under its rate limit."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from datetime import time as dt_time

import grpc
import pytest
from sqlmodel import col, func, select

from palmgrid.ingest.v1 import ingest_service_pb2 as ingest_pb
from palmgrid.ingest.v1 import resources_pb2
from servers.billing.models import Customer
from servers.ingest.demo import demo_rows
from servers.ingest.staging_rows import customer_row, insert_rows, payment_row
from servers.runtime import CHINA_STANDARD_TIME, Runtime
from servers.worker.config import WorkerConfig
from servers.worker.import_config import ImportConfig
from servers.worker.job import JobContext
from servers.worker.jobs.ingest import import_staging
from servers.worker.process import open_runtime
from tests.ingest.support import START, IngestSystem

CUSTOMERS = resources_pb2.IMPORT_SOURCE_CUSTOMERS
NEW = [f"31000{n:05d}" for n in range(100, 130)]


def create_job(
    system: IngestSystem, source: int = CUSTOMERS, **fields: object
) -> resources_pb2.ImportJob:
    return system.worker.CreateImportJob(
        ingest_pb.CreateImportJobRequest(
            import_job=resources_pb2.ImportJob(source=source, **fields),  # type: ignore[arg-type]
            request_id=str(uuid.uuid4()),
        )
    )


def run_to_end(
    system: IngestSystem, job: resources_pb2.ImportJob, batch: int = 7
) -> resources_pb2.ImportJob:
    while job.state in (
        resources_pb2.IMPORT_JOB_STATE_QUEUED,
        resources_pb2.IMPORT_JOB_STATE_RUNNING,
    ):
        job = system.worker.RunImportJob(
            ingest_pb.RunImportJobRequest(name=job.name, max_rows=batch)
        )
    return job


def archived(system: IngestSystem, numbers: list[str]) -> int:
    with system.billing.runtime.session() as session:
        return session.exec(
            select(func.count()).select_from(Customer).where(col(Customer.id).in_(numbers))
        ).one()


def stage_customers(system: IngestSystem) -> None:
    rows = [customer_row(n, START - timedelta(minutes=30 - i)) for i, n in enumerate(NEW[:20])]
    rows[3]["area_code"] = "a1"
    rows[8]["tariff"] = "no-such-tariff"
    rows[12]["billing_mode"] = "BARTER"
    insert_rows(system.staging, "CUSTOMERS", rows)


def test_an_import_job_applies_changed_rows_and_quarantines_bad_ones(system: IngestSystem) -> None:
    stage_customers(system)
    job = create_job(system)
    assert job.state == resources_pb2.IMPORT_JOB_STATE_QUEUED
    first = system.worker.RunImportJob(ingest_pb.RunImportJobRequest(name=job.name, max_rows=7))
    assert first.state == resources_pb2.IMPORT_JOB_STATE_RUNNING
    assert (first.read_count, first.total_count) == (7, 20)
    done = run_to_end(system, first)
    assert done.state == resources_pb2.IMPORT_JOB_STATE_SUCCEEDED
    assert (done.read_count, done.applied_count, done.rejected_count) == (20, 17, 3)
    assert {(e.row_key, e.reason, e.field) for e in done.errors} == {
        (NEW[3], "INVALID_FIELD", "areaCode"),
        (NEW[8], "UNKNOWN_TARIFF", "tariff"),
        (NEW[12], "INVALID_FIELD", "billingMode"),
    }
    assert archived(system, NEW[:20]) == 17
    held = system.cli.ListQuarantinedRecords(
        ingest_pb.ListQuarantinedRecordsRequest(source=job.name),
        metadata=system.staff("ingest.quarantinedRecords.list"),
    )
    assert len(held.quarantined_records) == 3

    # The next job starts at the last one's watermark: only the rows changed since.
    insert_rows(system.staging, "CUSTOMERS", [customer_row(NEW[25], START)])
    following = run_to_end(system, create_job(system))
    assert following.watermark_time == done.next_watermark_time
    assert (following.read_count, following.applied_count, following.unchanged_count) == (2, 1, 1)


def csv_of(rows: list[dict[str, object]]) -> bytes:
    """Rows as a CSV file of their staging table's shape: times in ISO 8601 with zone."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: v.isoformat() if isinstance(v, datetime) else str(v).lower()
                if isinstance(v, bool) else v
                for k, v in row.items()
            }
        )  # fmt: skip
    return text.getvalue().encode()


def test_a_csv_file_imports_like_a_staging_table_without_moving_the_watermark(
    system: IngestSystem,
) -> None:
    rows = [customer_row(n, START - timedelta(minutes=5 - i)) for i, n in enumerate(NEW[26:30])]
    rows[1]["tariff"] = "no-such-tariff"
    job = system.worker.CreateImportJob(
        ingest_pb.CreateImportJobRequest(
            import_job=resources_pb2.ImportJob(source=CUSTOMERS),
            request_id=str(uuid.uuid4()),
            csv_file=csv_of(rows),
        )
    )
    assert job.from_file
    done = run_to_end(system, job, batch=3)
    assert (done.state, done.total_count, done.read_count) == (
        resources_pb2.IMPORT_JOB_STATE_SUCCEEDED,
        4,
        4,
    )
    assert (done.applied_count, done.rejected_count) == (3, 1)
    assert [(e.row_key, e.reason) for e in done.errors] == [(NEW[27], "UNKNOWN_TARIFF")]
    assert archived(system, NEW[26:30]) == 3
    # The staging database's next job does not start after the file's rows.
    following = create_job(system)
    assert not following.HasField("watermark_time")

    good = csv_of(rows).decode()
    for content, says in [
        (good.replace("holder_name", "holder"), "unknown column 'holder'"),
        (good.replace(rows[2]["update_time"].isoformat(), "yesterday"), "line 4, column"),
        (good.replace(rows[0]["update_time"].isoformat(), "2026-12-01T08:00:00"), "its zone"),
        (good.splitlines()[0] + "\n", "no rows"),
    ]:
        with pytest.raises(grpc.RpcError) as caught:
            system.worker.CreateImportJob(
                ingest_pb.CreateImportJobRequest(
                    import_job=resources_pb2.ImportJob(source=CUSTOMERS),
                    request_id=str(uuid.uuid4()),
                    csv_file=content.encode(),
                )
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert says in (caught.value.details() or ""), caught.value.details()


def test_one_job_per_source_runs_at_a_time_and_a_retried_create_starts_none(
    system: IngestSystem,
) -> None:
    request = ingest_pb.CreateImportJobRequest(
        import_job=resources_pb2.ImportJob(source=CUSTOMERS), request_id=str(uuid.uuid4())
    )
    job = system.worker.CreateImportJob(request)
    assert system.worker.CreateImportJob(request).name == job.name
    with pytest.raises(grpc.RpcError) as caught:
        create_job(system)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # Another source is another job.
    create_job(system, resources_pb2.IMPORT_SOURCE_PAYMENTS)


def test_a_cancelled_job_reads_no_more(system: IngestSystem) -> None:
    stage_customers(system)
    job = system.worker.RunImportJob(
        ingest_pb.RunImportJobRequest(name=create_job(system).name, max_rows=5)
    )
    cancelled = system.cli.CancelImportJob(
        ingest_pb.CancelImportJobRequest(name=job.name),
        metadata=system.staff("ingest.importJobs.cancel"),
    )
    assert cancelled.state == resources_pb2.IMPORT_JOB_STATE_CANCELLED
    with pytest.raises(grpc.RpcError) as caught:
        system.worker.RunImportJob(ingest_pb.RunImportJobRequest(name=job.name))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    listed = system.cli.ListImportJobs(
        ingest_pb.ListImportJobsRequest(state=resources_pb2.IMPORT_JOB_STATE_CANCELLED),
        metadata=system.staff("ingest.importJobs.list"),
    )
    assert [j.read_count for j in listed.import_jobs] == [5]


@pytest.fixture(scope="module")
def worker_runtime(running_system: IngestSystem) -> Iterator[Runtime]:
    settings = running_system.settings.model_copy(
        update={"ingest_target": running_system.ingest.target}
    )
    runtime = open_runtime(settings, WorkerConfig())
    yield runtime
    runtime.close()


def context(system: IngestSystem, runtime: Runtime) -> JobContext:
    return JobContext("ingest.import", runtime, system.clock, call_timeout=30)


def test_the_worker_imports_nothing_outside_its_window(
    system: IngestSystem, worker_runtime: Runtime
) -> None:
    stage_customers(system)
    # A window that opens an hour after START's hour (China Standard Time) and lasts one.
    hour = START.astimezone(CHINA_STANDARD_TIME).hour
    config = ImportConfig(
        import_window_start=dt_time((hour + 1) % 24), import_window_end=dt_time((hour + 2) % 24)
    )
    assert import_staging(context(system, worker_runtime), config) == "outside-window"
    listed = system.cli.ListImportJobs(
        ingest_pb.ListImportJobsRequest(), metadata=system.staff("ingest.importJobs.list")
    )
    assert list(listed.import_jobs) == []


def test_the_worker_reads_no_faster_than_its_rate_limit(
    system: IngestSystem, worker_runtime: Runtime
) -> None:
    paid = START - timedelta(hours=1)
    rows = [
        payment_row(f"rl{i:04d}", "3100000001", 100, paid, paid + timedelta(seconds=i))
        for i in range(60)
    ]
    insert_rows(system.staging, "PAYMENTS", rows)
    config = ImportConfig(
        import_rows_per_second=20, import_batch_rows=10, import_sources=("PAYMENTS",)
    )
    began = time.monotonic()
    summary = import_staging(context(system, worker_runtime), config)
    elapsed = time.monotonic() - began
    assert summary.startswith("payments: 60 read, 60 applied")
    # Seven batches of at most 10 rows at 2 batches a second: the first at once, the
    # other six at least 3 s later in all (a loose bound on a loaded machine).
    assert elapsed >= 2.5


def test_the_demo_staging_database_imports_with_its_bad_rows_quarantined(
    system: IngestSystem, worker_runtime: Runtime
) -> None:
    for source, rows in demo_rows(system.clock).items():
        insert_rows(system.staging, source, rows)
    summary = import_staging(context(system, worker_runtime), ImportConfig())
    assert summary.split("; ") == [
        "customers: 100 read, 97 applied, 0 unchanged, 3 quarantined",
        "tariff_assignments: 20 read, 19 applied, 0 unchanged, 1 quarantined",
        "meter_readings: 200 read, 191 applied, 0 unchanged, 9 quarantined",
        "payments: 60 read, 56 applied, 0 unchanged, 4 quarantined",
    ]
    # A run in a later minute starts new jobs, which find nothing new: the rows of the
    # last change time are read again and found unchanged.
    system.clock.set(START + timedelta(minutes=2))
    try:
        again = import_staging(context(system, worker_runtime), ImportConfig())
    finally:
        system.clock.set(START)
    assert all(" 0 applied" in part for part in again.split("; ")), again
