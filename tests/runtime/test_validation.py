"""Requests are validated from their buf.validate rules before the servicer runs."""

from __future__ import annotations

import types
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2

from runtime.statuses import detail, error_info


def _invalid(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return caught.value


def test_valid_request_reaches_the_servicer(stub: Any, probe: types.ModuleType) -> None:
    reply = stub.Echo(probe.pb2.EchoRequest(user_name="abcdefg", page_size=10))
    assert reply.user_name == "abcdefg"


def test_bad_request_names_each_bad_field(stub: Any, probe: types.ModuleType) -> None:
    request = probe.pb2.EchoRequest(
        user_name="ab1",
        page_size=5000,
        items=[probe.pb2.Item(meter_code="ok"), probe.pb2.Item(meter_code="x")],
        labels={"a": "b"},
    )
    error = _invalid(lambda: stub.Echo(request))
    bad = detail(error, error_details_pb2.BadRequest)
    fields = [(v.field, v.reason) for v in bad.field_violations]
    assert fields == [
        ("userName", "STRING_MIN_LEN"),
        ("userName", "STRING_PATTERN"),
        ("pageSize", "INT32_GTE_LTE"),
        ("items[1].meterCode", "STRING_MIN_LEN"),
        ('labels["a"]', "STRING_MIN_LEN"),
    ]
    assert all(v.description for v in bad.field_violations)
    assert "at least 6 characters" in bad.field_violations[0].description
    info = error_info(error)
    assert (info.reason, info.domain) == ("INVALID_ARGUMENT", "probe.palmgrid")
    assert error.details().startswith("invalid request: userName")


def test_each_streamed_request_is_validated(stub: Any, probe: types.ModuleType) -> None:
    words = [probe.pb2.CollectRequest(word=w) for w in ("grid", "x", "palm")]
    error = _invalid(lambda: stub.Collect(iter(words)))
    bad = detail(error, error_details_pb2.BadRequest)
    assert [v.field for v in bad.field_violations] == ["word"]


def test_valid_stream_is_collected(stub: Any, probe: types.ModuleType) -> None:
    words = [probe.pb2.CollectRequest(word=w) for w in ("palm", "grid")]
    assert stub.Collect(iter(words)).text == "palm grid"


def test_server_streaming_request_is_validated(stub: Any, probe: types.ModuleType) -> None:
    error = _invalid(lambda: list(stub.Count(probe.pb2.CountRequest(count=0))))
    bad = detail(error, error_details_pb2.BadRequest)
    assert [v.field for v in bad.field_violations] == ["count"]
