"""The field envelope: one sensitive value sealed with HPKE, written as a string.

    pgfe1.<kid>.<ts>.<enc>.<ct>

- `pgfe1`: the format and its version.
- `kid`: the id of the recipient's key (the edge's from `GET /v1/keys` in requests; the
  client's key fingerprint in responses).
- `ts`: when it was sealed, Unix seconds in decimal.
- `enc`, `ct`: HPKE (RFC 9180, base mode) encapsulated key and ciphertext, base64url
  without padding, with the suite DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM.

The HPKE `info` binds the context, so an envelope opens only where it was meant for:

    "palmgrid-fieldcrypt-v1" 0x00 direction 0x00 kid 0x00 ts 0x00 method 0x00 field 0x00 session

with `direction` `request` or `response`, `method` the RPC's full name
(`palmgrid.account.v1.AccountService.CreateSession`), `field` the JSON path of the
field (`user.phone`, `recipients[0].phone`) and `session` the base64url SHA-256 of the
bearer token, or empty before login. docs/field-encryption.md is the specification.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

__all__ = [
    "PREFIX",
    "SUITE",
    "Envelope",
    "EnvelopeFormatError",
    "b64url",
    "context_info",
    "looks_like_envelope",
    "seal",
    "session_binding",
    "unb64url",
]

PREFIX = "pgfe1"
LABEL = b"palmgrid-fieldcrypt-v1"
SUITE = Suite(KEM.P256, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
ENC_LENGTH = 65  # an uncompressed P-256 point
_KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_B64 = re.compile(r"^[A-Za-z0-9_-]+$")


class EnvelopeFormatError(ValueError):
    """The string is not a well-formed envelope."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    if not _B64.match(text) or len(text) % 4 == 1:
        raise EnvelopeFormatError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def session_binding(token: str | None) -> str:
    """The session part of the context: base64url SHA-256 of the bearer token, or ''."""
    return b64url(hashlib.sha256(token.encode()).digest()) if token else ""


def context_info(direction: str, kid: str, ts: int, method: str, field: str, session: str) -> bytes:
    """The HPKE info string binding an envelope to its place."""
    parts = [direction, kid, str(ts), method, field, session]
    if any("\x00" in p for p in parts):
        raise EnvelopeFormatError("context parts must not contain NUL")
    return b"\x00".join([LABEL, *(p.encode() for p in parts)])


def looks_like_envelope(value: str) -> bool:
    return value.startswith(PREFIX + ".")


@dataclass(frozen=True, slots=True)
class Envelope:
    kid: str
    ts: int
    enc: bytes
    ct: bytes

    @classmethod
    def parse(cls, text: str) -> Envelope:
        parts = text.split(".")
        if len(parts) != 5 or parts[0] != PREFIX:
            raise EnvelopeFormatError("expected pgfe1.<kid>.<ts>.<enc>.<ct>")
        _, kid, ts, enc, ct = parts
        if not _KID.match(kid):
            raise EnvelopeFormatError("bad key id")
        # ASCII digits only: str.isdigit() is also true of "²" and "١", which int()
        # refuses or reads as a number the sender never wrote.
        if not (ts.isascii() and ts.isdigit()) or len(ts) > 12:
            raise EnvelopeFormatError("bad timestamp")
        envelope = cls(kid, int(ts), unb64url(enc), unb64url(ct))
        if len(envelope.enc) != ENC_LENGTH or len(envelope.ct) < 16:
            raise EnvelopeFormatError("bad encapsulated key or ciphertext length")
        return envelope

    def __str__(self) -> str:
        return f"{PREFIX}.{self.kid}.{self.ts}.{b64url(self.enc)}.{b64url(self.ct)}"

    def info(self, direction: str, method: str, field: str, session: str) -> bytes:
        return context_info(direction, self.kid, self.ts, method, field, session)

    def open(
        self,
        private_key: ec.EllipticCurvePrivateKey,
        direction: str,
        method: str,
        field: str,
        session: str,
    ) -> bytes:
        """The plaintext; raises cryptography's InvalidTag when anything does not match."""
        info = self.info(direction, method, field, session)
        return SUITE.decrypt(self.enc + self.ct, private_key, info=info)


def seal(
    plaintext: bytes,
    public_key: ec.EllipticCurvePublicKey,
    *,
    kid: str,
    ts: int,
    direction: str,
    method: str,
    field: str,
    session: str,
) -> Envelope:
    """Seal a value to a recipient's public key for one place."""
    info = context_info(direction, kid, ts, method, field, session)
    sealed = SUITE.encrypt(plaintext, public_key, info=info)
    return Envelope(kid, ts, sealed[:ENC_LENGTH], sealed[ENC_LENGTH:])
