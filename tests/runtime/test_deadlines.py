"""Deadlines: a call whose deadline passed is not started; the time left, the request id
and the caller's identity travel on to downstream calls."""

from __future__ import annotations

import contextvars
import threading
import time
import types
from typing import Any

import grpc
import pytest

from palmgrid.type.v1 import identity_pb2
from runtime.conftest import StartProbe
from servers.runtime import AssertionSigner, DeadlineExceeded, downstream_call_options
from servers.runtime.calls import CallInfo, CallOptions, bind_call, detached_call_options
from servers.runtime.identity import METADATA_KEY

STAFF = identity_pb2.Principal(
    user="users/ops", kind=identity_pb2.PRINCIPAL_KIND_STAFF, permissions=["probe.*"]
)


def test_call_whose_deadline_passed_while_queued_is_not_started(
    start_probe: StartProbe, probe: types.ModuleType
) -> None:
    running = start_probe(max_workers=1)
    with grpc.insecure_channel(running.target) as channel:
        stub = probe.probe_pb2_grpc.ProbeServiceStub(channel)
        blocker = threading.Thread(
            target=lambda: stub.Sleep(probe.pb2.SleepRequest(millis=400, tag="first"))
        )
        blocker.start()
        while "first" not in running.servicer.started:
            threading.Event().wait(0.01)
        # The only worker is busy: this call waits in the queue past its deadline.
        with pytest.raises(grpc.RpcError) as caught:
            stub.Sleep(probe.pb2.SleepRequest(millis=0, tag="late"), timeout=0.1)
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        blocker.join()
        stub.Sleep(probe.pb2.SleepRequest(millis=0, tag="after"))
    assert running.servicer.started == ["first", "after"]


def test_remaining_time_and_request_id_go_downstream_but_not_the_assertion(
    stub: Any, probe: types.ModuleType, signer: AssertionSigner
) -> None:
    reply = stub.WhoAmI(
        probe.pb2.WhoAmIRequest(),
        timeout=5,
        metadata=[
            ("x-request-id", "req-downstream"),
            (METADATA_KEY, signer.sign(STAFF, audience="probe").SerializeToString()),
        ],
    )
    # grpc carries the deadline as a timeout rounded up to its unit: a few ms over is exact.
    assert 4.0 < reply.downstream_timeout <= 5.05
    assert reply.request_id == reply.downstream_request_id == "req-downstream"
    # The assertion is for this service only: downstream calls go as the service itself.
    assert not reply.forwards_identity


def test_request_id_is_generated_when_absent(
    stub: Any, probe: types.ModuleType, signer: AssertionSigner
) -> None:
    metadata = [(METADATA_KEY, signer.sign(STAFF, audience="probe").SerializeToString())]
    first = stub.WhoAmI(probe.pb2.WhoAmIRequest(), metadata=metadata)
    second = stub.WhoAmI(probe.pb2.WhoAmIRequest(), metadata=metadata)
    assert len(first.request_id) == 32 and first.request_id != second.request_id
    assert first.downstream_timeout == -1.0  # no deadline, none passed on


def test_outside_a_call_downstream_options_use_the_default_timeout() -> None:
    options = downstream_call_options(default_timeout=2.5)
    assert options.timeout == 2.5
    assert dict(options.metadata).keys() == {"x-request-id"}


def test_detached_options_outlive_a_spent_deadline_and_keep_the_request_id() -> None:
    # An audit record of committed work is written even when the caller's time is up.
    spent = CallInfo(request_id="req-late", method="/x.v1.X/Y", deadline=time.monotonic() - 1)

    def in_the_spent_call() -> CallOptions:
        bind_call(spent)
        with pytest.raises(DeadlineExceeded):
            downstream_call_options(default_timeout=2.0)
        return detached_call_options(2.0)

    options = contextvars.copy_context().run(in_the_spent_call)
    assert options.timeout == 2.0
    assert dict(options.metadata) == {"x-request-id": "req-late"}


def test_a_method_sees_that_its_caller_stopped_waiting(
    start_probe: StartProbe, probe: types.ModuleType
) -> None:
    running = start_probe()
    with grpc.insecure_channel(running.target) as channel:
        stub = probe.probe_pb2_grpc.ProbeServiceStub(channel)
        stub.Sleep(probe.pb2.SleepRequest(millis=0, tag="waited"))
        with pytest.raises(grpc.RpcError) as caught:
            stub.Sleep(probe.pb2.SleepRequest(millis=600, tag="gone"), timeout=0.2)
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        deadline = time.monotonic() + 5
        while "gone" not in running.servicer.caller_waited and time.monotonic() < deadline:
            time.sleep(0.05)
    assert running.servicer.caller_waited == {"waited": True, "gone": False}
