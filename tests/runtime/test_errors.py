"""Domain errors become google.rpc.Status with ErrorInfo; anything else becomes a bare
INTERNAL that reveals nothing."""

from __future__ import annotations

import io
import json
import logging
import types
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2

from runtime.statuses import detail, error_info, rich_status
from servers.runtime import (
    Aborted,
    DomainError,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    error_from_rpc,
)
from servers.runtime.errors import INTERNAL_MESSAGE, FieldViolation, reason_name, to_status
from servers.runtime.logs import JsonFormatter


def _fail(stub: Any, probe: types.ModuleType, kind: str) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Fail(probe.pb2.FailRequest(kind=kind), metadata=[("x-request-id", "req-42")])
    return caught.value


@pytest.fixture
def rpc_log() -> Iterator[io.StringIO]:
    """JSON lines written by the runtime's loggers during the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("palmgrid")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_not_found_maps_to_its_code_reason_and_domain(stub: Any, probe: types.ModuleType) -> None:
    error = _fail(stub, probe, "not_found")
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "customers/3100000001 not found"
    info = error_info(error)
    assert (info.reason, info.domain) == ("NOT_FOUND", "probe.palmgrid")
    assert dict(info.metadata) == {"resource": "customers"}
    request_info = detail(error, error_details_pb2.RequestInfo)
    assert request_info.request_id == "req-42"


def test_resource_exhausted_carries_retry_info(stub: Any, probe: types.ModuleType) -> None:
    error = _fail(stub, probe, "exhausted")
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_info(error).reason == "ACCOUNT_LOCKED"
    retry = detail(error, error_details_pb2.RetryInfo)
    assert retry.retry_delay.ToTimedelta() == timedelta(minutes=15)


def test_aborted_maps_to_aborted(stub: Any, probe: types.ModuleType) -> None:
    error = _fail(stub, probe, "aborted")
    assert error.code() == grpc.StatusCode.ABORTED
    assert error_info(error).reason == "IDEMPOTENCY_KEY_REUSED"


def test_unexpected_exception_is_internal_without_details(
    stub: Any, probe: types.ModuleType, rpc_log: io.StringIO
) -> None:
    error = _fail(stub, probe, "crash")
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == INTERNAL_MESSAGE
    raw = rich_status(error).SerializeToString()
    for leak in (b"10.0.0.7", b"hunter2", b"RuntimeError", b"Traceback", b"probe.py"):
        assert leak not in raw
    assert error_info(error).reason == "INTERNAL"
    assert detail(error, error_details_pb2.RequestInfo).request_id == "req-42"
    logged = [line for line in _lines(rpc_log) if line["message"] == "unexpected error"]
    assert len(logged) == 1
    assert logged[0]["request_id"] == "req-42"
    assert "RuntimeError" in logged[0]["exception"]


def test_servicer_abort_is_passed_through(stub: Any, probe: types.ModuleType) -> None:
    error = _fail(stub, probe, "abort")
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == "aborted by the servicer"


def test_servicer_set_code_is_passed_through(
    stub: Any, probe: types.ModuleType, rpc_log: io.StringIO
) -> None:
    error = _fail(stub, probe, "set_code")
    assert error.code() == grpc.StatusCode.NOT_FOUND
    calls = [line for line in _lines(rpc_log) if line["message"] == "rpc"]
    assert calls[-1]["code"] == "NOT_FOUND"


def test_method_without_an_implementation_is_unimplemented(
    stub: Any, probe: types.ModuleType, rpc_log: io.StringIO
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Later(probe.pb2.LaterRequest())
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert error_info(caught.value).reason == "NOT_IMPLEMENTED"
    messages = [line["message"] for line in _lines(rpc_log)]
    assert "unexpected error" not in messages
    assert [line["code"] for line in _lines(rpc_log) if line["message"] == "rpc"] == [
        "UNIMPLEMENTED"
    ]


def test_error_in_the_middle_of_a_stream(stub: Any, probe: types.ModuleType) -> None:
    received: list[int] = []
    with pytest.raises(grpc.RpcError) as caught:
        for reply in stub.Count(probe.pb2.CountRequest(count=5, fail_at=3)):
            received.append(reply.number)
    assert received == [1, 2]
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_info(caught.value).reason == "NOT_FOUND"


def test_error_from_rpc_reads_the_status_back(stub: Any, probe: types.ModuleType) -> None:
    error = error_from_rpc(_fail(stub, probe, "exhausted"))
    assert isinstance(error, ResourceExhausted)
    assert (error.reason, error.retry_after) == ("ACCOUNT_LOCKED", timedelta(minutes=15))

    with pytest.raises(grpc.RpcError) as caught:
        stub.Echo(probe.pb2.EchoRequest(user_name="x"))
    invalid = error_from_rpc(caught.value)
    assert isinstance(invalid, InvalidArgument)
    assert {v.field for v in invalid.field_violations} == {"userName"}


def test_every_call_is_logged_once_with_code_and_duration(
    stub: Any, probe: types.ModuleType, rpc_log: io.StringIO
) -> None:
    stub.Echo(probe.pb2.EchoRequest(user_name="abcdefg"), metadata=[("x-request-id", "r-1")])
    _fail(stub, probe, "not_found")
    calls = [line for line in _lines(rpc_log) if line["message"] == "rpc"]
    assert [(c["method"], c["code"]) for c in calls] == [
        ("/runtimetest.v1.ProbeService/Echo", "OK"),
        ("/runtimetest.v1.ProbeService/Fail", "NOT_FOUND"),
    ]
    assert calls[0]["request_id"] == "r-1"
    assert calls[1]["request_id"] == "req-42"
    assert all(c["duration_ms"] >= 0 and c["level"] == "INFO" for c in calls)


def test_reasons_come_from_the_error_reason_enum() -> None:
    assert reason_name("ACCOUNT_LOCKED") == "ACCOUNT_LOCKED"
    assert reason_name("ERROR_REASON_ACCOUNT_LOCKED") == "ACCOUNT_LOCKED"
    assert reason_name(3) == "ACCOUNT_LOCKED"
    with pytest.raises(ValueError):
        NotFound("x", reason="NO_SUCH_REASON")
    with pytest.raises(TypeError):
        Aborted("an aborted call must say why")


def test_status_of_an_invalid_argument() -> None:
    error = InvalidArgument(
        "bad", field_violations=[FieldViolation("pageSize", "must be at most 1000")]
    )
    status = to_status(error, domain="billing.palmgrid")
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    kinds = [d.TypeName() for d in status.details]
    assert kinds == ["google.rpc.ErrorInfo", "google.rpc.BadRequest"]


def test_domain_error_with_an_explicit_code() -> None:
    error = DomainError("gone", code=grpc.StatusCode.DATA_LOSS)
    assert to_status(error, domain="x.palmgrid").code == grpc.StatusCode.DATA_LOSS.value[0]
