"""The runtime's audit records over the wire (a probe server writing to a sink in
memory): every call of an `audited` method leaves one record — actor, action, resource,
outcome, request id, the servicer's own details — and so does a scope refusal of any
method. Audited calls fail closed: refused before they run while the log is
unreachable; a record the log loses after the check waits in the audit outbox (a real
database) until the log is back."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from palmgrid.type.v1 import identity_pb2
from runtime.conftest import Running, StartProbe
from servers.runtime import AssertionSigner, AuditEntry, SettableClock
from servers.runtime.audit_outbox import AuditOutbox
from servers.runtime.db import create_engine
from servers.runtime.identity import METADATA_KEY
from servers.runtime.runtime_tables import migrate_runtime_tables
from tests.audit_log import MemoryAuditLog

RENAME = "/runtimetest.v1.ProbeService/Rename"
RENAMER = identity_pb2.Principal(
    user="users/alice",
    username="alice",
    session="sessions/s1",
    kind=identity_pb2.PRINCIPAL_KIND_STAFF,
    permissions=["probe.things.rename"],
)


class MemorySink(MemoryAuditLog):
    """The in-memory log (unreachable while `down`) that can also fail writes but not
    the check while `losing`, as a log that goes away in the middle of a call."""

    def __init__(self) -> None:
        super().__init__()
        self.losing = False

    def write(self, entries: Sequence[AuditEntry]) -> None:
        if self.losing:
            raise ConnectionError("the account service is away")
        super().write(entries)


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime.now(UTC))


@pytest.fixture
def outbox(sink: MemorySink, tmp_path: Path, clock: SettableClock) -> Iterator[AuditOutbox]:
    """The audit outbox in a real (SQLite) database, as every server has one."""
    url = f"sqlite:///{tmp_path / 'probe.db'}"
    migrate_runtime_tables("probe", url)
    engine = create_engine(url)
    yield AuditOutbox(engine, "probe", sink, clock=clock)
    engine.dispose()


@pytest.fixture
def audited(start_probe: StartProbe, sink: MemorySink, outbox: AuditOutbox) -> Running:
    return start_probe(audit_sink=sink, audit_outbox=outbox)


@pytest.fixture
def audited_stub(audited: Running, probe: types.ModuleType) -> Any:
    running = audited
    channel = grpc.insecure_channel(running.target)
    yield probe.probe_pb2_grpc.ProbeServiceStub(channel)
    channel.close()


def _as(signer: AssertionSigner, principal: identity_pb2.Principal, request_id: str) -> Any:
    return [
        (METADATA_KEY, signer.sign(principal, audience="probe").SerializeToString()),
        ("x-request-id", request_id),
    ]


def _refused_while_the_log_is_down(
    sink: MemorySink, outbox: AuditOutbox, call: Callable[[], object]
) -> AuditEntry:
    """Make `call` with the log unreachable: it is refused (UNAVAILABLE, nothing
    changed); the refusal's one record, forwarded from the outbox once the log is back."""
    sink.down = True
    with pytest.raises(grpc.RpcError) as caught:
        call()
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "nothing was changed" in (caught.value.details() or "")
    sink.down = False
    assert outbox.forward() == 1
    [entry] = sink.entries
    return entry


def test_a_successful_call_records_actor_resource_outcome_and_details(
    audited_stub: Any, probe: types.ModuleType, signer: AssertionSigner, sink: MemorySink
) -> None:
    reply = audited_stub.Rename(
        probe.pb2.RenameRequest(name="users/me/things/lamp", new_name="light"),
        metadata=_as(signer, RENAMER, "req-rename-1"),
    )
    assert reply.name == "things/light"
    [entry] = sink.entries
    assert entry.action == RENAME
    assert (entry.actor, entry.actor_username) == ("users/alice", "alice")
    assert entry.resource == "users/alice/things/lamp"  # users/me is the caller
    assert (entry.code, entry.error_reason) == (0, "")
    assert entry.request_id == "req-rename-1"
    assert entry.client_ip == "127.0.0.1"
    assert dict(entry.details) == {"newName": "light"}


def test_failures_are_recorded_with_code_and_reason(
    audited_stub: Any, probe: types.ModuleType, signer: AssertionSigner, sink: MemorySink
) -> None:
    for request in (
        probe.pb2.RenameRequest(name="things/gone", new_name="x", missing=True),
        probe.pb2.RenameRequest(name="things/long", new_name="n" * 21),  # fails validation
    ):
        with pytest.raises(grpc.RpcError):
            audited_stub.Rename(request, metadata=_as(signer, RENAMER, "req-fail"))
    outcomes = [(e.resource, e.code, e.error_reason) for e in sink.entries]
    assert outcomes == [
        ("things/gone", grpc.StatusCode.NOT_FOUND.value[0], "NOT_FOUND"),
        ("things/long", grpc.StatusCode.INVALID_ARGUMENT.value[0], "INVALID_ARGUMENT"),
    ]


