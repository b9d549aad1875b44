"""Domain errors that servicers raise, and the one mapping to `google.rpc.Status`.

A servicer raises a `DomainError`; the runtime turns it into a status whose details
hold a `google.rpc.ErrorInfo` (reason: a `palmgrid.type.v1.ErrorReason` name without
the `ERROR_REASON_` prefix; domain: `<service>.palmgrid`), a `google.rpc.RequestInfo`
with the request id, and the subclass's own details. Any other exception becomes
INTERNAL with a generic message.

    DomainError                 (code given per instance; UNKNOWN by default)
     ├── InvalidArgument        INVALID_ARGUMENT     + BadRequest (one FieldViolation each)
     ├── FailedPrecondition     FAILED_PRECONDITION
     ├── OutOfRange             OUT_OF_RANGE
     ├── Unauthenticated        UNAUTHENTICATED
     ├── PermissionDenied       PERMISSION_DENIED
     ├── NotFound               NOT_FOUND
     ├── AlreadyExists          ALREADY_EXISTS
     ├── Aborted                ABORTED              (reason required)
     ├── ResourceExhausted      RESOURCE_EXHAUSTED   + RetryInfo when retry_after is given
     ├── Unavailable            UNAVAILABLE          + RetryInfo when retry_after is given
     ├── DeadlineExceeded       DEADLINE_EXCEEDED
     ├── Unimplemented          UNIMPLEMENTED
     └── Internal               INTERNAL

`error_from_rpc` does the reverse for a client: a `grpc.RpcError` becomes the matching
subclass, with reason, metadata, field violations and retry delay read back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from palmgrid.type.v1 import errors_pb2

REASON_PREFIX = "ERROR_REASON_"
INTERNAL_MESSAGE = "internal error; the server log has the details under the request id"


def reason_name(reason: str | int) -> str:
    """The ErrorInfo form of a reason: "ACCOUNT_LOCKED" for "ACCOUNT_LOCKED",
    "ERROR_REASON_ACCOUNT_LOCKED" or the enum value; ValueError when it is not one."""
    if isinstance(reason, int):
        full = errors_pb2.ErrorReason.Name(reason)  # type: ignore[arg-type]
    else:
        full = reason if reason.startswith(REASON_PREFIX) else REASON_PREFIX + reason
        errors_pb2.ErrorReason.Value(full)  # raises ValueError for an unknown reason
    if full == "ERROR_REASON_UNSPECIFIED":
        raise ValueError("ERROR_REASON_UNSPECIFIED is never sent")
    return full.removeprefix(REASON_PREFIX)


@dataclass(frozen=True)
class FieldViolation:
    """One bad request field: its path (lowerCamelCase, as in JSON) and why."""

    field: str
    description: str
    # UPPER_SNAKE cause, such as "STRING_MIN_LEN"; optional.
    reason: str = ""


class DomainError(Exception):
    """A failure with a meaning for the caller; see the module docstring for the tree."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    # None: the raiser must name the reason (no single reason fits the code).
    default_reason: ClassVar[str | None] = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | int | None = None,
        metadata: Mapping[str, str] | None = None,
        code: grpc.StatusCode | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        chosen = reason if reason is not None else self.default_reason
        if chosen is None:
            raise TypeError(f"{type(self).__name__} needs an explicit reason")
        self.reason = reason_name(chosen)
        self.metadata = dict(metadata or {})
        if code is not None:
            self.code = code

    def extra_details(self) -> list[Message]:
        """Details beyond ErrorInfo and RequestInfo that this error adds to its status."""
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, reason={self.reason!r})"


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        message: str,
        *,
        field_violations: Sequence[FieldViolation] = (),
        reason: str | int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.field_violations = tuple(field_violations)

    def extra_details(self) -> list[Message]:
        if not self.field_violations:
            return []
        return [
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description, reason=v.reason
                    )
                    for v in self.field_violations
                ]
            )
        ]


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class OutOfRange(DomainError):
    code = grpc.StatusCode.OUT_OF_RANGE
    default_reason = "INVALID_ARGUMENT"


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "ASSERTION_INVALID"


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class Aborted(DomainError):
    code = grpc.StatusCode.ABORTED
    default_reason = None  # IDEMPOTENCY_KEY_REUSED, REQUEST_IN_PROGRESS, ...


