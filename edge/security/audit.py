"""Audit records of what the edge refuses on its own (envelopes, for now).

Refusals are written to the account service's audit log with
`AccountInternalService.CreateAuditRecord` — in the background, so an audit log that is
slow or down never delays or fails the answer — and always to the edge's own log.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc

from palmgrid.account.v1 import (
    account_internal_service_pb2,
    account_internal_service_pb2_grpc,
    admin_resources_pb2,
)

__all__ = ["AccountAuditor", "AuditEvent", "Auditor", "LogAuditor"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    action: str  # the gRPC path, "/palmgrid.account.v1.AccountService/CreateUser"
    code: int  # google.rpc.Code
    reason: str  # ErrorInfo reason, "ENVELOPE_INVALID"
    request_id: str
    client_ip: str = ""
    actor: str = ""
    actor_username: str = ""
    details: Mapping[str, str] = field(default_factory=dict)


class Auditor(Protocol):
    def record(self, event: AuditEvent) -> None: ...


class LogAuditor:
    """Writes audit events to the log only; keeps the last ones for inspection."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> None:
        self.events = [*self.events[-99:], event]
        log.warning(
            "audit: %s refused (%s)",
            event.action,
            event.reason,
            extra={"request_id": event.request_id, "details": dict(event.details)},
        )


class AccountAuditor(LogAuditor):
    """Also sends each event to the account service's audit log."""

    def __init__(self, channel: Callable[[], grpc.aio.Channel], *, timeout: float = 5.0) -> None:
        super().__init__()
        self._channel = channel
        self._stub: Any = None
        self._timeout = timeout
        self._pending: set[asyncio.Task[None]] = set()

    def record(self, event: AuditEvent) -> None:
        super().record(event)
        task = asyncio.get_running_loop().create_task(self._send(event))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Wait for the records in flight (shutdown, tests)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _send(self, event: AuditEvent) -> None:
        if self._stub is None:
            self._stub = account_internal_service_pb2_grpc.AccountInternalServiceStub(
                self._channel()
            )
        record = admin_resources_pb2.AuditRecord(
            action=event.action,
            code=event.code,  # type: ignore[arg-type]
            error_reason=event.reason,
            request_id=event.request_id[:64],
            client_ip=event.client_ip,
            actor=event.actor,
            actor_username=event.actor_username,
            details=dict(event.details),
        )
        record.event_time.FromNanoseconds(time.time_ns())
        request = account_internal_service_pb2.CreateAuditRecordRequest(
            audit_record=record, request_id=str(uuid.uuid4())
        )
        try:
            await self._stub.CreateAuditRecord(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            log.warning("audit record not written: %s", exc.code().name)
