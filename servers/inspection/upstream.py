"""The one answer inspection gives when a service it depends on cannot be asked, and
the one way it calls them: as itself (its mTLS service account), with the caller's
remaining time capped by the configured timeout."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import grpc

from servers.runtime import NotFound, Unavailable, downstream_call_options

RETRY_AFTER = timedelta(seconds=5)
Reply = TypeVar("Reply")


def upstream_unavailable(what: str) -> Unavailable:
    """UNAVAILABLE (UPSTREAM_UNAVAILABLE, retry in 5 s): `what` cannot be reached now."""
    return Unavailable(
        f"{what} cannot be reached right now",
        reason="UPSTREAM_UNAVAILABLE",
        retry_after=RETRY_AFTER,
    )


def call(
    what: str,
    method: Callable[..., Reply],
    request: Any,
    *,
    timeout: float,
    not_found: Callable[[grpc.RpcError], Exception] | None = None,
) -> Reply:
    """`method(request)` downstream; `not_found(error)` is raised for NOT_FOUND (when
    given), Unavailable naming `what` for any other failure."""
    options = downstream_call_options(default_timeout=timeout)
    try:
        return method(request, **options.kwargs())
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            raise (not_found or _not_found)(error) from error
        raise upstream_unavailable(what) from error


def _not_found(error: grpc.RpcError) -> Exception:
    return NotFound(str(error.details()))
