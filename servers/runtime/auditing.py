"""Which calls leave an audit record, and what it says.

The interceptor asks `CallAuditor` to `open` a note for each admitted call and to
`close` it when the servicer has returned (its transaction committed) or failed. A call
is recorded when its method's options say `audited: true`, or, for any method, when the
servicer refused it with PERMISSION_DENIED (a scope check); refusals by the access check
itself are the `DenialAuditor`'s. The record holds:

- actor: the verified principal (or the note's actor, for a login's anonymous caller);
- action: the method path, `/palmgrid.care.v1.CareService/CreateOutlet`;
- resource: the note's, else the request's resource name (`name`, the resource
  message's `name` such as `outlet.name`), else the response's `name` (a created
  resource's server-assigned name), else the method's scope field, `parent` or `user`;
  `users/me` and `sessions/current` become the caller's own names;
- outcome: the gRPC code and the ErrorInfo reason;
- request id, trace id and the client's address.

A servicer adds what only it knows through `audit_note()`:

    note = audit_note()
    note.resource = outlet_name          # when the request does not name it
    note.details = {"reason": request.reason}

Audited calls fail closed: before the servicer runs, `admit` asks the sink whether
the log can take records, and refuses the call (UNAVAILABLE, reason
UPSTREAM_UNAVAILABLE) when it cannot, so nothing changes without its record. The
entries go to the server's `AuditSink` before the response is sent; when the log went
away since (the call has committed), they are kept in the service's own database
(`servers.runtime.audit_outbox`) and forwarded once it is back. No record is dropped
while the service's database takes writes; if even that fails, it is logged at
CRITICAL (`AUDIT RECORD LOST`).
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import Message

from palmgrid.type.v1 import identity_pb2
from servers.runtime import callmeta
from servers.runtime.audit import AuditEntry, AuditSink
from servers.runtime.calls import current_call
from servers.runtime.errors import Unavailable
from servers.runtime.methods import MethodInfo

if TYPE_CHECKING:
    from servers.runtime.audit_outbox import AuditOutbox

log = logging.getLogger("palmgrid.audit")

_NAME = "name"
_FALLBACK_FIELDS = ("parent", "user")


@dataclass
class AuditNote:
    """What the running method tells its audit record about itself."""

    resource: str = ""
    # For calls whose caller is anonymous but turns out to be someone (a login).
    actor: str = ""
    actor_username: str = ""
    details: dict[str, str] = field(default_factory=dict)
    # Further records of the same call, such as sessions displaced by a login.
    events: list[AuditEntry] = field(default_factory=list)


_note: contextvars.ContextVar[AuditNote | None] = contextvars.ContextVar(
    "palmgrid_audit_note", default=None
)


def audit_note() -> AuditNote:
    """The current call's audit note (a throwaway one outside an audited server)."""
    return _note.get() or AuditNote()


# --- the resource a call acted on ----------------------------------------------------


def _string_at(message: Message | None, path: str) -> str:
    value: Any = message
    for part in path.split("."):
        if not isinstance(value, Message) or part not in value.DESCRIPTOR.fields_by_name:
            return ""
        value = getattr(value, part)
    return value if isinstance(value, str) else ""


def _resource_message_name(request: Message) -> str:
    """`outlet.name` of an UpdateOutletRequest: the name inside the message it carries."""
    for descriptor in request.DESCRIPTOR.fields:
        if descriptor.message_type is None or descriptor.is_repeated:
            continue
        name = _string_at(getattr(request, descriptor.name), _NAME)
        if name:
            return name
    return ""


def _own_name(name: str, principal: identity_pb2.Principal | None) -> str:
    if principal is None:
        return name
    if name == "users/me" or name.startswith("users/me/"):
        return principal.user + name.removeprefix("users/me")
    if name == "sessions/current":
        return principal.session
    return name


