"""CORS for the web console, as ASGI middleware: only configured origins get access.

Bearer tokens travel in a header, never in cookies, so credentials mode stays off and
no origin can make a browser send a session it did not set itself. A preflight from an
allowed origin is answered here (204); from any other origin it gets 403 and no CORS
headers, and the browser refuses the call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from edge.security.headers import App, Receive, Scope, Send

__all__ = ["Cors", "CorsPolicy"]


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    allowed_origins: frozenset[str] = frozenset()
    allowed_methods: tuple[str, ...] = ("GET", "POST", "PATCH", "DELETE")
    allowed_headers: tuple[str, ...] = (
        "authorization",
        "content-type",
        "idempotency-key",
        "if-none-match",
        "x-request-id",
        "grpc-timeout",
    )
    exposed_headers: tuple[str, ...] = (
        "etag",
        "retry-after",
        "www-authenticate",
        "x-request-id",
    )
    max_age: int = 600

    @classmethod
    def from_origins(cls, origins: Iterable[str]) -> CorsPolicy:
        return cls(frozenset(o.strip().rstrip("/") for o in origins if o.strip()))


class Cors:
    def __init__(self, app: App, policy: CorsPolicy) -> None:
        self.app = app
        self.policy = policy
        self._allow_methods = ", ".join(policy.allowed_methods).encode()
        self._allow_headers = ", ".join(policy.allowed_headers).encode()
        self._expose = ", ".join(policy.exposed_headers).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = origin.decode("latin-1") in self.policy.allowed_origins
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            await self._preflight(origin, allowed, send)
            return
        if not allowed:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"access-control-allow-origin", origin),
                    (b"access-control-expose-headers", self._expose),
                    (b"vary", b"Origin"),
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, origin: bytes, allowed: bool, send: Send) -> None:
        if allowed:
            status = 204
            headers = [
                (b"access-control-allow-origin", origin),
                (b"access-control-allow-methods", self._allow_methods),
                (b"access-control-allow-headers", self._allow_headers),
                (b"access-control-max-age", str(self.policy.max_age).encode()),
                (b"vary", b"Origin"),
            ]
        else:
            status, headers = 403, []
        headers.append((b"content-length", b"0"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
