"""Reading the rich status of a failed call, for assertions."""

from __future__ import annotations

from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status


def rich_status(error: grpc.RpcError) -> status_pb2.Status:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "the call carried no google.rpc.Status"
    return status


def detail(error: grpc.RpcError, kind: type[Any]) -> Any:
    """The first detail of type `kind` (ErrorInfo, BadRequest, ...), or None."""
    for packed in rich_status(error).details:
        if packed.Is(kind.DESCRIPTOR):
            message = kind()
            packed.Unpack(message)
            return message
    return None


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    info = detail(error, error_details_pb2.ErrorInfo)
    assert info is not None, "the status has no ErrorInfo"
    return info
