"""The edge's settings, passed to `Edge(...)` explicitly (never read from globals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["EdgeConfig"]


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    """Behaviour switches and limits; every default is the documented one."""

    # Methods that carry none of `(palmgrid.options.v1.method)`: routed and open to
    # anyone ("public"), or routed and answered 403 without calling upstream ("deny").
    default_policy: Literal["public", "deny"] = "deny"
    # Largest request body accepted, in bytes; more is a 413.
    max_body_bytes: int = 1 << 20
    # Deadline of a unary call when the client sends no Grpc-Timeout, in seconds.
    default_timeout: float = 30.0
    # Cap on a client's Grpc-Timeout for unary calls, in seconds.
    max_timeout: float = 300.0
    # Default and cap for server streams, in seconds.
    stream_timeout: float = 3600.0
    # Seconds between SSE keep-alive comments on a quiet stream; 0 disables them.
    sse_keepalive: float = 15.0
    # Unknown query parameters are a 400 (Envoy's reject_unknown_query_parameters)…
    reject_unknown_query_parameters: bool = True
    # …except these, which are dropped (cache busters and the like).
    ignored_query_parameters: frozenset[str] = frozenset()
    # Header and metadata prefixes only the edge may set; stripped from requests.
    internal_prefixes: tuple[str, ...] = ("palmgrid-", "x-palmgrid-")
    # `ErrorInfo.domain` of errors the edge raises itself.
    error_domain: str = "edge.palmgrid"
    # `WWW-Authenticate` challenge sent with every 401.
    auth_challenge: str = 'Bearer realm="palmgrid"'
    # Per-service timeout of the /healthz checks, in seconds.
    health_timeout: float = 2.0
    # Networks whose direct peers may read GET /metrics (edge.metrics); () turns it off.
    metrics_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    # OpenAPI document title and version.
    api_title: str = "PalmGrid API"
    api_version: str = "v1"
