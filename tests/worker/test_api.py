"""The worker's jobs API (palmgrid.worker.v1.WorkerService) over real gRPC with mTLS,
served by the worker's own server (the runtime's, as `python -m servers.worker` builds
it) on the job database a Worker runs its jobs on: what ListJobs and ListJobRuns answer
is what the runs recorded (paged), RunJob makes a job due and is refused while it runs, and
only callers holding the permissions may call."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from palmgrid.worker.v1 import resources_pb2, worker_service_pb2, worker_service_pb2_grpc
from servers.runtime import (
    AssertionSigner,
    Runtime,
    SettableClock,
    Settings,
    build_server,
    load_signer,
)
from servers.runtime.service import prepare_dev_material
from servers.worker.config import WorkerConfig
from servers.worker.job import Job, JobContext
from servers.worker.runner import Worker
from servers.worker.service import make_spec
from servers.worker.status import job_statuses
from tests.audit_log import MemoryAuditLog, with_audit_log
from tests.worker.support import staff_on_worker

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
Outcome = resources_pb2.JobRunOutcome
ALL = ("worker.jobs.list", "worker.jobRuns.list", "worker.jobs.run")


def _fails(context: JobContext) -> str:
    raise RuntimeError("the staging database is gone")


JOBS = {
    "test.counts": Job("test.counts", "every 1h", lambda context: "counted 3 rows"),
    "test.fails": Job("test.fails", "daily 02:00", _fails),
    "test.idle": Job("test.idle", "every 5m", lambda context: "idle"),
}


@dataclass
class Api:
    clock: SettableClock
    worker: Worker
    runtime: Runtime
    stub: worker_service_pb2_grpc.WorkerServiceStub
    signer: AssertionSigner
    audit: MemoryAuditLog

    def staff(self, *permissions: str) -> list[tuple[str, bytes]]:
        return staff_on_worker(self.signer, *permissions)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data_dir = tmp_path_factory.mktemp("worker-api")
    settings = Settings(data_dir=data_dir, log_level="WARNING")
    prepare_dev_material(settings)
    clock = SettableClock(START)
    config = WorkerConfig()
    audit = MemoryAuditLog()
    spec = with_audit_log(make_spec(clock=clock, config=config), audit)
    server, port, runtime = build_server(spec, settings, address="127.0.0.1:0")
    server.start()
    worker = Worker(runtime, config, JOBS, clock)
    worker.store.sync(worker.schedules)
    credentials = settings.client_credentials("cli")
    assert credentials is not None
    channel = grpc.secure_channel(f"127.0.0.1:{port}", credentials)
    signer = load_signer(settings.identity_dir, settings.identity_key_id)
    try:
        yield Api(
            clock,
            worker,
            runtime,
            worker_service_pb2_grpc.WorkerServiceStub(channel),
            signer,
            audit,
        )
    finally:
        channel.close()
        server.stop(0)
        runtime.close()


def test_jobs_are_listed_with_their_last_runs_as_recorded(api: Api) -> None:
    api.worker.run_now("test.counts")
    api.clock.advance(timedelta(seconds=2))
    api.worker.run_now("test.fails")
    answer = api.stub.ListJobs(worker_service_pb2.ListJobsRequest(), metadata=api.staff(*ALL))
    jobs = {job.name: job for job in answer.jobs}
    assert list(jobs) == ["jobs/test.counts", "jobs/test.fails", "jobs/test.idle"]
    statuses = {s.name: s for s in job_statuses(api.runtime.engine, api.clock.now())}
    for job in answer.jobs:
        status = statuses[job.name.removeprefix("jobs/")]
        assert job.schedule == status.schedule
        assert job.next_run_time.ToDatetime(UTC) == status.next_run_time
        assert (job.run_count, job.failure_count) == (status.run_count, status.failure_count)
    counted = jobs["jobs/test.counts"].last_run
    assert counted.outcome == Outcome.JOB_RUN_OUTCOME_OK and counted.message == "counted 3 rows"
    assert counted.name.startswith("jobs/test.counts/runs/")
    assert counted.worker == api.worker.id
    assert counted.start_time.ToDatetime(UTC) == START
    assert counted.duration.ToTimedelta() == timedelta(0)  # the clock stood still
    failed = jobs["jobs/test.fails"]
    assert failed.last_run.outcome == Outcome.JOB_RUN_OUTCOME_FAILED
    assert failed.last_run.message == "RuntimeError: the staging database is gone"
    assert failed.failure_count == 1
    assert not jobs["jobs/test.idle"].HasField("last_run")
    first = api.stub.ListJobs(
        worker_service_pb2.ListJobsRequest(page_size=2), metadata=api.staff(*ALL)
    )
    rest = api.stub.ListJobs(
        worker_service_pb2.ListJobsRequest(page_size=2, page_token=first.next_page_token),
        metadata=api.staff(*ALL),
    )
    assert [job.name for job in (*first.jobs, *rest.jobs)] == list(jobs)
    assert rest.next_page_token == ""


def test_runs_are_paged_newest_first_for_one_job_or_all(api: Api) -> None:
    for _ in range(3):
        api.clock.advance(timedelta(minutes=1))
        api.worker.run_now("test.idle")
    metadata = api.staff(*ALL)
    first = api.stub.ListJobRuns(
        worker_service_pb2.ListJobRunsRequest(parent="jobs/test.idle", page_size=2),
        metadata=metadata,
    )
    rest = api.stub.ListJobRuns(
        worker_service_pb2.ListJobRunsRequest(
            parent="jobs/test.idle", page_size=2, page_token=first.next_page_token
        ),
        metadata=metadata,
    )
    runs = [*first.job_runs, *rest.job_runs]
    assert len(first.job_runs) == 2 and rest.next_page_token == ""
    starts = [run.start_time.ToDatetime(UTC) for run in runs]
    assert len(runs) >= 3 and starts == sorted(starts, reverse=True)
    assert {run.name.split("/runs/")[0] for run in runs} == {"jobs/test.idle"}
    every = api.stub.ListJobRuns(
        worker_service_pb2.ListJobRunsRequest(parent="jobs/-", page_size=1000), metadata=metadata
    )
    assert {run.name.split("/runs/")[0] for run in every.job_runs} >= {
        "jobs/test.idle",
        "jobs/test.counts",
    }
    with pytest.raises(grpc.RpcError) as unknown:
        api.stub.ListJobRuns(
            worker_service_pb2.ListJobRunsRequest(parent="jobs/test.nothing"), metadata=metadata
        )
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def test_run_job_makes_the_job_due_and_is_refused_while_it_runs(api: Api) -> None:
    api.clock.advance(timedelta(minutes=1))
    before = api.worker.store.claim_due(["test.fails"])
    assert before == []  # daily: not due
    made = api.stub.RunJob(
        worker_service_pb2.RunJobRequest(name="jobs/test.fails"), metadata=api.staff(*ALL)
    )
    assert made.next_run_time.ToDatetime(UTC) == api.clock.now()
    (claim,) = api.worker.store.claim_due(["test.fails"])  # due now, for any worker
    with pytest.raises(grpc.RpcError) as running:
        api.stub.RunJob(
            worker_service_pb2.RunJobRequest(name="jobs/test.fails"), metadata=api.staff(*ALL)
        )
    assert running.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert api.worker.id in (running.value.details() or "")
    listed = api.stub.ListJobs(worker_service_pb2.ListJobsRequest(), metadata=api.staff(*ALL))
    (job,) = (j for j in listed.jobs if j.name == "jobs/test.fails")
    assert job.running_on == api.worker.id
    # A worker that gives the run up (shutdown) leaves it INTERRUPTED in the record.
    api.worker.store.release(claim)
    runs = api.stub.ListJobRuns(
        worker_service_pb2.ListJobRunsRequest(parent="jobs/test.fails"), metadata=api.staff(*ALL)
    )
    assert runs.job_runs[0].outcome == Outcome.JOB_RUN_OUTCOME_INTERRUPTED
    audited = [(e.action, e.resource, e.code) for e in api.audit.entries]
    assert audited == [
        ("/palmgrid.worker.v1.WorkerService/RunJob", "jobs/test.fails", 0),
        ("/palmgrid.worker.v1.WorkerService/RunJob", "jobs/test.fails", 9),
    ]


def test_a_caller_without_the_permission_is_refused(api: Api) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        api.stub.ListJobs(
            worker_service_pb2.ListJobsRequest(), metadata=api.staff("worker.jobRuns.list")
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # The CLI's certificate alone, with no staff member's assertion, grants nothing.
    with pytest.raises(grpc.RpcError) as certificate_only:
        api.stub.ListJobs(worker_service_pb2.ListJobsRequest())
    assert certificate_only.value.code() == grpc.StatusCode.PERMISSION_DENIED
