"""A job run at once (`python -m servers.worker run-job`, Worker.run_now) keeps its
lease while it runs, as a scheduled run does: a second worker on the same PostgreSQL
database cannot take the job before the run ends, however long it takes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from servers.runtime import SYSTEM_CLOCK, Runtime, Settings
from servers.worker.config import WorkerConfig
from servers.worker.job import Job, JobContext
from servers.worker.models import OK
from servers.worker.process import open_runtime
from servers.worker.runner import Worker

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
