"""The server interceptor that runs around every PalmGrid method.

In order, for each call of a method in the server's method table:
1. bind a `CallInfo` (request id from `x-request-id` or a new one) in a fresh context;
2. refuse a call whose deadline has already passed (DEADLINE_EXCEEDED; not started);
3. authenticate and authorize (`servers.runtime.access`), telling `on_denied` of refusals;
4. open the call's audit note (`servers.runtime.auditing`);
5. validate the request against its protovalidate rules (each streamed request too);
   for an `audited` method, refuse it (UNAVAILABLE) when the audit log is unreachable;
6. run the servicer; a `DomainError` becomes its `google.rpc.Status`, a database that
   cannot be reached UNAVAILABLE with a retry delay, any other exception INTERNAL with a
   generic message (and a log record with the traceback);
7. write the audit record when the method is `audited` (or the servicer refused with
   PERMISSION_DENIED), before the answer leaves;
8. log one line: method, code, duration, request id.
Methods outside the table (health, reflection) pass through untouched.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from palmgrid.type.v1.identity_pb2 import Principal
from servers.runtime import calls
from servers.runtime.access import Authenticator, authorize, identity_from
from servers.runtime.auditing import CallAudit, CallAuditor
from servers.runtime.db import database_unavailable, statement_timed_out
from servers.runtime.errors import (
    DeadlineExceeded,
    DomainError,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    internal_status,
    to_grpc_status,
    to_status,
)
from servers.runtime.identity import AssertionInvalid
from servers.runtime.methods import MethodInfo
from servers.runtime.metrics import observe_rpc
from servers.runtime.validation import RequestValidator

log = logging.getLogger("palmgrid.rpc")
# What a caller is told to wait after the database failed a call: about what a
# PostgreSQL restart or a failover takes.
DATABASE_RETRY_AFTER = timedelta(seconds=3)

# time_remaining() without a deadline is "forever"; anything beyond this counts as none.
_NO_DEADLINE = 10 * 365 * 24 * 3600.0

Behaviour = Callable[[Any, grpc.ServicerContext], Any]
# Told of every refusal by authentication or authorization (the audit log listens).
DenialHook = Callable[[Principal | None, DomainError], None]


class RuntimeInterceptor(grpc.ServerInterceptor):
    """Request id, deadline, access, validation, error mapping, auditing and logging."""

    def __init__(
        self,
        methods: Mapping[str, MethodInfo],
        *,
        domain: str,
        authenticator: Authenticator,
        validator: RequestValidator | None = None,
        on_denied: DenialHook | None = None,
        auditor: CallAuditor | None = None,
    ) -> None:
        self._methods = dict(methods)
        self._on_denied = on_denied
        self._auditor = auditor
        self._domain = domain
        self._authenticator = authenticator
        self._validator = validator or RequestValidator()

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        method = self._method_of(handler_call_details)
        if handler is None or method is None:
            return handler
        return self._wrap(handler, method)

    def _method_of(self, handler_call_details: grpc.HandlerCallDetails) -> MethodInfo | None:
        """The PalmGrid method called, or None (health, reflection)."""
        return self._methods.get(handler_call_details.method)  # type: ignore[attr-defined]

    # --- handler wrapping -------------------------------------------------------------

    def _wrap(self, handler: grpc.RpcMethodHandler, method: MethodInfo) -> grpc.RpcMethodHandler:
        codec = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            inner = handler.unary_unary
            return grpc.unary_unary_rpc_method_handler(
                lambda request, context: self._unary(method, inner, request, context), **codec
            )
        if handler.stream_unary is not None:
            inner = handler.stream_unary
            return grpc.stream_unary_rpc_method_handler(
                lambda requests, context: self._unary(method, inner, requests, context), **codec
            )
        if handler.unary_stream is not None:
            inner = handler.unary_stream
            return grpc.unary_stream_rpc_method_handler(
                lambda request, context: self._stream(method, inner, request, context), **codec
            )
        inner = handler.stream_stream
        return grpc.stream_stream_rpc_method_handler(
            lambda requests, context: self._stream(method, inner, requests, context), **codec
        )

    def _unary(
        self, method: MethodInfo, behaviour: Behaviour, request: Any, context: grpc.ServicerContext
    ) -> Any:
        # A fresh context per call: the CallInfo cannot leak into the pool thread's next call.
        return contextvars.copy_context().run(
            self._serve_unary, method, behaviour, request, context
        )

    def _stream(
        self, method: MethodInfo, behaviour: Behaviour, request: Any, context: grpc.ServicerContext
    ) -> Iterator[Any]:
        scope = contextvars.copy_context()
        responses = self._serve_stream(method, behaviour, request, context)
        try:
            while True:
                try:
                    item = scope.run(next, responses)
                except StopIteration:
                    return
                yield item
        finally:
            scope.run(responses.close)

    # --- one call -----------------------------------------------------------------------

    def _serve_unary(
        self, method: MethodInfo, behaviour: Behaviour, request: Any, context: grpc.ServicerContext
    ) -> Any:
        started = time.monotonic()
        call = self._begin(method, context)
        outcome = _Outcome()
        audit: CallAudit | None = None
        try:
            self._admit(method, call, context)
            audit = self._open_audit(method, request, context)
            request = self._validated(method, request, audit)
            self._admit_audit(audit)
            response = behaviour(request, context)
            outcome.succeeded(context, response)
            return response
        except Exception as exc:
            status = self._failure(exc, context, outcome)
            if status is None:  # the servicer aborted the call itself
                raise
            context.abort_with_status(to_grpc_status(status))
        finally:
            self._close_audit(audit, context, outcome)
            self._log(method, context, outcome.code, started)

    def _serve_stream(
        self, method: MethodInfo, behaviour: Behaviour, request: Any, context: grpc.ServicerContext
    ) -> Generator[Any, None, None]:
        started = time.monotonic()
        call = self._begin(method, context)
        outcome = _Outcome()
        audit: CallAudit | None = None
        try:
            self._admit(method, call, context)
            audit = self._open_audit(method, request, context)
            request = self._validated(method, request, audit)
            self._admit_audit(audit)
            yield from behaviour(request, context)
            outcome.succeeded(context, None)
        except GeneratorExit:
            outcome.code = grpc.StatusCode.CANCELLED
            raise
        except Exception as exc:
            status = self._failure(exc, context, outcome)
            if status is None:
                raise
            context.abort_with_status(to_grpc_status(status))
        finally:
            self._close_audit(audit, context, outcome)
            self._log(method, context, outcome.code, started)

    def _begin(self, method: MethodInfo, context: grpc.ServicerContext) -> calls.CallInfo:
        metadata = context.invocation_metadata()
        remaining = context.time_remaining()
        deadline = (
            time.monotonic() + remaining
            if remaining is not None and remaining < _NO_DEADLINE
            else None
        )
        call = calls.CallInfo(
            request_id=calls.request_id_from(metadata),
            method=method.path,
            deadline=deadline,
            identity=identity_from(metadata),
        )
        calls.bind_call(call)
        return call

    def _admit(
        self, method: MethodInfo, call: calls.CallInfo, context: grpc.ServicerContext
    ) -> None:
        """Deadline and access, then the call bound with its principal."""
        calls.bind_call(self._authorized(method, call, context))

    def _authorized(
        self, method: MethodInfo, call: calls.CallInfo, context: grpc.ServicerContext
    ) -> calls.CallInfo:
        """The call with its principal, once its deadline and access are checked;
        refusals of access are told to `on_denied` (which may block: the audit log)."""
        if call.deadline is not None and call.time_remaining() == 0:
            raise DeadlineExceeded("the deadline passed before the call started")
        principal = None
        try:
            try:
                principal = self._authenticator.authenticate(call.identity, context.auth_context())
            except AssertionInvalid as exc:
                if not method.access.public:
                    raise
                log.warning("ignoring an invalid identity assertion", extra={"problem": str(exc)})
            authorize(method.access, principal)
        except (Unauthenticated, PermissionDenied) as refusal:
            if self._on_denied is not None:
                self._on_denied(principal, refusal)
            raise
        return replace(call, principal=principal)

    def _validated(self, method: MethodInfo, request: Any, audit: CallAudit | None) -> Any:
        """The request, validated; a client stream is wrapped so that each message is
        validated as the servicer reads it (and the first one noted for the audit)."""
        if method.client_streaming:
            return self._checked(request, audit)
        self._validator.check(request)
        return request

    def _checked(self, requests: Iterator[Message], audit: CallAudit | None) -> Iterator[Message]:
        for request in requests:
            if audit is not None and audit.request is None:
                audit.request = request
            self._validator.check(request)
            yield request

    def _open_audit(
        self, method: MethodInfo, request: Any, context: grpc.ServicerContext
    ) -> CallAudit | None:
        if self._auditor is None:
            return None
        return self._auditor.open(method, request, context)

    def _admit_audit(self, audit: CallAudit | None) -> None:
        if audit is not None and self._auditor is not None:
            self._auditor.admit(audit)

    def _close_audit(
        self, audit: CallAudit | None, context: grpc.ServicerContext, outcome: _Outcome
    ) -> None:
        if audit is not None and self._auditor is not None:
            self._auditor.close(
                audit,
                context,
                code=outcome.code or grpc.StatusCode.UNKNOWN,
                reason=outcome.reason,
                response=outcome.response,
            )

    def _failure(
        self, exc: Exception, context: grpc.ServicerContext, outcome: _Outcome
    ) -> status_pb2.Status | None:
        """The status a call that raised `exc` ends with, noted in `outcome`; None when
        the servicer already aborted it (the caller re-raises)."""
        status = self._status_for(exc, context)
        if status is None:
            outcome.aborted(context)
        else:
            outcome.failed(status)
        return status

    def _status_for(
        self, exc: Exception, context: grpc.ServicerContext
    ) -> status_pb2.Status | None:
        """The status to end the call with; None when the servicer already aborted it."""
        call = calls.current_call()
        request_id = call.request_id if call else ""
        if isinstance(exc, DomainError):
            return to_status(exc, domain=self._domain, request_id=request_id)
        aborted = context.code()  # type: ignore[attr-defined]
        if aborted is not None and aborted != grpc.StatusCode.OK:
            return None
        if statement_timed_out(exc):
            log.warning("database statement cancelled at the call's deadline")
            late = DeadlineExceeded("the deadline passed while the database was busy")
            return to_status(late, domain=self._domain, request_id=request_id)
        if database_unavailable(exc):
            # A restart or an overload of the database, not a bug: the caller may retry.
            log.warning("database unavailable: %s", type(exc).__name__, exc_info=exc)
            error = Unavailable(
                "the database is unavailable; try again shortly",
                retry_after=DATABASE_RETRY_AFTER,
                metadata={"dependency": "database"},
            )
            return to_status(error, domain=self._domain, request_id=request_id)
        log.error("unexpected error", exc_info=exc)
        return internal_status(domain=self._domain, request_id=request_id)

    def _log(
        self,
        method: MethodInfo,
        context: grpc.ServicerContext,
        code: grpc.StatusCode | None,
        started: float,
    ) -> None:
        code = code or grpc.StatusCode.UNKNOWN
        seconds = time.monotonic() - started
        observe_rpc(self._domain.partition(".")[0], method.path, code.name, seconds)
        call = calls.current_call()
        principal = call.principal.user if call and call.principal else None
        level = logging.ERROR if code in _SERVER_FAULTS else logging.INFO
        log.log(
            level,
            "rpc",
            extra={
                "code": code.name,
                "duration_ms": round(seconds * 1000, 3),
                "peer": context.peer(),
                "principal": principal,
            },
        )


class _Outcome:
    """How a call ended: its code, ErrorInfo reason and (unary) response."""

    def __init__(self) -> None:
        self.code: grpc.StatusCode | None = grpc.StatusCode.OK
        self.reason = ""
        self.response: Any = None

    def succeeded(self, context: grpc.ServicerContext, response: Any) -> None:
        # A servicer may have set a code without raising.
        self.code = context.code() or grpc.StatusCode.OK  # type: ignore[attr-defined]
        self.response = response

    def aborted(self, context: grpc.ServicerContext) -> None:
        self.code = context.code()  # type: ignore[attr-defined]

    def failed(self, status: status_pb2.Status) -> None:
        self.code = _code(status.code)
        self.reason = _reason(status)


def _reason(status: status_pb2.Status) -> str:
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return str(info.reason)
    return ""


_SERVER_FAULTS = frozenset(
    {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}
)

_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _code(number: int) -> grpc.StatusCode:
    return _CODES.get(number, grpc.StatusCode.UNKNOWN)
