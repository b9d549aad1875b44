"""Around every account method: the caller's session must still be alive, and calls of
methods marked `audited` (and every refusal for lack of permission or scope) leave an
audit record.

`guard(servicer, service, core)` returns the object to register in place of the
servicer. Methods describe what they did through `note()`: the resource acted on, the
actor when the caller was anonymous (a login), details worth keeping and extra events
(a displacement, a lockout). Without a note the resource is the request's scoped field
(`name`, `parent`, ...), with `users/me` and `sessions/current` resolved.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import grpc
from google.protobuf.message import Message

from palmgrid.type.v1 import identity_pb2
from servers.account import callmeta, models, sessions
from servers.account.audit import AuditEntry
from servers.account.core import AccountCore
from servers.runtime import DomainError, Unauthenticated, current_call, current_principal
from servers.runtime.methods import find_service, method_rules

_RESOURCE_FIELDS = ("name", "parent", "user")


@dataclass
class AuditNote:
    """What the running method tells the audit record about itself."""

    resource: str = ""
    actor: str = ""
    actor_username: str = ""
    details: dict[str, str] = field(default_factory=dict)
    # Further events of the same call, such as sessions displaced by a login.
    events: list[AuditEntry] = field(default_factory=list)


_note: contextvars.ContextVar[AuditNote | None] = contextvars.ContextVar(
    "palmgrid_account_audit_note", default=None
)


def note() -> AuditNote:
    """The current call's audit note (a throwaway one outside a guarded call)."""
    return _note.get() or AuditNote()


def _field(request: Message, path: str) -> str:
    value: Any = request
    for part in path.split("."):
        if not isinstance(value, Message) or part not in value.DESCRIPTOR.fields_by_name:
            return ""
        value = getattr(value, part)
    return value if isinstance(value, str) else ""


def _resolve(name: str, principal: identity_pb2.Principal | None) -> str:
    if principal is None:
        return name
    if name == "users/me" or name.startswith("users/me/"):
        return principal.user + name.removeprefix("users/me")
    if name == "sessions/current":
        return principal.session
    return name


def default_resource(
    request: Message, scope_field: str, principal: identity_pb2.Principal | None
) -> str:
    for path in (scope_field, *_RESOURCE_FIELDS):
        if path:
            value = _field(request, path)
            if value:
                return _resolve(value, principal)
    return ""


def require_live_session(core: AccountCore, principal: identity_pb2.Principal | None) -> None:
    """A principal asserted for a session is refused once that session has ended, even
    while its assertion has seconds left."""
    if principal is None or not principal.session:
        return
    with core.runtime.session() as session:
        row = session.get(models.Session, principal.session.removeprefix("sessions/"))
        reason = sessions.refusal(row, core.now())
    if reason is not None:
        raise Unauthenticated("the session has ended", reason=reason)


def _wrap(
    core: AccountCore, path: str, audited: bool, scope_field: str, method: Callable[..., Any]
) -> Callable[..., Any]:
    def guarded(request: Message, context: grpc.ServicerContext) -> Any:
        token = _note.set(AuditNote())
        code, reason = grpc.StatusCode.OK, ""
        try:
            require_live_session(core, current_principal())
            return method(request, context)
        except DomainError as exc:
            code, reason = exc.code, exc.reason
            raise
        except Exception:
            code, reason = grpc.StatusCode.INTERNAL, "INTERNAL"
            raise
        finally:
            written = _note.get() or AuditNote()
            _note.reset(token)
            if audited or code == grpc.StatusCode.PERMISSION_DENIED:
                _record(core, path, request, context, scope_field, code, reason, written)

    return guarded


def _record(
    core: AccountCore,
    path: str,
    request: Message,
    context: grpc.ServicerContext,
    scope_field: str,
    code: grpc.StatusCode,
    reason: str,
    written: AuditNote,
) -> None:
    principal = current_principal()
    call = current_call()
    common = {
        "request_id": call.request_id[:64] if call else "",
        "trace_id": callmeta.trace_id(context),
        "client_ip": callmeta.client_ip(context),
    }
    entry = AuditEntry(
        action=path,
        event_time=core.now(),
        actor=written.actor or (principal.user if principal else ""),
        actor_username=written.actor_username or (principal.username if principal else ""),
        resource=written.resource or default_resource(request, scope_field, principal),
        code=code.value[0],  # type: ignore[index]
        error_reason=reason,
        details=written.details,
        **common,
    )
    for event in written.events:
        event.request_id = event.request_id or common["request_id"]
        event.trace_id = event.trace_id or common["trace_id"]
        event.client_ip = event.client_ip or common["client_ip"]
    core.write_audit([entry, *written.events])


def guard(servicer: object, service: str, core: AccountCore) -> object:
    """The servicer with every unary method guarded (streams are passed through)."""
    methods: dict[str, Callable[..., Any]] = {}
    for descriptor in find_service(service).methods:
        implementation = getattr(servicer, descriptor.name)
        if descriptor.server_streaming or descriptor.client_streaming:
            methods[descriptor.name] = implementation
            continue
        rules = method_rules(descriptor)
        path = f"/{service}/{descriptor.name}"
        methods[descriptor.name] = _wrap(
            core, path, rules.audited, rules.access.scope_field, implementation
        )
    return SimpleNamespace(**methods)