def resource_of(
    method: MethodInfo,
    request: Message | None,
    response: Message | None,
    principal: identity_pb2.Principal | None,
) -> str:
    """The resource name the call acted on, from its request or response ("" if none).

    The request's `name` first, then the response's (a created resource's server-given
    name), then the name inside the request's resource message (an update's target).
    A create ignores the name a caller put in its resource message: the server assigns
    names, so that one names nothing and must not reach the log."""
    found = _string_at(request, _NAME) if request is not None else ""
    found = found or _string_at(response, _NAME)
    creates = method.path.rpartition("/")[2].startswith("Create")
    if not found and request is not None and not creates:
        found = _resource_message_name(request)
    if not found and request is not None:
        for path in (method.rules.access.scope_field, *_FALLBACK_FIELDS):
            found = _string_at(request, path) if path else ""
            if found:
                break
    return _own_name(found, principal)


# --- one call --------------------------------------------------------------------------


@dataclass
class CallAudit:
    """An admitted call's note and what `close` needs to write its record."""

    method: MethodInfo
    note: AuditNote
    # The first request (a client stream's first message), for the resource.
    request: Message | None = None


class CallAuditor:
    """Writes the audit records of a server's calls through `sink`."""

    def __init__(self, sink: AuditSink, outbox: AuditOutbox | None = None) -> None:
        self._sink = sink
        self._outbox = outbox

    def open(self, method: MethodInfo, request: Any) -> CallAudit:
        """Give the call a fresh note (the servicer's `audit_note()`)."""
        note = AuditNote()
        first = request if isinstance(request, Message) else None
        _note.set(note)  # the interceptor runs each call in a context of its own
        return CallAudit(method, note, first)

    def admit(self, audit: CallAudit) -> None:
        """Refuse an audited call before its servicer runs when the log cannot take
        its record (UNAVAILABLE, reason UPSTREAM_UNAVAILABLE): fail closed."""
        if not audit.method.rules.audited:
            return
        try:
            self._sink.check()
        except Exception as exc:
            log.warning("audit log unreachable; refusing", extra={"action": audit.method.path})
            raise Unavailable(
                "the audit log cannot be reached; nothing was changed",
                reason="UPSTREAM_UNAVAILABLE",
                retry_after=timedelta(seconds=5),
            ) from exc

    def close(
        self,
        audit: CallAudit,
        context: grpc.ServicerContext,
        *,
        code: grpc.StatusCode,
        reason: str = "",
        response: Any = None,
    ) -> None:
        """Record the call's outcome when it is to be recorded; never raises."""
        _note.set(None)
        if not (audit.method.rules.audited or code == grpc.StatusCode.PERMISSION_DENIED):
            return
        try:
            entries = self._entries(audit, context, code, reason, response)
        except Exception:  # a record we cannot even build must not fail the call either
            log.exception("audit record not built", extra={"action": audit.method.path})
            return
        self._write(entries)

    def _entries(
        self,
        audit: CallAudit,
        context: grpc.ServicerContext,
        code: grpc.StatusCode,
        reason: str,
        response: Any,
    ) -> list[AuditEntry]:
        call = current_call()
        principal = call.principal if call else None
        note = audit.note
        request_id = call.request_id[:64] if call else ""
        trace_id = callmeta.trace_id(context)
        client_ip = callmeta.client_ip(context)
        response = response if isinstance(response, Message) else None
        entry = AuditEntry(
            action=audit.method.path,
            actor=note.actor or (principal.user if principal else ""),
            actor_username=note.actor_username or (principal.username if principal else ""),
            resource=note.resource or resource_of(audit.method, audit.request, response, principal),
            code=code.value[0],  # type: ignore[index]
            error_reason=reason,
            details=note.details,
            request_id=request_id,
            trace_id=trace_id,
            client_ip=client_ip,
        )
        for event in note.events:
            event.request_id = event.request_id or request_id
            event.trace_id = event.trace_id or trace_id
            event.client_ip = event.client_ip or client_ip
        return [entry, *note.events]

    def _write(self, entries: list[AuditEntry]) -> None:
        # The call has ended (committed, if it changed anything): its record goes to the
        # log, else to the outbox that forwards it once the log is back.
        where = {"action": entries[0].action, "resource": entries[0].resource}
        try:
            self._sink.write(entries)
            return
        except Exception:
            log.warning("audit log did not take the record", exc_info=True, extra=where)
        if self._outbox is None:
            log.critical("AUDIT RECORD NOT WRITTEN (no outbox)", extra=where)
            return
        try:
            self._outbox.keep(entries)
        except Exception:
            log.critical("AUDIT RECORD LOST", exc_info=True, extra=where)
