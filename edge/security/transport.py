"""HTTPS only: TLS 1.2 or later, and plain HTTP only from a trusted terminator.

In the production profile the edge serves HTTPS itself, or plain HTTP that only an
explicitly configured TLS terminator (a load balancer in `trusted_proxies`) may use,
and only for requests it received over HTTPS (`X-Forwarded-Proto: https`). `HttpsOnly`
refuses everything else with 403 before the edge sees it; `check_transport` refuses to
start a production edge configured otherwise.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

from edge.security.clientip import TrustedProxies
from edge.security.headers import App, Receive, Scope, Send

__all__ = ["HttpsOnly", "TransportPolicy", "check_transport", "harden"]


@dataclass(frozen=True, slots=True)
class TransportPolicy:
    profile: str  # "dev" or "production"
    plaintext: bool  # the edge itself listens without TLS
    tls_files: tuple[Path, Path] | None
    proxies: TrustedProxies


def check_transport(policy: TransportPolicy) -> list[str]:
    """What keeps this configuration from running in its profile (empty when fine)."""
    problems: list[str] = []
    if policy.profile != "production":
        return problems
    if policy.plaintext and not policy.proxies.networks:
        problems.append(
            "plain HTTP in production needs PALMGRID_EDGE_TRUSTED_PROXIES (the TLS terminator)"
        )
    if not policy.plaintext:
        if policy.tls_files is None:
            problems.append("HTTPS needs a certificate and key")
        else:
            problems.extend(f"TLS file not found: {p}" for p in policy.tls_files if not p.is_file())
    return problems


def harden(context: ssl.SSLContext) -> ssl.SSLContext:
    """TLS 1.2 at least, no compression, the server's cipher order."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    return context


class HttpsOnly:
    """Refuses requests that did not arrive over HTTPS (403, reason HTTPS_REQUIRED)."""

    def __init__(self, app: App, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._secure(scope):
            await self.app(scope, receive, send)
            return
        body = orjson.dumps(
            {
                "code": 7,
                "message": "HTTPS is required",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "HTTPS_REQUIRED",
                        "domain": "edge.palmgrid",
                        "metadata": {},
                    }
                ],
            }
        )
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _secure(self, scope: Scope) -> bool:
        scheme = scope.get("scheme", "http")
        if scheme == "https":
            return True
        client = scope.get("client")
        peer = client[0] if client else None
        forwarded: Iterable[tuple[bytes, bytes]] = scope["headers"]
        proto = dict(forwarded).get(b"x-forwarded-proto")
        return self.proxies.scheme(peer, scheme, proto) == "https"
