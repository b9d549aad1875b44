"""The app side of PalmGrid field encryption, written from docs/field-encryption.md.

An app seals each sensitive request field to the edge's current public key and opens
the sealed fields of responses with the private key whose public half it gave at
login. This module does both on proto3 JSON bodies (dicts), the way a phone app sees
them, and finds the sensitive fields from the descriptors' `(palmgrid.options.v1.field)`
options. It shares no code with the edge on purpose: it is the reference that shows
the format can be implemented from the document alone.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from google.protobuf import descriptor, descriptor_pb2

from palmgrid.options.v1 import options_pb2

__all__ = [
    "AppKey",
    "EdgePublicKey",
    "has_sensitive_fields",
    "open_envelope",
    "open_response_fields",
    "seal_request_fields",
    "seal_value",
    "session_binding",
]

SUITE = Suite(KEM.P256, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
LABEL = b"palmgrid-fieldcrypt-v1"
ENC_LENGTH = 65


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def session_binding(token: str | None) -> str:
    """base64url(SHA-256(token)), or '' before login."""
    return _b64url(hashlib.sha256(token.encode()).digest()) if token else ""


def _info(direction: str, kid: str, ts: int, method: str, field: str, session: str) -> bytes:
    parts = [direction, kid, str(ts), method, field, session]
    return b"\x00".join([LABEL, *(p.encode() for p in parts)])


@dataclass(frozen=True)
class EdgePublicKey:
    """One key from `GET /v1/keys`."""

    kid: str
    public_key: ec.EllipticCurvePublicKey

    @classmethod
    def from_listing(cls, listing: dict[str, Any]) -> EdgePublicKey:
        """The current key of a `GET /v1/keys` answer (listed first)."""
        first = listing["keys"][0]
        point = _unb64url(first["publicKey"])
        return cls(
            first["kid"], ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        )


class AppKey:
    """The app's key pair for one login: the public half goes in `clientPublicKey`."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey | None = None) -> None:
        self.private_key = private_key or ec.generate_private_key(ec.SECP256R1())
        self.public_bytes = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        # The edge names this key by the first 16 characters of base64url(SHA-256).
        self.kid = _b64url(hashlib.sha256(self.public_bytes).digest())[:16]

    @property
    def public_base64(self) -> str:
        """The public key as proto3 JSON writes bytes (standard base64)."""
        return base64.b64encode(self.public_bytes).decode()


def seal_value(
    value: str,
    edge: EdgePublicKey,
    *,
    method: str,
    field: str,
    session: str,
    ts: int | None = None,
) -> str:
    """One request value sealed to the edge: `pgfe1.<kid>.<ts>.<enc>.<ct>`."""
    ts = int(time.time()) if ts is None else ts
    sealed = SUITE.encrypt(
        value.encode(), edge.public_key, info=_info("request", edge.kid, ts, method, field, session)
    )
    enc, ct = sealed[:ENC_LENGTH], sealed[ENC_LENGTH:]
    return f"pgfe1.{edge.kid}.{ts}.{_b64url(enc)}.{_b64url(ct)}"


def open_envelope(text: str, key: AppKey, *, method: str, field: str, session: str) -> str:
    """The plaintext of a response envelope sealed to `key` for this place."""
    prefix, kid, ts, enc, ct = text.split(".")
    if prefix != "pgfe1" or kid != key.kid:
        raise ValueError(f"{field}: not an envelope for this app key")
    info = _info("response", kid, int(ts), method, field, session)
    return SUITE.decrypt(_unb64url(enc) + _unb64url(ct), key.private_key, info=info).decode()


def _sensitive(fd: descriptor.FieldDescriptor) -> bool:
    raw = fd.GetOptions().SerializeToString()
    opts = descriptor_pb2.FieldOptions.FromString(raw)
    return opts.HasExtension(options_pb2.field) and opts.Extensions[options_pb2.field].sensitive


def _is_map(fd: descriptor.FieldDescriptor) -> bool:
    entry: Any = fd.message_type
    return bool(fd.type == fd.TYPE_MESSAGE and entry.GetOptions().map_entry)


def has_sensitive_fields(
    message: descriptor.Descriptor, _seen: frozenset[str] = frozenset()
) -> bool:
    """Whether a message type holds sensitive fields anywhere inside."""
    if message.full_name in _seen:
        return False
    seen = _seen | {message.full_name}
    for fd in message.fields:
        if _sensitive(fd):
            return True
        if fd.type == fd.TYPE_MESSAGE:
            target: Any = fd.message_type
            if _is_map(fd):
                target = target.fields_by_name["value"].message_type
            if target is not None and has_sensitive_fields(target, seen):
                return True
    return False


def _walk(
    body: dict[str, Any], message: descriptor.Descriptor, prefix: str
) -> Iterator[tuple[dict[str, Any] | list[Any], str | int, str]]:
    """(container, key, JSON path) of every non-empty sensitive string in a JSON body."""
    for fd in message.fields:
        if fd.json_name not in body:
            continue
        value = body[fd.json_name]
        path = f"{prefix}.{fd.json_name}" if prefix else fd.json_name
        if _sensitive(fd):
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item:
                        yield value, i, f"{path}[{i}]"
            elif value:
                yield body, fd.json_name, path
        elif fd.type == fd.TYPE_MESSAGE and value:
            target: Any = fd.message_type
            if _is_map(fd):
                inner = target.fields_by_name["value"].message_type
                if inner is not None:
                    for k, v in value.items():
                        yield from _walk(v, inner, f'{path}["{k}"]')
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    yield from _walk(item, target, f"{path}[{i}]")
            elif isinstance(value, dict):
                yield from _walk(value, target, path)


def _apply(
    body: dict[str, Any],
    message: descriptor.Descriptor,
    prefix: str,
    change: Callable[[str, str], str],
) -> None:
    for container, key, path in list(_walk(body, message, prefix)):
        container[key] = change(container[key], path)  # type: ignore[index]


def seal_request_fields(
    body: dict[str, Any],
    message: descriptor.Descriptor,
    edge: EdgePublicKey,
    *,
    method: str,
    session: str,
    prefix: str = "",
) -> dict[str, Any]:
    """Seal every sensitive field of a JSON request body in place (and return it).

    `message` is the type the body holds; `prefix` the JSON path of the body inside
    the request message when the route's body is one field (`customerBinding`).
    """
    _apply(
        body,
        message,
        prefix,
        lambda value, path: seal_value(value, edge, method=method, field=path, session=session),
    )
    return body


def open_response_fields(
    body: dict[str, Any],
    message: descriptor.Descriptor,
    key: AppKey,
    *,
    method: str,
    session: str,
    prefix: str = "",
) -> dict[str, Any]:
    """Open every sealed field of a JSON response body in place (masked ones stay)."""

    def change(value: str, path: str) -> str:
        if not value.startswith("pgfe1."):
            return value
        return open_envelope(value, key, method=method, field=path, session=session)

    _apply(body, message, prefix, change)
    return body
