"""The call being served: request id, method, principal and deadline, for servicers.

The runtime binds a `CallInfo` for the duration of each RPC (a context variable, so it
follows the servicer through helper functions and log records). Servicers read it with
`current_call()` / `current_principal()` and pass the request id and the time left on
to downstream calls with `downstream_call_options()`.
"""

from __future__ import annotations

import contextvars
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from palmgrid.type.v1 import identity_pb2
from servers.runtime.errors import DeadlineExceeded, Unauthenticated

REQUEST_ID_KEY = "x-request-id"
MAX_REQUEST_ID_LENGTH = 128

Metadata = tuple[tuple[str, str | bytes], ...]


@dataclass(frozen=True)
class CallInfo:
    """What the runtime knows about the RPC being served."""

    request_id: str
    # Full method path, "/palmgrid.billing.v1.BillingService/GetBalance".
    method: str
    # The authenticated caller; None for an anonymous call of a public method.
    principal: identity_pb2.Principal | None = None
    # time.monotonic() at which the caller gives up; None when it set no deadline.
    deadline: float | None = None
    # The serialized identity assertion received (for this service only).
    identity: bytes | None = field(default=None, repr=False)

    def time_remaining(self) -> float | None:
        """Seconds left before the caller's deadline (≥ 0), or None without a deadline."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())


_current: contextvars.ContextVar[CallInfo | None] = contextvars.ContextVar(
    "palmgrid_call", default=None
)


def current_call() -> CallInfo | None:
    """The call being served by this thread, or None outside an RPC."""
    return _current.get()


def bind_call(call: CallInfo) -> None:
    """Make `call` the current call (the runtime does this inside a per-call context)."""
    _current.set(call)


def current_principal() -> identity_pb2.Principal | None:
    """The authenticated caller of the current RPC, or None (anonymous or outside an RPC)."""
    call = _current.get()
    return call.principal if call else None


def require_principal() -> identity_pb2.Principal:
    """The authenticated caller; Unauthenticated when the call is anonymous."""
    principal = current_principal()
    if principal is None:
        raise Unauthenticated("this operation needs a signed-in caller")
    return principal


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(metadata: Sequence[tuple[str, str | bytes]] | None) -> str:
    """The caller's x-request-id when it is a sane printable string, else a new one."""
    for key, value in metadata or ():
        if key == REQUEST_ID_KEY and isinstance(value, str):
            value = value.strip()
            if 0 < len(value) <= MAX_REQUEST_ID_LENGTH and value.isprintable():
                return value
    return new_request_id()


@dataclass(frozen=True)
class CallOptions:
    """Timeout and metadata for a downstream call: `stub.Method(req, **opts.kwargs())`."""

    timeout: float | None
    metadata: Metadata

    def kwargs(self) -> dict[str, Any]:
        return {"timeout": self.timeout, "metadata": self.metadata}


def downstream_call_options(
    *,
    default_timeout: float | None = None,
    reserve: float = 0.0,
    metadata: Metadata = (),
) -> CallOptions:
    """Options for a call made while serving the current RPC.

    The timeout is what is left of the caller's deadline minus `reserve` seconds (kept
    for our own work after the downstream answer), capped by `default_timeout`; the
    request id travels along. The caller's identity assertion does not: it is for this
    service alone (its audience), so the downstream call is made as this service's own
    account, with the permissions of its row in `servers.runtime.service_accounts`.
    Outside an RPC: `default_timeout` and a new request id. Raises DeadlineExceeded
    when no time is left.
    """
    call = _current.get()
    timeout = default_timeout
    remaining = call.time_remaining() if call else None
    if remaining is not None:
        left = remaining - reserve
        if left <= 0:
            raise DeadlineExceeded("deadline exceeded before a downstream call")
        timeout = left if timeout is None else min(timeout, left)
    entries: list[tuple[str, str | bytes]] = [
        (REQUEST_ID_KEY, call.request_id if call else new_request_id())
    ]
    entries += metadata
    return CallOptions(timeout=timeout, metadata=tuple(entries))


def detached_call_options(timeout: float) -> CallOptions:
    """Options for a call that must be made whatever is left of the caller's deadline
    (an audit record of work already committed): a fixed `timeout`, the current request
    id, no identity (the call is made as this server's own service account)."""
    call = _current.get()
    return CallOptions(
        timeout=timeout,
        metadata=((REQUEST_ID_KEY, call.request_id if call else new_request_id()),),
    )