class _Retryable(DomainError):
    """An error after which the caller may retry, no sooner than `retry_after`."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: timedelta | None = None,
        reason: str | int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.retry_after = retry_after

    def extra_details(self) -> list[Message]:
        if self.retry_after is None:
            return []
        delay = duration_pb2.Duration()
        delay.FromTimedelta(self.retry_after)
        return [error_details_pb2.RetryInfo(retry_delay=delay)]


class ResourceExhausted(_Retryable):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "RATE_LIMITED"


class Unavailable(_Retryable):
    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UPSTREAM_UNAVAILABLE"


class DeadlineExceeded(DomainError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    default_reason = "UPSTREAM_UNAVAILABLE"


class Unimplemented(DomainError):
    code = grpc.StatusCode.UNIMPLEMENTED
    default_reason = "NOT_IMPLEMENTED"


class Internal(DomainError):
    code = grpc.StatusCode.INTERNAL
    default_reason = "INTERNAL"


# The one table from gRPC codes to exception classes (used by error_from_rpc).
ERROR_CLASSES: dict[grpc.StatusCode, type[DomainError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        FailedPrecondition,
        OutOfRange,
        Unauthenticated,
        PermissionDenied,
        NotFound,
        AlreadyExists,
        Aborted,
        ResourceExhausted,
        Unavailable,
        DeadlineExceeded,
        Unimplemented,
        Internal,
    )
}


def domain_for(service: str) -> str:
    """The ErrorInfo domain of a service: "billing" → "billing.palmgrid"."""
    return service if service.endswith(".palmgrid") else f"{service}.palmgrid"


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def to_status(error: DomainError, *, domain: str, request_id: str = "") -> status_pb2.Status:
    """The google.rpc.Status the caller receives for `error`."""
    details: list[Message] = [
        error_details_pb2.ErrorInfo(reason=error.reason, domain=domain, metadata=error.metadata),
        *error.extra_details(),
    ]
    if request_id:
        details.append(error_details_pb2.RequestInfo(request_id=request_id))
    return status_pb2.Status(
        code=error.code.value[0],
        message=error.message,
        details=[_pack(d) for d in details],
    )


def internal_status(*, domain: str, request_id: str = "") -> status_pb2.Status:
    """INTERNAL with a generic message: nothing about the failure reaches the caller."""
    return to_status(Internal(INTERNAL_MESSAGE), domain=domain, request_id=request_id)


def to_grpc_status(status: status_pb2.Status) -> grpc.Status:
    """The grpc.Status to hand to `context.abort_with_status`."""
    return rpc_status.to_status(status)


def error_from_rpc(error: grpc.RpcError) -> DomainError:
    """The DomainError a failed call carries, for clients and service-to-service calls."""
    call: grpc.Call = error  # type: ignore[assignment]
    code = call.code()
    try:
        status = rpc_status.from_call(call)
    except ValueError:
        status = None
    message = status.message if status is not None else (call.details() or "")
    info = error_details_pb2.ErrorInfo()
    violations: list[FieldViolation] = []
    retry_after: timedelta | None = None
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations += [
                FieldViolation(v.field, v.description, v.reason) for v in bad.field_violations
            ]
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            retry_after = retry.retry_delay.ToTimedelta()
    cls = ERROR_CLASSES.get(code, DomainError)
    reason = _known_reason(info.reason) or cls.default_reason or "INTERNAL"
    metadata = dict(info.metadata)
    if cls is InvalidArgument:
        return InvalidArgument(
            message, field_violations=violations, reason=reason, metadata=metadata
        )
    if issubclass(cls, _Retryable):
        return cls(message, retry_after=retry_after, reason=reason, metadata=metadata)
    if cls is DomainError:
        return DomainError(message, reason=reason, metadata=metadata, code=code)
    return cls(message, reason=reason, metadata=metadata)


def _known_reason(reason: str) -> str | None:
    # A reason from a newer server that this build does not know is dropped, not fatal.
    try:
        return reason_name(reason) if reason else None
    except ValueError:
        return None
