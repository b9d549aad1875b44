"""Around every account method: the caller's session must still be alive.

An assertion lives for up to a minute; a session ended (logout, revocation, idle time)
within that minute must not keep working. `guard(servicer, service, core)` returns the
object to register in place of the servicer, with every unary method checking first.
(Auditing is the runtime's: see `servers.runtime.auditing`.)
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import grpc
from google.protobuf.message import Message

from palmgrid.type.v1 import identity_pb2
from servers.account import models, sessions
from servers.account.core import AccountCore
from servers.runtime import Unauthenticated, current_principal
from servers.runtime.methods import find_service
from servers.runtime.unbuilt import unbuilt_methods


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


def _wrap(core: AccountCore, method: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(request: Message, context: grpc.ServicerContext) -> Any:
        require_live_session(core, current_principal())
        return method(request, context)

    return guarded


def guard(servicer: object, service: str, core: AccountCore) -> object:
    """The servicer with every built unary method guarded (streams are passed through,
    and so are RPCs left to grpc's base class, so that start-up still refuses them)."""
    found = find_service(service)
    unbuilt = set(unbuilt_methods(servicer, found))
    methods: dict[str, Callable[..., Any]] = {}
    for descriptor in found.methods:
        implementation = getattr(servicer, descriptor.name)
        streaming = descriptor.server_streaming or descriptor.client_streaming
        if not streaming and descriptor.name not in unbuilt:
            implementation = _wrap(core, implementation)
        methods[descriptor.name] = implementation
    return SimpleNamespace(**methods)
