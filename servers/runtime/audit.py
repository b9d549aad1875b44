"""Audit records and where they go: `AuditEntry` (one record before the log places it),
`AuditSink` (what writes entries), `AccountAuditSink` and `AuditClient` (through the
account service), and `DenialAuditor` for the access checks the runtime refuses before
a servicer runs. Which calls leave a record is decided in `servers.runtime.auditing`.

Money movement, authorization denials and other audited actions that happen outside
the account service reach the audit log through AccountInternalService.CreateAuditRecord.
The client fills in what the runtime knows about the current call (actor from the
verified principal, request id) and calls as the server's own service account (the
caller's assertion is not forwarded: only services may write audit records). Every
write carries a fresh request id and is retried once on UNAVAILABLE, so a retried write
is recorded once.

    from servers.runtime.audit import AuditClient

    audit = AuditClient(runtime.channel("account"))
    audit.record(action=current_call().method, resource=name, details={"amountFen": "500"})

Details must not carry secrets: `sanitize_details` drops password-, token- and
captcha-like keys and masks phone and ID numbers; the account service applies it again
when it writes.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from palmgrid.account.v1 import (
    account_internal_service_pb2,
    account_internal_service_pb2_grpc,
)
from palmgrid.account.v1 import admin_resources_pb2 as admin_pb
from palmgrid.type.v1 import identity_pb2
from palmlib.masking import scrub_text
from servers.runtime.calls import current_call, detached_call_options
from servers.runtime.errors import DomainError

log = logging.getLogger("palmgrid.audit")
# The gRPC service whose health says whether the log takes records.
_LOG_SERVICE = "palmgrid.account.v1.AccountInternalService"

# Keys whose values are secret or prove identity: never written.
_SECRET_KEY_WORDS = ("password", "token", "secret", "captcha", "verification", "private", "pepper")
MAX_VALUE = 1024
MAX_PAIRS = 64


def _secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_KEY_WORDS)


# The log's rule for a resource name (AuditRecord.resource in the protos).
_RESOURCE = re.compile(r"[A-Za-z0-9._~/-]{1,512}")
_RESOURCE_UNSAFE = re.compile(r"[^A-Za-z0-9._/-]")
MAX_RESOURCE = 512


def loggable_resource(name: str) -> str:
    """`name` as the log takes it. A caller chooses the names in its request, and a name
    the log refuses (`customers/ä`, a space, 600 characters) must not keep the call out
    of the log: each byte outside the allowed set becomes `~XX` (its UTF-8 in hex, `~`
    itself included), cut to the log's 512 characters."""
    if not name or _RESOURCE.fullmatch(name):
        return name
    escaped = _RESOURCE_UNSAFE.sub(
        lambda m: "".join(f"~{b:02x}" for b in m.group().encode("utf-8", "surrogatepass")), name
    )
    return escaped[:MAX_RESOURCE]


_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_REQUEST_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def loggable_request_id(request_id: str) -> str:
    """The call's request id as the log takes it: a gRPC caller may send any printable
    `x-request-id`, and one the log refused would keep the record out of the log (and
    hold up the service's audit outbox behind it). Other characters become `_`."""
    if not request_id or _REQUEST_ID.fullmatch(request_id):
        return request_id
    return _REQUEST_ID_UNSAFE.sub("_", request_id)[:64]


def sanitize_details(details: Mapping[str, str] | None) -> dict[str, str]:
    """Details safe to keep: no secret keys, phone and ID numbers masked, bounded sizes."""
    safe: dict[str, str] = {}
    for key, value in sorted((details or {}).items()):
        if _secret_key(key) or len(safe) >= MAX_PAIRS:
            continue
        safe[key[:128]] = scrub_text(str(value))[:MAX_VALUE]
    return safe


