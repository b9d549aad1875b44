"""Drawing an ingest import job from the staff CLI: a progress bar of rows read against
the rows the job counted at its start, then its counts and first errors. The job moves
on through `next_state`: a RunImportJob call (`palm imports run` drives the job itself)
or a GetImportJob after a pause (`palm imports follow`, a job the worker runs)."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from palmgrid.ingest.v1 import resources_pb2

ACTIVE = (resources_pb2.IMPORT_JOB_STATE_QUEUED, resources_pb2.IMPORT_JOB_STATE_RUNNING)


def follow_import_job(
    job: resources_pb2.ImportJob,
    next_state: Callable[[resources_pb2.ImportJob], resources_pb2.ImportJob],
    console: Console,
) -> resources_pb2.ImportJob:
    """Move the job on until it ends, drawing its progress; the job as it ended."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(job.name, total=job.total_count or None)
        while True:
            # Drawn at once: each batch that lands is a step the operator should see, not
            # only those that happen to fall on the bar's own refresh ticks.
            progress.update(
                task, total=job.total_count or None, completed=job.read_count, refresh=True
            )
            if job.state not in ACTIVE:
                break
            job = next_state(job)
    console.print(summary(job))
    return job


def summary(job: resources_pb2.ImportJob) -> Table:
    """The job's state and counts, and the first rows it quarantined."""
    state = resources_pb2.ImportJobState.Name(job.state).removeprefix("IMPORT_JOB_STATE_")
    table = Table(title=f"{job.name}: {state}")
    for column in ("read", "applied", "unchanged", "quarantined"):
        table.add_column(column, justify="right")
    table.add_row(
        str(job.read_count),
        str(job.applied_count),
        str(job.unchanged_count),
        str(job.rejected_count),
    )
    if job.failure_message:
        table.caption = job.failure_message
    elif job.errors:
        first = job.errors[0]
        table.caption = f"first quarantined: {first.row_key} {first.reason} {first.field}".strip()
    return table