def test_access_refusals_are_left_to_the_denial_auditor(
    audited_stub: Any, probe: types.ModuleType, signer: AssertionSigner, sink: MemorySink
) -> None:
    stranger = identity_pb2.Principal(user="users/bob", kind=identity_pb2.PRINCIPAL_KIND_STAFF)
    with pytest.raises(grpc.RpcError) as caught:
        audited_stub.Rename(
            probe.pb2.RenameRequest(name="things/a"), metadata=_as(signer, stranger, "r")
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert sink.entries == []


def test_unaudited_methods_leave_no_record_but_scope_refusals_do(
    audited_stub: Any, probe: types.ModuleType, sink: MemorySink
) -> None:
    audited_stub.Echo(probe.pb2.EchoRequest(user_name="abcdefg"))
    with pytest.raises(grpc.RpcError):
        audited_stub.Fail(probe.pb2.FailRequest(kind="not_found"))
    assert sink.entries == []
    with pytest.raises(grpc.RpcError):
        audited_stub.Fail(probe.pb2.FailRequest(kind="out_of_scope"))
    [entry] = sink.entries
    assert entry.action == "/runtimetest.v1.ProbeService/Fail"
    assert (entry.code, entry.error_reason) == (
        grpc.StatusCode.PERMISSION_DENIED.value[0],
        "OUT_OF_SCOPE",
    )


def test_streams_are_recorded_when_they_end(
    audited_stub: Any, probe: types.ModuleType, sink: MemorySink
) -> None:
    assert [r.number for r in audited_stub.Count(probe.pb2.CountRequest(count=3))] == [1, 2, 3]
    with pytest.raises(grpc.RpcError):
        list(audited_stub.Count(probe.pb2.CountRequest(count=5, fail_at=2)))
    outcomes = [(e.action, e.code, e.error_reason) for e in sink.entries]
    count = "/runtimetest.v1.ProbeService/Count"
    assert outcomes == [
        (count, 0, ""),
        (count, grpc.StatusCode.NOT_FOUND.value[0], "NOT_FOUND"),
    ]


def test_an_audited_call_is_refused_while_the_log_is_unreachable(
    audited: Running,
    audited_stub: Any,
    probe: types.ModuleType,
    signer: AssertionSigner,
    sink: MemorySink,
    outbox: AuditOutbox,
) -> None:
    entry = _refused_while_the_log_is_down(
        sink,
        outbox,
        lambda: audited_stub.Rename(
            probe.pb2.RenameRequest(name="things/a", new_name="b"),
            metadata=_as(signer, RENAMER, "req-refused"),
        ),
    )
    # The servicer never ran; the refusal's own record waited for the log.
    assert audited.servicer.renamed == []
    assert (entry.request_id, entry.code) == (
        "req-refused",
        grpc.StatusCode.UNAVAILABLE.value[0],
    )
    # Unaudited methods do not need the log.
    sink.down = True
    assert audited_stub.Echo(probe.pb2.EchoRequest(user_name="abcdefg")).user_name


def test_a_record_lost_after_the_check_waits_in_the_outbox_until_the_log_is_back(
    audited_stub: Any,
    probe: types.ModuleType,
    signer: AssertionSigner,
    sink: MemorySink,
    outbox: AuditOutbox,
    clock: SettableClock,
) -> None:
    sink.losing = True
    reply = audited_stub.Rename(
        probe.pb2.RenameRequest(name="things/a", new_name="b"),
        metadata=_as(signer, RENAMER, "req-kept"),
    )
    assert reply.name == "things/b"
    assert (sink.entries, outbox.pending()) == ([], 1)
    assert outbox.forward() == 0  # still away: kept, with a backoff
    sink.losing = False
    assert outbox.forward() == 0  # not before the backoff is over
    clock.advance(timedelta(seconds=5))
    assert outbox.forward() == 1
    [entry] = sink.entries
    assert (entry.action, entry.request_id, entry.code) == (RENAME, "req-kept", 0)
    assert outbox.pending() == 0
    # Forwarded once: the log dedupes by the entry's own write id if it is sent again.
    assert entry.write_id


def test_an_audited_stream_is_refused_while_the_log_is_unreachable(
    audited_stub: Any, probe: types.ModuleType, sink: MemorySink, outbox: AuditOutbox
) -> None:
    # On the aio server Count is an async generator on the event loop: the same check.
    entry = _refused_while_the_log_is_down(
        sink, outbox, lambda: list(audited_stub.Count(probe.pb2.CountRequest(count=3)))
    )
    assert (entry.action, entry.code) == (
        "/runtimetest.v1.ProbeService/Count",
        grpc.StatusCode.UNAVAILABLE.value[0],
    )
