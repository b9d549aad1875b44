"""A staging import whose ingest process is killed with SIGKILL halfway, then started
again: the job goes on from its last committed row, and billing ends with exactly the
staged meter readings — none lost, none counted twice (compared with the source).

Ingest runs as a real process (`python -m servers.ingest`) over a PostgreSQL staging
database; billing, account and notification run beside the test. The suite imports
PALMGRID_TEST_IMPORT_ROWS rows (10,000 by default); `./dev import_crash` runs the same
test with 100,000."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from sqlmodel import col, func, select

from palmgrid.ingest.v1 import ingest_service_pb2 as ingest_pb
from palmgrid.ingest.v1 import ingest_service_pb2_grpc, resources_pb2
from servers.billing.models import MeterReading
from servers.ingest.staging import METER_READINGS, create_staging_schema
from servers.ingest.staging_rows import insert_rows, reading_row
from servers.runtime import SettableClock, Settings, create_engine
from servers.worker.config import WorkerConfig
from servers.worker.import_config import ImportConfig
from servers.worker.job import JobContext
from servers.worker.jobs.ingest import import_staging
from servers.worker.process import open_runtime
from tests.ingest.support import (
    CUSTOMERS,
    METER,
    START,
    STORED_WH,
    common_settings,
    fill_billing,
)
from tests.neighbours import start_neighbours
from tests.serving import wait_serving
from tools.ports import free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
ROWS = int(os.environ.get("PALMGRID_TEST_IMPORT_ROWS", "10000"))
START_TIMEOUT = 60.0


class IngestProcess:
    """`python -m servers.ingest` with the test's settings."""

    def __init__(self, env: dict[str, str], port: int, log: Path, settings: Settings) -> None:
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "servers.ingest"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        credentials = settings.client_credentials("worker")
        assert credentials is not None
        self.channel = grpc.secure_channel(f"127.0.0.1:{port}", credentials)
        self.stub = ingest_service_pb2_grpc.IngestServiceStub(self.channel)
        wait_serving(self.channel, self.process, "ingest", START_TIMEOUT)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(20)
        self.close()

    def close(self) -> None:
        self.channel.close()
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)
        self._log.close()


@pytest.fixture
def staging_url(postgres_url: str) -> str:
    return postgres_url


def _env(settings: Settings, port: int, database_url: str, staging_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'generated'}",
        "PALMGRID_PROFILE": "dev",
        "PALMGRID_DATA_DIR": str(settings.data_dir),
        "PALMGRID_GRPC_SECURITY": "mtls",
        "PALMGRID_LOG_LEVEL": "WARNING",
        "PALMGRID_MEMCACHED_SERVERS": "127.0.0.1:1",
        "PALMGRID_INGEST_PORT": str(port),
        "PALMGRID_INGEST_DATABASE_URL": database_url,
        "PALMGRID_INGEST_STAGING_URL": staging_url,
        "PALMGRID_BILLING_TARGET": str(settings.billing_target),
        "PALMGRID_ACCOUNT_TARGET": str(settings.account_target),
        "PALMGRID_NOTIFICATION_TARGET": str(settings.notification_target),
    }


def stage_readings(staging_url: str) -> int:
    """ROWS meter readings, a minute apart, over the three customers' meters, each above
    the one before; several share a change time. Their values' sum in Wh."""
    engine = create_engine(staging_url)
    create_staging_schema(engine)
    taken = START - timedelta(days=3) - timedelta(minutes=ROWS)
    changed = START - timedelta(days=1)
    rows = (
        reading_row(
            f"ck{i:07d}",
            CUSTOMERS[i % len(CUSTOMERS)],
            METER,
            taken + timedelta(minutes=i),
            STORED_WH + 10 * i,
            changed + timedelta(milliseconds=i - i % 3),
        )
        for i in range(ROWS)
    )
    insert_rows(engine, "METER_READINGS", rows)
    with engine.connect() as connection:
        total = connection.execute(sa.select(sa.func.sum(METER_READINGS.c.value_wh))).scalar_one()
    engine.dispose()
    return int(total)


@pytest.fixture
def running(tmp_path: Path, staging_url: str) -> Iterator[dict[str, Any]]:
    data_dir = tmp_path
    common = common_settings(data_dir)
    with ExitStack() as stack:
        near = start_neighbours(
            stack,
            data_dir,
            common,
            SettableClock(datetime.now(UTC)),
            fill_billing=fill_billing,
            fill_account=lambda _: None,
        )
        port = free_port()
        settings = Settings(**common, **near.targets(), ingest_target=f"127.0.0.1:{port}")
        worker = open_runtime(settings, WorkerConfig())
        stack.callback(worker.close)
        yield {
            "settings": settings,
            "port": port,
            "env": _env(settings, port, f"sqlite:///{data_dir / 'ingest.db'}", staging_url),
            "billing": near.billing,
            "worker": worker,
            "log": data_dir / "ingest.log",
        }


def test_an_import_killed_halfway_resumes_with_nothing_lost_or_twice(
    running: dict[str, Any], staging_url: str
) -> None:
    staged_wh = stage_readings(staging_url)
    settings: Settings = running["settings"]
    config = ImportConfig(
        import_rows_per_second=1_000_000, import_batch_rows=500, import_sources=("METER_READINGS",)
    )
    context = JobContext("ingest.import", running["worker"], SettableClock(datetime.now(UTC)), 60)
    outcome: list[BaseException | str] = []

    def run() -> None:
        try:
            outcome.append(import_staging(context, config))
        except BaseException as error:
            outcome.append(error)

    runner = threading.Thread(target=run)
    first = IngestProcess(running["env"], running["port"], running["log"], settings)
    try:
        runner.start()
        deadline = time.monotonic() + 600
        job = None
        while time.monotonic() < deadline:
            listed = first.stub.ListImportJobs(ingest_pb.ListImportJobsRequest(), timeout=10)
            job = listed.import_jobs[0] if listed.import_jobs else None
            if job is not None and job.read_count >= ROWS // 2:
                break
            time.sleep(0.05)
        assert job is not None and job.read_count < ROWS, "the import ended before the kill"
        first.kill()
    finally:
        # Stopped even when the test fails before the kill: no process outlives the test.
        first.close()
    runner.join(60)
    assert outcome and isinstance(outcome[0], BaseException)

    second = IngestProcess(running["env"], running["port"], running["log"], settings)
    try:
        summary = import_staging(context, config)
        done = second.stub.ListImportJobs(ingest_pb.ListImportJobsRequest()).import_jobs[0]
    finally:
        second.close()
    assert summary.startswith(f"meter_readings: {ROWS} read")
    assert (done.name, done.state) == (job.name, resources_pb2.IMPORT_JOB_STATE_SUCCEEDED)
    assert done.read_count == ROWS
    assert done.applied_count + done.unchanged_count + done.rejected_count == ROWS
    assert done.rejected_count == 0
    with running["billing"].runtime.session() as session:
        stored, stored_wh = session.exec(
            select(func.count(), func.sum(MeterReading.value_wh)).where(
                col(MeterReading.id).like("ck%")
            )
        ).one()
    assert (stored, stored_wh) == (ROWS, staged_wh)
