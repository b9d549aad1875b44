"""What the worker's jobs did and will do: `job_statuses` (data, for the worker's
`status` command and the staff CLI) and `status_table` (a rich table of it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.table import Table
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from servers.runtime import CHINA_STANDARD_TIME, session_scope
from servers.worker.models import FAILED, OK, JobRow, JobRunRow


@dataclass(frozen=True)
class JobStatus:
    """One job: its schedule, its last run (start, duration, outcome and message), its
    next run, and the worker holding it now ("" when it is not running)."""

    name: str
    schedule: str
    last_start_time: datetime | None
    last_end_time: datetime | None
    last_duration: timedelta | None
    last_outcome: str  # OK, FAILED or "" (never run)
    last_message: str
    next_run_time: datetime
    running_on: str
    run_count: int
    failure_count: int
    # The record of the last run that ended (None: never run, or pruned).
    last_run_id: int | None = None


def job_statuses(engine: Engine, now: datetime) -> list[JobStatus]:
    """Every job known to the worker's database, by name. `running_on` names the worker
    whose lease is live at `now`."""
    with session_scope(engine) as session:
        rows = session.exec(select(JobRow).order_by(col(JobRow.name))).all()
        # The job row's last run is the newest record that ended OK or FAILED (an
        # INTERRUPTED one never reached the row).
        ended = (
            select(JobRunRow.job, func.max(JobRunRow.id))
            .where(col(JobRunRow.outcome).in_((OK, FAILED)))
            .group_by(col(JobRunRow.job))
        )
        last_runs: dict[str, int | None] = dict(session.exec(ended).all())
        return [
            JobStatus(
                name=row.name,
                schedule=row.schedule,
                last_start_time=row.last_start_time if row.run_count else None,
                last_end_time=row.last_end_time if row.run_count else None,
                last_duration=(
                    timedelta(milliseconds=row.last_duration_ms)
                    if row.last_duration_ms is not None
                    else None
                ),
                last_outcome=row.last_outcome,
                last_message=row.last_message,
                next_run_time=row.next_run_time,
                running_on=(
                    row.lease_owner
                    if row.lease_expire_time is not None and row.lease_expire_time > now
                    else ""
                ),
                run_count=row.run_count,
                failure_count=row.failure_count,
                last_run_id=last_runs.get(row.name) if row.run_count else None,
            )
            for row in rows
        ]


def _local(moment: datetime | None) -> str:
    return moment.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _shortened(message: str, limit: int = 120) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


def status_table(statuses: list[JobStatus]) -> Table:
    """The statuses as a table; times in China Standard Time."""
    table = Table(title="PalmGrid worker jobs (times CST)")
    for column in ("job", "schedule", "last run", "duration"):
        table.add_column(column, no_wrap=True)
    table.add_column("outcome", overflow="fold", min_width=20)
    table.add_column("next run", no_wrap=True)
    table.add_column("runs", no_wrap=True)
    styles = {OK: "green", FAILED: "red"}
    for status in statuses:
        outcome = status.last_outcome or "never run"
        if status.last_message:
            outcome = f"{outcome}: {_shortened(status.last_message)}"
        if status.running_on:
            outcome = f"running on {status.running_on} (last {outcome})"
        duration = f"{status.last_duration.total_seconds():.3f}s" if status.last_duration else "-"
        table.add_row(
            status.name,
            status.schedule,
            _local(status.last_start_time),
            duration,
            outcome,
            _local(status.next_run_time),
            f"{status.run_count} ({status.failure_count} failed)",
            style=styles.get(status.last_outcome, ""),
        )
    return table
