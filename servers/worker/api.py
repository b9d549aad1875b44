"""palmgrid.worker.v1.WorkerService: the worker's jobs and their runs for staff
(ListJobs, ListJobRuns) and running a job now (RunJob), read from and written to the
worker's own job database. The worker process serves it beside its job loop.

RunJob only makes the job due: whichever worker claims it next runs it under the usual
lease, so a job asked for twice, or on several replicas at once, still runs once at a
time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from google.protobuf import duration_pb2
from sqlmodel import Session, col, select

from palmgrid.worker.v1 import resources_pb2, worker_service_pb2, worker_service_pb2_grpc
from servers.runtime import Clock, FailedPrecondition, NotFound, Runtime, audit_note, paging
from servers.runtime.ids import Collection
from servers.runtime.protoconv import timestamp
from servers.worker.models import FAILED, OK, JobRow, JobRunRow
from servers.worker.status import JobStatus, job_statuses
from servers.worker.store import INTERRUPTED

JOBS = Collection("jobs")
# `jobs/-/runs`: the runs of every job (AIP-159).
EVERY_JOB = "-"
RUN_ORDER = (col(JobRunRow.id),)
Outcome = resources_pb2.JobRunOutcome
OUTCOMES = {
    "": Outcome.JOB_RUN_OUTCOME_RUNNING,
    OK: Outcome.JOB_RUN_OUTCOME_OK,
    FAILED: Outcome.JOB_RUN_OUTCOME_FAILED,
    INTERRUPTED: Outcome.JOB_RUN_OUTCOME_INTERRUPTED,
}


def run_name(run: JobRunRow) -> str:
    return f"{JOBS.name(run.job)}/runs/{run.id}"


def _duration(start: datetime, end: datetime | None) -> duration_pb2.Duration | None:
    if end is None:
        return None
    duration = duration_pb2.Duration()
    duration.FromTimedelta(end - start)
    return duration


def run_resource(run: JobRunRow) -> resources_pb2.JobRun:
    return resources_pb2.JobRun(
        name=run_name(run),
        worker=run.worker,
        start_time=timestamp(run.start_time),
        end_time=timestamp(run.end_time),
        duration=_duration(run.start_time, run.end_time),
        outcome=OUTCOMES.get(run.outcome, Outcome.JOB_RUN_OUTCOME_UNSPECIFIED),
        message=run.message,
    )


def _last_run(status: JobStatus, record: JobRunRow | None) -> resources_pb2.JobRun | None:
    """The job's last ended run: its record, or (record pruned) what the job row kept."""
    if record is not None:
        return run_resource(record)
    if status.last_end_time is None or status.last_duration is None:
        return None
    start = status.last_end_time - status.last_duration
    return resources_pb2.JobRun(
        start_time=timestamp(start),
        end_time=timestamp(status.last_end_time),
        duration=_duration(start, status.last_end_time),
        outcome=OUTCOMES.get(status.last_outcome, Outcome.JOB_RUN_OUTCOME_UNSPECIFIED),
        message=status.last_message,
    )


def _records(session: Session, ids: Iterable[int | None]) -> dict[int, JobRunRow]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = session.exec(select(JobRunRow).where(col(JobRunRow.id).in_(wanted))).all()
    return {row.id: row for row in rows if row.id is not None}


def job_resources(runtime: Runtime, now: datetime) -> list[resources_pb2.Job]:
    """Every job as the API shows it, by name."""
    statuses = job_statuses(runtime.engine, now)
    with runtime.session() as session:
        records = _records(session, (s.last_run_id for s in statuses))
    jobs = []
    for status in statuses:
        record = records.get(status.last_run_id) if status.last_run_id is not None else None
        job = resources_pb2.Job(
            name=JOBS.name(status.name),
            schedule=status.schedule,
            next_run_time=timestamp(status.next_run_time),
            running_on=status.running_on,
            run_count=status.run_count,
            failure_count=status.failure_count,
        )
        last = _last_run(status, record)
        if last is not None:
            job.last_run.CopyFrom(last)
        jobs.append(job)
    return jobs


class WorkerServicer(worker_service_pb2_grpc.WorkerServiceServicer):
    """palmgrid.worker.v1.WorkerService."""

    def __init__(self, runtime: Runtime, clock: Clock) -> None:
        self.runtime = runtime
        self.clock = clock

    def ListJobs(
        self, request: worker_service_pb2.ListJobsRequest, context: Any
    ) -> worker_service_pb2.ListJobsResponse:
        # A handful of jobs: read them all, page by name.
        after = paging.decode_token(request.page_token, types=(str,))
        size = paging.page_size(request.page_size, 50)
        jobs = [
            job
            for job in job_resources(self.runtime, self.clock.now())
            if after is None or job.name > after[0]
        ]
        token = paging.next_page_token(jobs, size, lambda job: [job.name])
        return worker_service_pb2.ListJobsResponse(jobs=jobs[:size], next_page_token=token)

    def ListJobRuns(
        self, request: worker_service_pb2.ListJobRunsRequest, context: Any
    ) -> worker_service_pb2.ListJobRunsResponse:
        job = JOBS.id(request.parent)
        filters = [job]
        after = paging.decode_token(request.page_token, filters, types=(int,))
        size = paging.page_size(request.page_size, 50)
        with self.runtime.session() as session:
            query = select(JobRunRow)
            if job != EVERY_JOB:
                if session.get(JobRow, job) is None:
                    raise NotFound(f"{request.parent} is no job of the worker")
                query = query.where(col(JobRunRow.job) == job)
            if after is not None:
                query = query.where(paging.descending_after(RUN_ORDER, after))
            rows = session.exec(query.order_by(col(JobRunRow.id).desc()).limit(size + 1)).all()
            token = paging.next_page_token(rows, size, lambda row: [row.id], filters)
            return worker_service_pb2.ListJobRunsResponse(
                job_runs=[run_resource(row) for row in rows[:size]], next_page_token=token
            )

    def RunJob(self, request: worker_service_pb2.RunJobRequest, context: Any) -> resources_pb2.Job:
        job = JOBS.id(request.name)
        now = self.clock.now()
        with self.runtime.session(write=True) as session:
            row = session.get(JobRow, job, with_for_update=True)
            if row is None:
                raise NotFound(f"{request.name} is no job of the worker")
            if row.lease_expire_time is not None and row.lease_expire_time > now:
                raise FailedPrecondition(
                    f"{request.name} is running on {row.lease_owner}; ask again once it ends",
                    metadata={"running_on": row.lease_owner},
                )
            audit_note().details = {"was_due": row.next_run_time.isoformat()}
            row.next_run_time = now
            session.add(row)
        (made_due,) = (j for j in job_resources(self.runtime, now) if j.name == request.name)
        return made_due
