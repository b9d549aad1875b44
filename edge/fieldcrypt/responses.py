"""Sealing (or masking) the sensitive fields of a response before it leaves the edge.

With the client's public key from login, each sensitive value is sealed to it (the app
opens it with its private key); without one, the value is masked for display by the
field's mask style, with palmlib.masking (the rules the servers use too). Either way no
sensitive value leaves in plaintext.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from edge.fieldcrypt.envelope import b64url, seal
from edge.fieldcrypt.fields import SensitiveValue, visit
from palmlib.masking import mask

__all__ = ["ClientKey", "InvalidClientKey", "ResponseSealer"]


class InvalidClientKey(ValueError):
    """The client's public key is not a P-256 key."""


class ClientKey:
    """A client's P-256 public key, as given at login, and its key id (fingerprint)."""

    def __init__(self, data: bytes) -> None:
        self.kid = client_key_id(data)
        self.public_key = _load(data)


def client_key_id(data: bytes) -> str:
    """The key id of a client key: base64url of its SHA-256, first 16 characters."""
    return b64url(hashlib.sha256(data).digest())[:16]


def _load(data: bytes) -> ec.EllipticCurvePublicKey:
    try:
        if data[:1] in (b"\x02", b"\x03", b"\x04"):
            key: Any = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
        else:
            key = load_der_public_key(data)
    except ValueError as exc:
        raise InvalidClientKey(str(exc)) from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidClientKey("client key must be P-256")
    return key


class ResponseSealer:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    def protect(self, method: str, message: Any, client: ClientKey | None, session: str) -> int:
        """Seal or mask every sensitive value of `message` in place; how many."""
        count = 0
        ts = int(self.clock())

        def replace(found: SensitiveValue) -> str:
            nonlocal count
            count += 1
            if client is None:
                return mask(found.value, found.mask)
            envelope = seal(
                found.value.encode(),
                client.public_key,
                kid=client.kid,
                ts=ts,
                direction="response",
                method=method,
                field=found.path,
                session=session,
            )
            return str(envelope)

        visit(message, replace)
        return count
