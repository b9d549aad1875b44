"""`palm jobs`: the worker's scheduled jobs, their last runs and their run records, and
running a job now (palmgrid.worker.v1.WorkerService, served by the worker)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from google.protobuf import duration_pb2
from google.protobuf.message import Message

from clients.staff import output
from clients.staff.rpc import call
from palmgrid.worker.v1 import resources_pb2, worker_service_pb2, worker_service_pb2_grpc

group = typer.Typer(
    name="jobs",
    help="The worker's scheduled jobs: their last and next runs, their run records, and "
    "running one now.",
    no_args_is_help=True,
)

Job = Annotated[str, typer.Argument(help="the job, e.g. billing.late-fees (`palm jobs list`)")]
# A run's message in a table; --json has it whole.
MESSAGE_WIDTH = 80


def _worker_call(method: str, request: Message) -> Any:
    return call("worker", worker_service_pb2_grpc.WorkerServiceStub, method, request)


def _seconds(duration: duration_pb2.Duration) -> str:
    return f"{duration.ToTimedelta().total_seconds():.3f}s"


def _outcome(run: resources_pb2.JobRun) -> str:
    """OK / FAILED / … with the run's message, shortened."""
    name = resources_pb2.JobRunOutcome.Name(run.outcome)
    label = output.enum_label(name, "JOB_RUN_OUTCOME_").upper()
    message = run.message
    if len(message) > MESSAGE_WIDTH:
        message = message[: MESSAGE_WIDTH - 1] + "…"
    return f"{label}: {message}" if message else label


@group.command("list")
def list_jobs(as_json: output.JsonFlag = False) -> None:
    """List the worker's jobs: schedule, last run (start, duration, outcome), next run.

    Example: `palm jobs list`
    """
    reply: worker_service_pb2.ListJobsResponse = _worker_call(
        "ListJobs",
        worker_service_pb2.ListJobsRequest(page_size=1000),  # all: a few dozen
    )
    rows = []
    for job in reply.jobs:
        last = job.last_run if job.HasField("last_run") else None
        outcome = _outcome(last) if last else "never run"
        if job.running_on:
            outcome = f"running on {job.running_on} (last {outcome})"
        rows.append(
            (
                job.name.removeprefix("jobs/"),
                job.schedule,
                output.when(last.start_time, zone=False) if last else "",
                _seconds(last.duration) if last and last.HasField("duration") else "",
                outcome,
                output.when(job.next_run_time, zone=False),
                f"{job.run_count} ({job.failure_count} failed)",
            )
        )
    columns = ["job", "schedule", "last run", "duration", "outcome", "next run", "runs"]
    output.show(reply, as_json, lambda: output.table("worker jobs", columns, rows))


@group.command()
def runs(
    job: Annotated[str, typer.Argument(help="the job, e.g. billing.late-fees; `-` for every job")],
    limit: output.Limit = 20,
    page_token: output.PageToken = "",
    as_json: output.JsonFlag = False,
) -> None:
    """List a job's runs, newest first: start, duration, outcome and message, worker.

    Example: `palm jobs runs billing.late-fees --limit 5`
    """
    request = worker_service_pb2.ListJobRunsRequest(
        parent=output.resource("jobs", job), page_size=limit, page_token=page_token
    )
    reply: worker_service_pb2.ListJobRunsResponse = _worker_call("ListJobRuns", request)
    rows = [
        (
            run.name.removeprefix("jobs/"),
            output.when(run.start_time, zone=False),
            _seconds(run.duration) if run.HasField("duration") else "",
            _outcome(run),
            run.worker,
        )
        for run in reply.job_runs
    ]
    columns = ["run", "start", "duration", "outcome", "worker"]
    output.show_page(reply, as_json, f"runs of {job}", columns, rows)


@group.command()
def run(job: Job, as_json: output.JsonFlag = False) -> None:
    """Run a job now, whatever its schedule: the worker starts it within a second
    (exits 6 while it is running already).

    Example: `palm jobs run ingest.import`, then `palm jobs runs ingest.import`
    """
    made: resources_pb2.Job = _worker_call(
        "RunJob", worker_service_pb2.RunJobRequest(name=output.resource("jobs", job))
    )

    def render() -> object:
        return output.fields(
            f"{made.name} is due now",
            [
                ("next run", output.when(made.next_run_time)),
                ("follow it", f"palm jobs runs {made.name.removeprefix('jobs/')}"),
            ],
        )

    output.show(made, as_json, render)


def register(app: typer.Typer) -> None:
    app.add_typer(group)
