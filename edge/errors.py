"""Errors as the phone sees them: an HTTP status and a `google.rpc.Status` JSON body.

`http_status` is the one place that maps a gRPC code to an HTTP status; the table is
grpc-gateway's (`runtime/errors.go`), and CONTRACT.md promises it to the app. The body
is `{"code", "message", "details"}` with `details` decoded from the upstream's
`grpc-status-details-bin` trailer, or — for errors the edge raises itself — an
`ErrorInfo` (reason, domain) and, for bad input, a `BadRequest` naming each field.

Where the edge answers with a status the table would not give, it says so at the raise:
405 for a known path with the wrong method (grpc-gateway: 501), 413 for a body over the
limit, 415 for a body that is not JSON.
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import orjson
from google.protobuf import any_pb2, descriptor_pool, json_format
from google.rpc import error_details_pb2, status_pb2  # noqa: F401  (error_details: for Any)

__all__ = [
    "EdgeError",
    "ErrorRenderer",
    "UpstreamFailure",
    "http_status",
]

log = logging.getLogger(__name__)

_C = grpc.StatusCode
# grpc-gateway's HTTPStatusFromCode.
_HTTP_STATUS: dict[int, int] = {
    _C.OK.value[0]: 200,
    _C.CANCELLED.value[0]: 499,
    _C.UNKNOWN.value[0]: 500,
    _C.INVALID_ARGUMENT.value[0]: 400,
    _C.DEADLINE_EXCEEDED.value[0]: 504,
    _C.NOT_FOUND.value[0]: 404,
    _C.ALREADY_EXISTS.value[0]: 409,
    _C.PERMISSION_DENIED.value[0]: 403,
    _C.UNAUTHENTICATED.value[0]: 401,
    _C.RESOURCE_EXHAUSTED.value[0]: 429,
    _C.FAILED_PRECONDITION.value[0]: 400,
    _C.ABORTED.value[0]: 409,
    _C.OUT_OF_RANGE.value[0]: 400,
    _C.UNIMPLEMENTED.value[0]: 501,
    _C.INTERNAL.value[0]: 500,
    _C.UNAVAILABLE.value[0]: 503,
    _C.DATA_LOSS.value[0]: 500,
}
_DETAILS_KEY = "grpc-status-details-bin"
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_RETRYABLE = frozenset({_C.UNAVAILABLE.value[0], _C.RESOURCE_EXHAUSTED.value[0]})
# What the app waits before retrying a service that did not say (a process restarting).
UNAVAILABLE_RETRY_AFTER_SECONDS = 5

# Messages the client library writes itself can name internal addresses or quote a
# server's exception; without a rich status from the server we replace them.
_GENERIC_MESSAGES = {
    _C.UNAVAILABLE.value[0]: (
        "the service is unavailable; try again later",
        "UPSTREAM_UNAVAILABLE",
    ),
    _C.DEADLINE_EXCEEDED.value[0]: ("the deadline was exceeded", "DEADLINE_EXCEEDED"),
    _C.UNKNOWN.value[0]: ("internal error", "INTERNAL"),
}


def http_status(code: int) -> int:
    """HTTP status for a gRPC status code number (grpc-gateway's table)."""
    return _HTTP_STATUS.get(code, 500)


@dataclass
class EdgeError(Exception):
    """An error the edge answers itself, without (or instead of) the upstream's answer.

    `status` overrides the table where the edge deliberately differs (405, 413, 415).
    """

    code: grpc.StatusCode
    message: str
    reason: str
    status: int | None = None
    violations: Sequence[tuple[str, str]] = ()
    headers: Sequence[tuple[bytes, bytes]] = ()
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @classmethod
    def bad_request(cls, message: str, *violations: tuple[str, str]) -> EdgeError:
        return cls(_C.INVALID_ARGUMENT, message, "INVALID_ARGUMENT", violations=violations)


@dataclass
class UpstreamFailure(Exception):
    """A gRPC error from the upstream call, with its trailers (for rich details)."""

    code: int
    message: str
    trailing: Sequence[tuple[str, str | bytes]] = ()
    initial: Sequence[tuple[str, str | bytes]] = ()

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @classmethod
    def from_rpc_error(cls, exc: grpc.aio.AioRpcError) -> UpstreamFailure:
        return cls(
            exc.code().value[0],
            exc.details() or "",
            tuple(exc.trailing_metadata() or ()),
            tuple(exc.initial_metadata() or ()),
        )


class ErrorRenderer:
    """Turns EdgeErrors and upstream failures into status, headers and JSON bodies."""

    def __init__(
        self,
        *,
        domain: str,
        auth_challenge: str,
        pool: descriptor_pool.DescriptorPool | None = None,
    ) -> None:
        self._domain = domain
        self._challenge = auth_challenge
        self._pools = [p for p in (pool, descriptor_pool.Default()) if p is not None]

    def edge_error(
        self, error: EdgeError, *, had_credentials: bool
    ) -> tuple[int, list[tuple[bytes, bytes]], dict[str, Any]]:
        code = error.code.value[0]
        details: list[dict[str, Any]] = [
            {
                "@type": _ERROR_INFO,
                "reason": error.reason,
                "domain": self._domain,
                "metadata": dict(error.metadata),
            }
        ]
        if error.violations:
            details.append(
                {
                    "@type": _BAD_REQUEST,
                    "fieldViolations": [
                        {"field": f, "description": d} for f, d in error.violations
                    ],
                }
            )
        status = error.status or http_status(code)
        headers = [*error.headers, *self._challenge_header(code, had_credentials)]
        if not any(name == b"retry-after" for name, _ in headers):
            headers += _retry_after_header(code, details)
        return status, headers, {"code": code, "message": error.message, "details": details}

    def upstream_failure(
        self, failure: UpstreamFailure, *, had_credentials: bool
    ) -> tuple[int, list[tuple[bytes, bytes]], dict[str, Any]]:
        code, message = failure.code, failure.message
        raw = _find(failure.trailing, _DETAILS_KEY)
        details: list[dict[str, Any]] = []
        if isinstance(raw, bytes):
            details = self._details(raw)
        elif code in _GENERIC_MESSAGES:
            log.warning("edge: upstream failed with code %d: %s", code, message)
            message, reason = _GENERIC_MESSAGES[code]
            details = [
                {"@type": _ERROR_INFO, "reason": reason, "domain": self._domain, "metadata": {}}
            ]
        headers = self._challenge_header(code, had_credentials)
        headers += _retry_after_header(code, details)
        return http_status(code), headers, {"code": code, "message": message, "details": details}

    def body(self, payload: dict[str, Any]) -> bytes:
        return orjson.dumps(payload)

    def _challenge_header(self, code: int, had_credentials: bool) -> list[tuple[bytes, bytes]]:
        if code != _C.UNAUTHENTICATED.value[0]:
            return []
        challenge = self._challenge
        if had_credentials:
            # RFC 6750: a token was sent and refused.
            challenge += ', error="invalid_token"'
        return [(b"www-authenticate", challenge.encode("latin-1"))]

    def _details(self, raw: bytes) -> list[dict[str, Any]]:
        try:
            status = status_pb2.Status.FromString(raw)
        except Exception:  # a malformed trailer must not turn one error into another
            log.warning("edge: unreadable grpc-status-details-bin")
            return []
        return [self._any(detail) for detail in status.details]

    def _any(self, detail: any_pb2.Any) -> dict[str, Any]:
        for pool in self._pools:
            try:
                out: dict[str, Any] = json_format.MessageToDict(
                    detail, descriptor_pool=pool, always_print_fields_with_no_presence=True
                )
                return out
            except (TypeError, KeyError, json_format.Error):
                continue
        # A detail type we have no descriptor for still reaches the client, undecoded.
        return {"@type": detail.type_url, "value": base64.b64encode(detail.value).decode()}


def _retry_after_header(code: int, details: Sequence[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    """`Retry-After` for a refusal the caller may retry (RFC 9110 §10.2.3): the
    service's RetryInfo delay rounded up to whole seconds, or for a service that could
    not answer at all, a default the app can back off by."""
    if code not in _RETRYABLE:
        return []
    for detail in details:
        if detail.get("@type") == _RETRY_INFO:
            delay = str(detail.get("retryDelay", "")).removesuffix("s")
            try:
                seconds = max(1, math.ceil(float(delay)))
            except ValueError:
                break
            return [(b"retry-after", str(seconds).encode())]
    if code == _C.UNAVAILABLE.value[0]:
        return [(b"retry-after", str(UNAVAILABLE_RETRY_AFTER_SECONDS).encode())]
    return []


def _find(metadata: Sequence[tuple[str, str | bytes]], key: str) -> str | bytes | None:
    for k, v in metadata:
        if k == key:
            return v
    return None
