"""The `decrypt` and `encrypt` slots, and `GET /v1/keys`.

`DecryptStage` opens the sealed fields of the built request (400 ENVELOPE_INVALID,
audited, for anything but a good envelope). `EncryptStage` seals the sensitive fields
of the reply to the session's client key, or masks them, on the way out — after the
cache stage has stored the plaintext answer, so one cached entry serves every session.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

import grpc
import orjson
from google.rpc import code_pb2

from edge.errors import EdgeError
from edge.fieldcrypt.envelope import session_binding
from edge.fieldcrypt.fields import has_sensitive
from edge.fieldcrypt.keys import KeyRing
from edge.fieldcrypt.replay import ReplayCheckUnavailable
from edge.fieldcrypt.requests import EnvelopeRejected, RequestOpener
from edge.fieldcrypt.responses import ClientKey, InvalidClientKey, ResponseSealer
from edge.pipeline import Exchange, Handler, Reply, StreamReply
from edge.router import allow_header
from edge.security.audit import AuditEvent, Auditor
from edge.security.clientip import TrustedProxies
from edge.security.headers import App, Receive, Scope, Send
from edge.security.sessions import presented_token

__all__ = ["DecryptStage", "EncryptStage", "KeysEndpoint"]

log = logging.getLogger(__name__)

_C = grpc.StatusCode


class DecryptStage:
    def __init__(self, opener: RequestOpener, auditor: Auditor, proxies: TrustedProxies) -> None:
        self.opener = opener
        self.auditor = auditor
        self.proxies = proxies

    async def __call__(self, exchange: Exchange, call_next: Handler) -> None:
        route, request = exchange.route, exchange.request
        assert route is not None
        if request is not None and has_sensitive(request.DESCRIPTOR):
            binding = session_binding(presented_token(exchange))
            try:
                await self.opener.aopen(route.method_name, request, binding)
            except EnvelopeRejected as exc:
                self._audit(exchange, exc)
                raise EdgeError(
                    _C.INVALID_ARGUMENT,
                    f"{exc.field} must be a field-encryption envelope for this request "
                    f"({exc.problem})",
                    "ENVELOPE_INVALID",
                    violations=[(exc.field, exc.problem)],
                    metadata={"field": exc.field, "problem": exc.problem},
                ) from None
            except ReplayCheckUnavailable:
                raise EdgeError(
                    _C.UNAVAILABLE,
                    "sealed fields cannot be accepted right now; try again later",
                    "UPSTREAM_UNAVAILABLE",
                ) from None
        await call_next(exchange)

    def _audit(self, exchange: Exchange, exc: EnvelopeRejected) -> None:
        assert exchange.route is not None
        session = exchange.state.get("session")
        self.auditor.record(
            AuditEvent(
                action=exchange.route.spec.grpc_path,
                code=code_pb2.INVALID_ARGUMENT,
                reason="ENVELOPE_INVALID",
                request_id=exchange.request_id,
                client_ip=self.proxies.client_ip_of(exchange),
                actor=session.user if session is not None else "",
                actor_username=session.principal.username if session is not None else "",
                details={"field": exc.field, "problem": exc.problem},
            )
        )


@lru_cache(maxsize=4096)
def _client_key(data: bytes) -> ClientKey | None:
    try:
        return ClientKey(data)
    except InvalidClientKey:
        log.warning("edge: a session's client key is not a P-256 key; masking instead")
        return None


class EncryptStage:
    def __init__(self, sealer: ResponseSealer) -> None:
        self.sealer = sealer

    async def __call__(self, exchange: Exchange, call_next: Handler) -> None:
        await call_next(exchange)
        route, reply = exchange.route, exchange.reply
        assert route is not None
        if exchange.response is not None or reply is None:
            return
        if not has_sensitive(route.spec.method.output_type):
            return
        session = exchange.state.get("session")
        key = (
            _client_key(session.client_public_key)
            if session and session.client_public_key
            else None
        )
        binding = session.binding if session is not None else ""
        method = route.method_name
        if isinstance(reply, Reply):
            self.sealer.protect(method, reply.message, key, binding)
        elif isinstance(reply, StreamReply):
            reply.messages = self._protect_stream(reply.messages, method, key, binding)

    async def _protect_stream(
        self, messages: AsyncIterator[Any], method: str, key: ClientKey | None, binding: str
    ) -> AsyncIterator[Any]:
        async for message in messages:
            self.sealer.protect(method, message, key, binding)
            yield message


_SERVED = ("GET", "HEAD", "OPTIONS")


class KeysEndpoint:
    """`GET /v1/keys`: the edge's public keys for field encryption, current first."""

    PATH = "/v1/keys"

    def __init__(self, app: App, keys: KeyRing, *, max_age: int = 300) -> None:
        self.app = app
        self.keys = keys
        self.max_age = max_age

    @classmethod
    def openapi_paths(cls) -> dict[str, dict[str, Any]]:
        """This endpoint as an OpenAPI path item."""
        key = {
            "type": "object",
            "properties": {
                "kid": {"type": "string", "description": "The key id envelopes name."},
                "kty": {"type": "string", "enum": ["EC"]},
                "crv": {"type": "string", "enum": ["P-256"]},
                "x": {"type": "string", "description": "base64url, 32 bytes."},
                "y": {"type": "string", "description": "base64url, 32 bytes."},
                "use": {"type": "string", "enum": ["enc"]},
                "alg": {"type": "string"},
                "publicKey": {"type": "string", "description": "The raw point, base64url."},
                "state": {"type": "string", "enum": ["CURRENT", "RETIRING"]},
            },
            "required": ["kid", "kty", "crv", "x", "y", "use", "alg", "publicKey", "state"],
        }
        listing = {
            "type": "object",
            "properties": {"keys": {"type": "array", "items": key}},
            "required": ["keys"],
        }
        return {
            cls.PATH: {
                "get": {
                    "operationId": "edge_ListKeys",
                    "tags": ["edge"],
                    "summary": "The edge's public keys for field encryption, current first",
                    "description": "Seal sensitive request fields to the CURRENT key; "
                    "RETIRING keys still open envelopes sealed before a rotation.",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The keys, as JWKs with the raw point.",
                            "content": {"application/json": {"schema": listing}},
                        }
                    },
                }
            }
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or scope["path"] != self.PATH or method not in _SERVED:
            await self.app(scope, receive, send)
            return
        if method == "OPTIONS":
            allow = [(b"allow", allow_header(["GET"]))]
            await send({"type": "http.response.start", "status": 204, "headers": allow})
            await send({"type": "http.response.body", "body": b""})
            return
        body = orjson.dumps(self.keys.describe())
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", f"public, max-age={self.max_age}".encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
