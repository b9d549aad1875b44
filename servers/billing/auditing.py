"""Audit records for the billing methods the contract marks `audited` (admin actions,
money movement, recomputation): each call, successful or refused by the servicer,
leaves one record in the account service's audit log.

`audited(servicer, service, runtime)` returns the object to register: the servicer
with its audited unary methods wrapped (the others untouched). The record names the
request's resource field (`name`, `parent`) and the outcome; the audited action never
fails because the log is unreachable (the failure is logged instead). Refusals before
the servicer runs are audited by the runtime itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import grpc
from google.protobuf.message import Message

from servers.runtime import DomainError, Runtime
from servers.runtime.audit import AuditClient
from servers.runtime.methods import find_service, method_rules

_RESOURCE_FIELDS = ("name", "parent")


class _LazyAudit:
    """The audit client, created on first use (the account channel opens lazily)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._client: AuditClient | None = None
        self._lock = threading.Lock()

    def record(self, resource: str, code: grpc.StatusCode, reason: str) -> None:
        with self._lock:
            if self._client is None:
                self._client = AuditClient(self._runtime.channel("account"))
            client = self._client
        client.record_quietly(resource=resource, code=code, error_reason=reason)


def _resource_of(request: Message) -> str:
    for field in _RESOURCE_FIELDS:
        if field in request.DESCRIPTOR.fields_by_name:
            return str(getattr(request, field))
    return ""


def _wrap(log: _LazyAudit, implementation: Callable[..., Any]) -> Callable[..., Any]:
    def audited_call(request: Message, context: grpc.ServicerContext) -> Any:
        try:
            response = implementation(request, context)
        except DomainError as error:
            log.record(_resource_of(request), error.code, error.reason)
            raise
        log.record(_resource_of(request), grpc.StatusCode.OK, "")
        return response

    return audited_call


def audited(servicer: object, service: str, runtime: Runtime) -> object:
    """`servicer` with its `audited` methods leaving audit records."""
    log = _LazyAudit(runtime)
    methods: dict[str, Callable[..., Any]] = {}
    for descriptor in find_service(service).methods:
        implementation = getattr(servicer, descriptor.name)
        streaming = descriptor.server_streaming or descriptor.client_streaming
        if method_rules(descriptor).audited and not streaming:
            implementation = _wrap(log, implementation)
        methods[descriptor.name] = implementation
    return SimpleNamespace(**methods)
