"""Field-level encryption of sensitive fields with HPKE (RFC 9180), inside TLS.

- `envelope`: the `pgfe1.<kid>.<ts>.<enc>.<ct>` format and its bound context.
- `keys`: the edge's key pairs, rotation, the `GET /v1/keys` answer.
- `fields`: where the sensitive fields of a message are.
- `requests`: opening sealed request fields (plaintext, replays, tampering, swapped
  fields and stale timestamps refused).
- `responses`: sealing response fields to the client's key, or masking them.
- `replay`: the replay guard (Memcached plus a local table).

docs/field-encryption.md specifies the format for app developers.
"""

from __future__ import annotations

from edge.fieldcrypt.envelope import Envelope, EnvelopeFormatError, seal, session_binding
from edge.fieldcrypt.fields import has_sensitive
from edge.fieldcrypt.keys import ALGORITHM, EdgeKey, KeyRing, create_key, ensure_key, retire_key
from edge.fieldcrypt.replay import ReplayCheckUnavailable, ReplayGuard
from edge.fieldcrypt.requests import EnvelopeRejected, RequestOpener
from edge.fieldcrypt.responses import ClientKey, InvalidClientKey, ResponseSealer

__all__ = [
    "ALGORITHM",
    "ClientKey",
    "EdgeKey",
    "Envelope",
    "EnvelopeFormatError",
    "EnvelopeRejected",
    "InvalidClientKey",
    "KeyRing",
    "ReplayCheckUnavailable",
    "ReplayGuard",
    "RequestOpener",
    "ResponseSealer",
    "create_key",
    "ensure_key",
    "has_sensitive",
    "retire_key",
    "seal",
    "session_binding",
]
