"""Security headers on every response, as plain ASGI middleware around the edge.

- `Strict-Transport-Security` when the request came over HTTPS (directly, or through a
  trusted terminator that says so);
- `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy:
  no-referrer` and a `Content-Security-Policy` that allows nothing (the edge serves
  JSON, never pages);
- `Cache-Control: no-store` unless a stage chose a policy (the cache stage does, from
  the method's cache policy), and `Vary: Authorization` on answers to credentialed
  requests, so no shared cache ever keeps a caller's data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from edge.security.clientip import TrustedProxies

__all__ = ["SecurityHeaders"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_FIXED = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)


def _varies_on_authorization(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a `Vary` header already names Authorization (the cache stage's do)."""
    return any(
        name.lower() == b"vary"
        and any(part.strip().lower() == b"authorization" for part in value.split(b","))
        for name, value in headers
    )


class SecurityHeaders:
    def __init__(
        self,
        app: App,
        *,
        proxies: TrustedProxies | None = None,
        hsts_max_age: int = 31_536_000,
    ) -> None:
        self.app = app
        self.proxies = proxies or TrustedProxies()
        self.hsts = f"max-age={hsts_max_age}; includeSubDomains".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        scheme = scope.get("scheme", "http")
        if scheme != "https":
            client = scope.get("client")
            proto = dict(headers).get(b"x-forwarded-proto")
            scheme = self.proxies.scheme(client[0] if client else None, scheme, proto)
        credentialed = any(k == b"authorization" for k, _ in headers)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in _FIXED if h[0] not in present)
                if scheme == "https":
                    headers.append((b"strict-transport-security", self.hsts))
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                if credentialed and not _varies_on_authorization(headers):
                    headers.append((b"vary", b"Authorization"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