@dataclass
class AuditEntry:
    """What happened, before the log gives it a place in the chain."""

    action: str
    # None: the time the sink writes it (by the writer's clock).
    event_time: datetime | None = None
    actor: str = ""
    actor_username: str = ""
    resource: str = ""
    code: int = 0
    error_reason: str = ""
    request_id: str = ""
    trace_id: str = ""
    client_ip: str = ""
    details: Mapping[str, str] = field(default_factory=dict)
    # Who wrote it; empty: the writer fills in itself.
    recorder: str = ""
    # The CreateAuditRecord request id: the same for every attempt at writing this
    # entry, so a write retried after an unclear failure is recorded once.
    write_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def to_json(self) -> str:
        """The entry as JSON (for the audit outbox)."""
        values = asdict(self)
        values["event_time"] = self.event_time.isoformat() if self.event_time else None
        values["details"] = dict(self.details)
        return json.dumps(values, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AuditEntry:
        values = json.loads(text)
        when = values.pop("event_time")
        return cls(**values, event_time=datetime.fromisoformat(when) if when else None)


class AuditSink(Protocol):
    """Where a server's audit entries go: the account service's log."""

    def check(self) -> None:
        """Raise when the log cannot take records now (an audited call is then refused
        before it changes anything)."""

    def write(self, entries: Sequence[AuditEntry]) -> None:
        """Append `entries` (one call's records, in order); raise when they are not
        written."""


class AuditClient:
    """Appends audit records through the account service."""

    def __init__(self, channel: grpc.Channel, *, timeout: float = 2.0) -> None:
        self._stub = account_internal_service_pb2_grpc.AccountInternalServiceStub(channel)
        self._timeout = timeout

    def record(
        self,
        *,
        action: str | None = None,
        resource: str = "",
        code: grpc.StatusCode = grpc.StatusCode.OK,
        error_reason: str = "",
        details: Mapping[str, str] | None = None,
        principal: identity_pb2.Principal | None = None,
        client_ip: str = "",
        trace_id: str = "",
        event_time: datetime | None = None,
        call_request_id: str | None = None,
    ) -> admin_pb.AuditRecord:
        """Append one record and return it as written. `action` defaults to the current
        RPC's method, `principal` to its caller, `event_time` to now (UTC), the request
        id to the current call's. Raises grpc.RpcError when the account service cannot
        take it."""
        call = current_call()
        request_id = call_request_id if call_request_id is not None else ""
        if call_request_id is None and call:
            request_id = call.request_id
        principal = principal or (call.principal if call else None)
        return self.write(
            AuditEntry(
                action=action or (call.method if call else ""),
                event_time=event_time,
                actor=principal.user if principal else "",
                actor_username=principal.username if principal else "",
                resource=resource,
                code=code.value[0],  # type: ignore[arg-type]
                error_reason=error_reason,
                request_id=request_id,
                trace_id=trace_id,
                client_ip=client_ip,
                details=details or {},
            )
        )

    def write(self, entry: AuditEntry) -> admin_pb.AuditRecord:
        """Append `entry` as it stands and return the record written; raises
        grpc.RpcError when the account service cannot take it."""
        record = admin_pb.AuditRecord(
            actor=entry.actor,
            actor_username=entry.actor_username,
            action=entry.action,
            resource=loggable_resource(entry.resource),
            code=entry.code,  # type: ignore[arg-type]
            error_reason=entry.error_reason,
            request_id=loggable_request_id(entry.request_id[:64]),
            trace_id=entry.trace_id,
            client_ip=entry.client_ip,
            details=sanitize_details(entry.details),
        )
        record.event_time.FromDatetime(entry.event_time or datetime.now(UTC))
        request = account_internal_service_pb2.CreateAuditRecordRequest(
            audit_record=record, request_id=entry.write_id
        )
        # Not capped by the caller's deadline: the audited work has happened, and a caller
        # with a tight deadline must not be able to keep it out of the log.
        options = detached_call_options(self._timeout)
        try:
            written: admin_pb.AuditRecord = self._stub.CreateAuditRecord(
                request, **options.kwargs()
            )
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE:  # type: ignore[attr-defined]
                raise
            written = self._stub.CreateAuditRecord(request, **options.kwargs())
        return written


class AccountAuditSink:
    """The default sink: the account service over `channel_factory()` (called on the
    first write, so a server starts without the account service up)."""

    def __init__(self, channel_factory: Callable[[], grpc.Channel], *, timeout: float = 2.0):
        self._channel_factory = channel_factory
        self._timeout = timeout
        self._client: AuditClient | None = None
        self._channel: grpc.Channel | None = None
        self._lock = threading.Lock()

    def _opened(self) -> tuple[grpc.Channel, AuditClient]:
        with self._lock:
            if self._channel is None or self._client is None:
                self._channel = self._channel_factory()
                self._client = AuditClient(self._channel, timeout=self._timeout)
            return self._channel, self._client

    def check(self) -> None:
        """Ask the account service's health service whether the log is being served."""
        channel, _ = self._opened()
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=_LOG_SERVICE), timeout=self._timeout
        )
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            raise ConnectionError("the audit log is not being served")

    def write(self, entries: Sequence[AuditEntry]) -> None:
        _, client = self._opened()
        for entry in entries:
            client.write(entry)


class DenialAuditor:
    """Records every authentication or authorization refusal of the interceptor.

    Refusals happen on the request path, so they are queued (bounded) and written by one
    background thread: a slow or absent account service never slows a refusal down, and
    under a flood the oldest news is kept and the rest is counted and logged. A record
    the log does not take goes to `fallback` (the audit outbox, in `build_server`).
    """

    def __init__(
        self,
        sink: AuditSink,
        *,
        capacity: int = 1000,
        fallback: Callable[[Sequence[AuditEntry]], None] | None = None,
    ):
        self._sink = sink
        # Where a record the log would not take goes (the audit outbox).
        self._fallback = fallback
        self._queue: queue.Queue[AuditEntry] = queue.Queue(maxsize=capacity)
        self._dropped = 0
        self._thread = threading.Thread(target=self._drain, name="denial-audit", daemon=True)
        self._thread.start()

    def __call__(self, principal: identity_pb2.Principal | None, error: DomainError) -> None:
        """Queue a record of the current call's refusal (called by the interceptor)."""
        call = current_call()
        entry = AuditEntry(
            action=call.method if call else "",
            event_time=datetime.now(UTC),
            actor=principal.user if principal else "",
            actor_username=principal.username if principal else "",
            code=error.code.value[0],  # type: ignore[index]
            error_reason=error.reason,
            request_id=call.request_id if call else "",
            details={"refusal": error.message},
        )
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self._dropped += 1
            log.error("denial audit queue full", extra={"dropped": self._dropped})

    def _drain(self) -> None:
        while True:
            entry = self._queue.get()
            try:
                self._write(entry)
            finally:
                self._queue.task_done()

    def _write(self, entry: AuditEntry) -> None:
        try:
            self._sink.write([entry])
            return
        except Exception:  # the auditor must outlive any one bad write
            log.warning("denial audit record not written", extra={"action": entry.action})
        try:
            if self._fallback is None:
                raise RuntimeError("no audit outbox")
            self._fallback([entry])
        except Exception:
            log.critical("AUDIT RECORD LOST", exc_info=True, extra={"action": entry.action})

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued refusal was handed over (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True
