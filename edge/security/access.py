"""The `authorize` slot: who may call the method, from its access options.

Public methods pass. Methods the default policy denies are 403 without a call. Every
other method needs a session (401, SESSION_REQUIRED) whose principal holds the
declared permission (403, PERMISSION_DENIED). A session that must change its password
may only change it, read its user and log out (400, PASSWORD_CHANGE_REQUIRED). The
data scope is the owning server's check; the edge only guards the door.
"""

from __future__ import annotations

import grpc

from edge.errors import EdgeError
from edge.pipeline import Exchange, Handler
from edge.security.sessions import CHANGE_PASSWORD, DELETE_SESSION, Session
from palmlib.permissions import has_permission

__all__ = ["AccessStage"]

_C = grpc.StatusCode
_ALLOWED_BEFORE_PASSWORD_CHANGE = frozenset(
    {CHANGE_PASSWORD, DELETE_SESSION, "palmgrid.account.v1.AccountService.GetUser"}
)


class AccessStage:
    async def __call__(self, exchange: Exchange, call_next: Handler) -> None:
        route = exchange.route
        assert route is not None
        access = route.access
        if access.kind == "denied":
            raise EdgeError(
                _C.PERMISSION_DENIED,
                f"{route.method_name} is not open through the edge",
                "PERMISSION_DENIED",
            )
        if access.kind == "permission":
            session: Session | None = exchange.state.get("session")
            if session is None:
                raise EdgeError(
                    _C.UNAUTHENTICATED,
                    "this method needs a session: send Authorization: Bearer <token>",
                    "SESSION_REQUIRED",
                )
            if (
                session.password_change_required
                and route.method_name not in _ALLOWED_BEFORE_PASSWORD_CHANGE
            ):
                raise EdgeError(
                    _C.FAILED_PRECONDITION,
                    "the password must be changed first",
                    "PASSWORD_CHANGE_REQUIRED",
                )
            if not has_permission(session.principal, access.permission):
                raise EdgeError(
                    _C.PERMISSION_DENIED,
                    f"the caller lacks the permission {access.permission}",
                    "PERMISSION_DENIED",
                    metadata={"permission": access.permission},
                )
        await call_next(exchange)
