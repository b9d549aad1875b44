"""Worker processes as `./dev up` starts them: several on one PostgreSQL database never
run a job at the same time, a job whose worker is killed mid-run (SIGKILL) is run
again once its lease lapses, and on SQLite a second worker refuses to start."""

from __future__ import annotations

import itertools
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from servers.runtime import create_engine, session_scope
from servers.worker.models import OK, JobRow, JobRunRow
from servers.worker.store import INTERRUPTED
from tests.worker.support import probe_runs, start_worker, stop, wait_until, worker_env

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _runs(engine: Engine, job: str) -> list[JobRunRow]:
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(JobRunRow).where(JobRunRow.job == job).order_by(col(JobRunRow.id))
            ).all()
        )


def test_two_workers_on_postgresql_never_run_one_job_at_once(
    tmp_path: Path, postgres_url: str, engine: Engine
) -> None:
    probe = tmp_path / "probe.txt"
    env = worker_env(
        tmp_path,
        probe,
        PALMGRID_GRPC_SECURITY="plaintext",
        PALMGRID_WORKER_DATABASE_URL=postgres_url,
        PALMGRID_WORKER_JOBS="probe.quick",
    )
    workers = [start_worker(env, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        wait_until(lambda: len(probe_runs(probe)) >= 6, 60, "six probe runs")
    finally:
        for worker in workers:
            stop(worker)
    runs = [run for run in probe_runs(probe) if run.end is not None]
    assert len(runs) >= 6
    # Each run began after the previous one ended: never two at once.
    for before, after in itertools.pairwise(runs):
        assert before.end is not None and after.start >= before.end
    assert {run.pid for run in runs} <= {worker.pid for worker in workers}
    recorded = _runs(engine, "probe.quick")
    assert {r.message.removeprefix("probe ") for r in recorded if r.outcome == OK} >= {
        run.run for run in runs
    }
    assert len([r for r in recorded if r.outcome == OK]) == len(runs)


def test_a_job_killed_mid_run_runs_again_once_its_lease_lapses(
    tmp_path: Path, postgres_url: str, engine: Engine
) -> None:
    probe = tmp_path / "probe.txt"
    env = worker_env(
        tmp_path,
        probe,
        PALMGRID_GRPC_SECURITY="plaintext",
        PALMGRID_WORKER_DATABASE_URL=postgres_url,
        PALMGRID_WORKER_JOBS="probe.slow",
        PALMGRID_WORKER_LEASE_SECONDS="2",
    )
    first = start_worker({**env, "WORKER_PROBE_SECONDS": "60"}, tmp_path / "first.log")
    second = None
    try:
        wait_until(lambda: len(probe_runs(probe)) == 1, 60, "the first worker's run")
        second = start_worker({**env, "WORKER_PROBE_SECONDS": "0.2"}, tmp_path / "second.log")
        # Longer than the lease: the first worker's heartbeat keeps the job its own.
        wait_until(lambda: "worker started" in (tmp_path / "second.log").read_text(), 60, "start")
        time.sleep(3)
        assert len(probe_runs(probe)) == 1
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = time.time()
        wait_until(lambda: any(run.end for run in probe_runs(probe)), 30, "the job to run again")
    finally:
        stop(first)
        if second is not None:
            stop(second)
    interrupted, again = probe_runs(probe)
    assert (interrupted.pid, interrupted.end) == (first.pid, None)
    assert second is not None and again.pid == second.pid
    assert killed_at < again.start < killed_at + 2 + 5  # the lease, then a tick or so
    recorded = _runs(engine, "probe.slow")
    assert [r.outcome for r in recorded] == [INTERRUPTED, OK]
    assert f":{first.pid}:" in recorded[0].message
    with session_scope(engine) as session:
        row = session.get(JobRow, "probe.slow")
        assert row is not None and (row.last_outcome, row.run_count, row.lease_owner) == (OK, 1, "")


def test_a_second_worker_on_sqlite_refuses_to_start(tmp_path: Path) -> None:
    env = worker_env(
        tmp_path,
        tmp_path / "probe.txt",
        PALMGRID_GRPC_SECURITY="plaintext",
        PALMGRID_WORKER_JOBS="probe.slow",
    )
    first = start_worker(env, tmp_path / "first.log")
    try:
        wait_until(lambda: "worker started" in (tmp_path / "first.log").read_text(), 60, "start")
        second = start_worker(env, tmp_path / "second.log")
        assert second.wait(60) == 3
        refusal = (tmp_path / "second.log").read_text()
        assert f"another worker is running on {(tmp_path / 'worker.db').resolve()}" in refusal
        assert first.poll() is None
        # The lock goes with the process, however it ends: after a SIGKILL a new
        # worker starts.
        first.send_signal(signal.SIGKILL)
        first.wait()
        third = start_worker(env, tmp_path / "third.log")
        try:
            wait_until(
                lambda: "worker started" in (tmp_path / "third.log").read_text(), 60, "restart"
            )
        finally:
            stop(third)
    finally:
        stop(first)
