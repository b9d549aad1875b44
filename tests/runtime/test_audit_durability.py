"""An audited call's record commits with its change (servers.runtime.auditing.enlist):
a process killed (SIGKILL) between its commit and the log write loses no record — the
record held in the same transaction is forwarded once its grace is over; a call that
ends normally leaves exactly its own record, also when the log went away meanwhile;
a transaction that rolls back holds nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import text

from servers.runtime import Runtime, SettableClock, Settings, create_server
from servers.runtime.audit_outbox import PENDING_GRACE, AuditOutbox
from servers.runtime.db import create_engine
from servers.runtime.migrations import migrate
from servers.runtime.runtime_tables import migrate_runtime_tables
from tests.audit_log import MemoryAuditLog

ROOT = Path(__file__).resolve().parents[2]
ADD = "/runtimetest.v1.ProbeService/AddCustomer"


def _customers(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text("SELECT name FROM probe_customer")).scalars())
    finally:
        engine.dispose()


def test_a_process_killed_between_commit_and_log_write_loses_no_record(
    compiled_protos: Path, probe: types.ModuleType, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'probe.db'}"
    port_file = tmp_path / "port"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PALMGRID_")},
        "PYTHONPATH": os.pathsep.join([str(compiled_protos), str(ROOT / "tests"), str(ROOT)]),
    }
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "runtime" / "crash_probe.py"), url, str(port_file)],
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text():
            assert process.poll() is None and time.monotonic() < deadline, "no probe started"
            time.sleep(0.05)
        with grpc.insecure_channel(f"127.0.0.1:{port_file.read_text()}") as channel:
            stub = probe.probe_pb2_grpc.ProbeServiceStub(channel)
            with pytest.raises(grpc.RpcError):
                stub.AddCustomer(probe.probe_pb2.AddCustomerRequest(name="crashed"), timeout=20)
        assert process.wait(timeout=20) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert _customers(url) == ["crashed"]  # the change committed; then the process died

    # The service starts again: its outbox holds the record and forwards it once no
    # call can still be running to finish it.
    engine = create_engine(url)
    log = MemoryAuditLog()
    clock = SettableClock(datetime.now(UTC))
    outbox = AuditOutbox(engine, "probe", log, clock=clock)
    try:
        assert outbox.forward() == 0
        clock.advance(PENDING_GRACE + timedelta(seconds=1))
        assert outbox.forward() == 1
    finally:
        engine.dispose()
    [record] = log.entries
    assert record.action == ADD
    assert record.error_reason == "OUTCOME_UNKNOWN"
    assert record.details["outcome"].startswith("unknown")


class FlakyLog(MemoryAuditLog):
    """Reachable when asked, but refuses writes while `losing`."""

    losing = False

    def write(self, entries: Any) -> None:
        if self.losing:
            raise ConnectionError("the log went away")
        super().write(entries)


@pytest.fixture
def served(
    probe: types.ModuleType, tmp_path: Path
) -> Iterator[tuple[Any, FlakyLog, AuditOutbox, str]]:
    url = f"sqlite:///{tmp_path / 'probe.db'}"
    migrate("probe", url, probe.MIGRATIONS)
    migrate_runtime_tables("probe", url)
    engine = create_engine(url)
    runtime = Runtime("probe", Settings.model_construct(profile="dev"), engine)
    log = FlakyLog()
    outbox = AuditOutbox(engine, "probe", log)
    server, port = create_server(
        probe.registrations(probe.ProbeServicer(runtime)),
        domain="probe",
        audit_sink=log,
        audit_outbox=outbox,
    )
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield probe.probe_pb2_grpc.ProbeServiceStub(channel), log, outbox, url
    server.stop(None)
    engine.dispose()


def test_a_call_that_ends_leaves_only_its_own_record(served: Any, probe: types.ModuleType) -> None:
    stub, log, outbox, _ = served
    stub.AddCustomer(probe.probe_pb2.AddCustomerRequest(name="first"))
    assert [(e.action, e.code, e.error_reason) for e in log.entries] == [(ADD, 0, "")]
    assert outbox.pending() == 0  # the record held during the call was settled

    log.losing = True
    stub.AddCustomer(probe.probe_pb2.AddCustomerRequest(name="second"))
    assert outbox.pending() == 1  # the final record waits, in place of the held one
    log.losing = False
    assert outbox.forward() == 1
    assert [(e.code, e.error_reason) for e in log.entries] == [(0, ""), (0, "")]


def test_a_transaction_that_rolls_back_holds_no_record(
    served: Any, probe: types.ModuleType
) -> None:
    stub, log, outbox, url = served
    stub.AddCustomer(probe.probe_pb2.AddCustomerRequest(name="twice"))
    with pytest.raises(grpc.RpcError):
        stub.AddCustomer(probe.probe_pb2.AddCustomerRequest(name="twice"))  # unique name
    assert [e.code for e in log.entries] == [0, grpc.StatusCode.INTERNAL.value[0]]
    assert outbox.pending() == 0
    assert _customers(url) == ["twice"]
