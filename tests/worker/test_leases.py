"""Workers sharing a PostgreSQL database. A job run at once (`python -m servers.worker
run-job`, Worker.run_now) keeps its lease while it runs, as a scheduled run does: a
second worker cannot take the job before the run ends, however long it takes. Workers
starting together both start, whichever inserts a job's row first."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from servers.runtime import SYSTEM_CLOCK, Runtime, Settings, session_scope
from servers.worker.config import WorkerConfig
from servers.worker.job import Job, JobContext
from servers.worker.models import OK, JobRow
from servers.worker.process import open_runtime
from servers.worker.runner import Worker
from tests.worker.support import wait_until

LEASE_SECONDS = 1.0
RUN_SECONDS = 3 * LEASE_SECONDS


@pytest.fixture
def runtime(tmp_path: Path, postgres_url: str) -> Iterator[Runtime]:
    settings = Settings(data_dir=tmp_path, log_level="WARNING", worker_database_url=postgres_url)
    opened = open_runtime(settings, WorkerConfig())
    yield opened
    opened.close()


def test_a_job_run_at_once_keeps_its_lease_for_the_whole_run(runtime: Runtime) -> None:
    started = threading.Event()

    def long_run(context: JobContext) -> str:
        started.set()
        ended = context.cancelled.wait(RUN_SECONDS)
        return "lease lost" if ended else "ran to the end"

    jobs = {"probe.long": Job("probe.long", "every 1h", long_run)}
    config = WorkerConfig(lease_seconds=LEASE_SECONDS)
    first, second = (Worker(runtime, config, jobs, SYSTEM_CLOCK) for _ in range(2))
    first.store.sync(first.schedules)
    results: list[tuple[str, str] | None] = []
    runner = threading.Thread(target=lambda: results.append(first.run_now("probe.long")))
    runner.start()
    assert started.wait(10)
    taken = []
    while runner.is_alive():  # past the first lease and well beyond
        taken += second.store.claim_due(["probe.long"], force=True)
        runner.join(LEASE_SECONDS / 4)
    assert taken == []
    assert results == [(OK, "ran to the end")]


def waiting_for_a_lock(runtime: Runtime) -> bool:
    """Whether a session of this database waits for a row lock (an insert for another
    transaction's row of the same key)."""
    with runtime.engine.connect() as connection:
        waiting = connection.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(waiting)


def test_a_worker_whose_job_row_another_starting_worker_inserted_first_starts(
    runtime: Runtime,
) -> None:
    jobs = {"probe.hourly": Job("probe.hourly", "every 1h", lambda context: "ran")}
    first, second = (Worker(runtime, WorkerConfig(), jobs, SYSTEM_CLOCK) for _ in range(2))
    errors: list[BaseException] = []

    def start_second() -> None:
        try:
            second.store.sync(second.schedules)
        except BaseException as error:
            errors.append(error)

    # The first worker's row is inserted, not yet committed, when the second looks:
    # the second finds none, and its insert waits for the first's commit.
    with session_scope(runtime.engine, write=True) as session:
        schedule = first.schedules["probe.hourly"]
        first_run = schedule.first_run(SYSTEM_CLOCK.now())
        session.add(JobRow(name="probe.hourly", schedule=schedule.text, next_run_time=first_run))
        session.flush()
        syncing = threading.Thread(target=start_second)
        syncing.start()
        wait_until(lambda: waiting_for_a_lock(runtime), 30, "the second worker's insert waiting")
    syncing.join(30)
    assert not syncing.is_alive()
    assert errors == []
    with session_scope(runtime.engine) as session:
        rows = session.exec(select(JobRow)).all()
    assert [(row.name, row.schedule) for row in rows] == [("probe.hourly", "every 1h")]
