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
UPSTREAM_UNAVAILABLE) when it cannot, so nothing changes without its record.

A record commits with the change it records: the first transaction of an audited call
that changes anything, through `Runtime.session`, also writes the call's record as
*pending* in the service's audit outbox (`enlist`, called by the runtime, never by a
servicer). When the call ends its entries go to the server's `AuditSink` before the
response is sent and the pending row is settled: deleted, or replaced by the entries
when the log went away since. A process that dies between its commit and the log write
leaves the pending row, which the outbox forwards (outcome unknown) once its grace is
over (`servers.runtime.audit_outbox`). No record is dropped while the service's
database takes writes; if even that fails, it is logged at CRITICAL (`AUDIT RECORD
LOST`).
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import Message

from palmgrid.type.v1 import identity_pb2
from servers.runtime import callmeta
from servers.runtime.audit import AuditEntry, AuditSink
from servers.runtime.calls import current_call
from servers.runtime.db import wrote
from servers.runtime.errors import Unavailable
from servers.runtime.methods import MethodInfo

if TYPE_CHECKING:
    from sqlmodel import Session

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
    # The call's context (aio: a snapshot), for the record held while the call runs.
    context: Any = None
    # The CreateAuditRecord id of the call's record, pending or final alike.
    write_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # The outbox row holding the call's record while it runs (see `enlist`).
    pending_id: int | None = None


# The audited call whose record a transaction of the runtime's must commit with.
_enlisting: contextvars.ContextVar[tuple[CallAuditor, CallAudit] | None] = contextvars.ContextVar(
    "palmgrid_audit_enlisting", default=None
)

# A record held while its call runs says this until the call settles it.
INTERRUPTED = {"outcome": "unknown: the call committed its changes and ended before its record"}


def enlist(session: Session) -> Callable[[], None] | None:
    """Called by `Runtime.session` just before it commits: in the current audited
    call's first transaction that changed anything, write the call's record as pending
    in the same transaction. Returns what to run once the commit succeeded (None when
    nothing was written)."""
    current = _enlisting.get()
    if current is None:
        return None
    auditor, audit = current
    return auditor.hold(session, audit)


class CallAuditor:
    """Writes the audit records of a server's calls through `sink`."""

    def __init__(self, sink: AuditSink, outbox: AuditOutbox | None = None) -> None:
        self._sink = sink
        self._outbox = outbox

    def open(self, method: MethodInfo, request: Any, context: Any = None) -> CallAudit:
        """Give the call a fresh note (the servicer's `audit_note()`); an audited call's
        transactions hold its record as they commit (`enlist`)."""
        note = AuditNote()
        first = request if isinstance(request, Message) else None
        audit = CallAudit(method, note, first, context)
        # The interceptor runs each call in a context of its own.
        _note.set(note)
        _enlisting.set((self, audit) if method.rules.audited else None)
        return audit

    def hold(self, session: Session, audit: CallAudit) -> Callable[[], None] | None:
        """`enlist` for this server's call `audit`: its record, as pending, in
        `session`'s transaction when that is the call's first to change anything."""
        if audit.pending_id is not None or self._outbox is None or not wrote(session):
            return None
        pending_id = self._outbox.hold(session, self._interrupted(audit))

        def committed() -> None:
            audit.pending_id = pending_id

        return committed

    def _interrupted(self, audit: CallAudit) -> AuditEntry:
        """The record held while the call runs: what is known so far, outcome unknown."""
        entry = self._entries(audit, audit.context, grpc.StatusCode.UNKNOWN, "", None)[0]
        entry.error_reason = "OUTCOME_UNKNOWN"
        entry.details = {**entry.details, **INTERRUPTED}
        return entry

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
        _enlisting.set(None)
        if not (audit.method.rules.audited or code == grpc.StatusCode.PERMISSION_DENIED):
            return
        try:
            entries = self._entries(audit, context, code, reason, response)
        except Exception:  # a record we cannot even build must not fail the call either
            log.exception("audit record not built", extra={"action": audit.method.path})
            return  # a held record stays, to be forwarded as it stands
        self._write(audit, entries)

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
            write_id=audit.write_id,
        )
        for event in note.events:
            event.request_id = event.request_id or request_id
            event.trace_id = event.trace_id or trace_id
            event.client_ip = event.client_ip or client_ip
        return [entry, *note.events]

    def _write(self, audit: CallAudit, entries: list[AuditEntry]) -> None:
        # The call has ended (committed, if it changed anything): its record goes to the
        # log, else to the outbox that forwards it once the log is back; the record
        # held while it ran is settled either way.
        where = {"action": entries[0].action, "resource": entries[0].resource}
        waiting: list[AuditEntry] = []
        try:
            self._sink.write(entries)
        except Exception:
            log.warning("audit log did not take the record", exc_info=True, extra=where)
            waiting = entries
        if self._outbox is None:
            if waiting:
                log.critical("AUDIT RECORD NOT WRITTEN (no outbox)", extra=where)
            return
        try:
            if audit.pending_id is not None:
                self._outbox.settle(audit.pending_id, waiting)
            elif waiting:
                self._outbox.keep(waiting)
        except Exception:
            # A held record still stands for the call (forwarded once its grace is over).
            log.critical("AUDIT RECORD LOST", exc_info=True, extra=where)
