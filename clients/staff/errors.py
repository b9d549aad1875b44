"""What a failed command prints and the exit code it ends with.

Exit codes, one per kind of failure, so scripts can tell them apart:

    0  done
    1  any other server error (INTERNAL, RESOURCE_EXHAUSTED, ...)
    2  usage: a bad option or argument, or a request the server found invalid
    3  authentication: not signed in, or the session ended (UNAUTHENTICATED)
    4  permission (PERMISSION_DENIED)
    5  not found (NOT_FOUND)
    6  conflict: exists already, changed meanwhile, or not in a state that allows it
       (ALREADY_EXISTS, ABORTED, FAILED_PRECONDITION)
    7  unavailable: a service cannot be reached or did not answer in time
"""

from __future__ import annotations

import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

OTHER = 1
USAGE = 2
AUTHENTICATION = 3
PERMISSION = 4
NOT_FOUND = 5
CONFLICT = 6
UNAVAILABLE = 7

EXIT_CODES: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: USAGE,
    grpc.StatusCode.OUT_OF_RANGE: USAGE,
    grpc.StatusCode.UNAUTHENTICATED: AUTHENTICATION,
    grpc.StatusCode.PERMISSION_DENIED: PERMISSION,
    grpc.StatusCode.NOT_FOUND: NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: CONFLICT,
    grpc.StatusCode.ABORTED: CONFLICT,
    grpc.StatusCode.FAILED_PRECONDITION: CONFLICT,
    grpc.StatusCode.UNAVAILABLE: UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: UNAVAILABLE,
}


class CliError(Exception):
    """A failure found by the CLI itself (bad input, nothing signed in, unknown user)."""

    def __init__(self, message: str, exit_code: int = OTHER) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def exit_code_of(error: grpc.RpcError) -> int:
    return EXIT_CODES.get(error.code(), OTHER)


def reason_of(error: grpc.RpcError) -> str:
    """The ErrorInfo reason of a failed call ("SECOND_FACTOR_REQUIRED"); "" when none."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    info = error_details_pb2.ErrorInfo()
    for detail in status.details if status is not None else ():
        if detail.Unpack(info):
            return str(info.reason)
    return ""


def describe(error: grpc.RpcError) -> list[str]:
    """The lines that explain a failed call: code and message, the reason, each bad
    field and any other detail the server sent (proto3 JSON)."""
    lines = [f"{error.code().name}: {error.details()}"]
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return lines
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        bad = error_details_pb2.BadRequest()
        request = error_details_pb2.RequestInfo()
        if detail.Unpack(info):
            lines.append(f"reason: {info.reason}")
        elif detail.Unpack(request):  # what support asks for
            lines.append(f"request id: {request.request_id}")
        elif detail.Unpack(bad):
            lines.extend(f"field {v.field}: {v.description}" for v in bad.field_violations)
        else:
            lines.append(json_format.MessageToJson(detail, indent=None, ensure_ascii=False))
    return lines
