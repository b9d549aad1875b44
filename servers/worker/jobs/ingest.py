"""The staging import: each source's changed rows read from the marketing system's
staging database by the ingest service, a batch per RunImportJob call, inside the
configured window and under the rate limit (docs/ingest.md).

A run goes on with the source's unfinished job, if there is one (a run or an ingest
process interrupted mid-job), else starts a job from the source's last watermark. The
job keeps its own committed cursor, so whatever stopped it, the next run resumes where
it stood."""

from __future__ import annotations

import uuid

from palmgrid.ingest.v1 import ingest_service_pb2 as ingest_pb
from palmgrid.ingest.v1 import ingest_service_pb2_grpc as ingest_grpc
from palmgrid.ingest.v1 import resources_pb2
from servers.worker.import_config import ImportConfig
from servers.worker.job import Job, JobContext, RunCancelled, register
from servers.worker.prewarm import in_window
from servers.worker.token_bucket import TokenBucket

_SLOTS = uuid.UUID("2b8f3c1e-7d4a-4c55-9e0b-5a1d6f2e9c30")
ACTIVE = (resources_pb2.IMPORT_JOB_STATE_RUNNING, resources_pb2.IMPORT_JOB_STATE_QUEUED)


def _source(name: str) -> resources_pb2.ImportSource.ValueType:
    return resources_pb2.ImportSource.Value(f"IMPORT_SOURCE_{name}")


def _current_job(
    stub: ingest_grpc.IngestServiceStub, source: str, context: JobContext
) -> resources_pb2.ImportJob:
    """The source's unfinished job, else a new one (its request id is the source and
    the minute, so a run retried within it starts no second job)."""
    for state in ACTIVE:
        listed = stub.ListImportJobs(
            ingest_pb.ListImportJobsRequest(source=_source(source), state=state, page_size=1),
            **context.call_options().kwargs(),
        )
        if listed.import_jobs:
            return listed.import_jobs[0]
    minute = context.now().replace(second=0, microsecond=0)
    request_id = str(uuid.uuid5(_SLOTS, f"{source}:{minute.isoformat()}"))
    return stub.CreateImportJob(
        ingest_pb.CreateImportJobRequest(
            import_job=resources_pb2.ImportJob(source=_source(source)), request_id=request_id
        ),
        **context.call_options().kwargs(),
    )


def import_staging(context: JobContext, config: ImportConfig | None = None) -> str:
    """Import every configured source until its job ends, the window closes or the run
    is cancelled; a summary per source."""
    chosen = config or ImportConfig.load()
    window = (chosen.import_window_start, chosen.import_window_end)
    if not in_window(context.now(), *window):
        return "outside-window"
    stub = ingest_grpc.IngestServiceStub(context.channel("ingest"))
    # One token per batch: at most `import_rows_per_second` rows a second on average.
    bucket = TokenBucket(chosen.import_rows_per_second / chosen.import_batch_rows)
    summaries: list[str] = []
    for source in chosen.import_sources:
        job = _current_job(stub, source, context)
        while job.state in ACTIVE:
            if context.cancelled.is_set():
                raise RunCancelled(f"{job.name} stopped at {job.read_count} rows")
            if not in_window(context.now(), *window):
                summaries.append(f"{source.lower()}: window closed at {job.read_count} rows")
                return "; ".join(summaries)
            bucket.take()
            job = stub.RunImportJob(
                ingest_pb.RunImportJobRequest(name=job.name, max_rows=chosen.import_batch_rows),
                **context.call_options().kwargs(),
            )
        if job.state == resources_pb2.IMPORT_JOB_STATE_FAILED:
            raise RuntimeError(f"{job.name} failed: {job.failure_message}")
        summaries.append(
            f"{source.lower()}: {job.read_count} read, {job.applied_count} applied, "
            f"{job.unchanged_count} unchanged, {job.rejected_count} quarantined"
        )
    return "; ".join(summaries)


register(
    Job(
        "ingest.import",
        "every 10m",
        import_staging,
        "import the marketing system's staging database, inside its window and rate limit",
    )
)
