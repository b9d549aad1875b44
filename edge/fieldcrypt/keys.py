"""The edge's field-encryption key pairs: files in one directory, newest seals.

Each key is `<kid>.pem` (PKCS#8 PEM, mode 0600) in the keys directory. Key ids start
with their UTC creation time (`20261126060102123456-3fa9c1`), so the newest key is the one
with the greatest id: it is the *current* key, listed first by `GET /v1/keys`, and
the one apps should seal to. Older keys still open envelopes until their file is
removed.

Rotation without downtime: `python -m edge.fieldcrypt rotate <dir>` adds a new current
key; every edge replica picks it up within `reload_interval`; apps re-read `/v1/keys`
when their copy is older than its max-age; after max-age plus the envelope window,
`python -m edge.fieldcrypt retire <dir> <old kid>` removes the old one.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edge.fieldcrypt.envelope import b64url

__all__ = ["ALGORITHM", "EdgeKey", "KeyRing", "create_key", "ensure_key", "retire_key"]

ALGORITHM = "HPKE-Base-P256-SHA256-AES256GCM"


@dataclass(frozen=True, slots=True)
class EdgeKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @property
    def public_point(self) -> bytes:
        """The public key as an uncompressed SEC1 point (65 bytes)."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def describe(self, current: bool) -> dict[str, Any]:
        """The key as `GET /v1/keys` lists it: a JWK plus the raw point."""
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kid": self.kid,
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
            "use": "enc",
            "alg": ALGORITHM,
            "publicKey": b64url(self.public_point),
            "state": "CURRENT" if current else "RETIRING",
        }


class KeyRing:
    """The keys in a directory, re-read when an unknown id arrives or periodically."""

    def __init__(self, directory: Path, *, reload_interval: float = 5.0) -> None:
        self.directory = Path(directory)
        self.reload_interval = reload_interval
        self._lock = threading.Lock()
        self._keys: dict[str, EdgeKey] = {}
        self._loaded_at = 0.0
        self._reload()
        if not self._keys:
            raise FileNotFoundError(f"no field-encryption key (*.pem) in {self.directory}")

    @property
    def current(self) -> EdgeKey:
        self._maybe_reload()
        return self._keys[max(self._keys)]

    def get(self, kid: str) -> EdgeKey | None:
        key = self._keys.get(kid)
        if key is None and time.monotonic() - self._loaded_at > min(self.reload_interval, 1.0):
            self._reload()
            key = self._keys.get(kid)
        return key

    def describe(self) -> dict[str, Any]:
        """The `GET /v1/keys` answer: the current key first."""
        self._maybe_reload()
        current = max(self._keys)
        ordered = sorted(self._keys, reverse=True)
        return {"keys": [self._keys[kid].describe(kid == current) for kid in ordered]}

    def _maybe_reload(self) -> None:
        if time.monotonic() - self._loaded_at > self.reload_interval:
            self._reload()

    def _reload(self) -> None:
        with self._lock:
            keys: dict[str, EdgeKey] = {}
            for path in sorted(self.directory.glob("*.pem")):
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
                if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
                    key.curve, ec.SECP256R1
                ):
                    raise ValueError(f"{path} is not a P-256 private key")
                keys[path.stem] = EdgeKey(path.stem, key)
            if keys:
                self._keys = keys
            self._loaded_at = time.monotonic()


def create_key(directory: Path, *, now: datetime | None = None) -> str:
    """Add a new key, which becomes the current one; its id."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    moment = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S%f")
    newest = max((p.stem for p in directory.glob("*.pem")), default="")
    if moment <= newest[: len(moment)]:
        # A clock step backwards (or a second key in the same microsecond) must still
        # give the new key the greatest id, since the greatest id seals.
        moment = str(int(newest[: len(moment)]) + 1)
    kid = f"{moment}-{secrets.token_hex(3)}"
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temporary = directory / f".{kid}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.replace(temporary, directory / f"{kid}.pem")
    return kid


def ensure_key(directory: Path) -> KeyRing:
    """The key ring of `directory`, creating a first key when there is none (dev)."""
    directory = Path(directory)
    if not any(directory.glob("*.pem")):
        create_key(directory)
    return KeyRing(directory)


def retire_key(directory: Path, kid: str) -> None:
    """Remove a key that no longer seals; refuses to remove the last one."""
    directory = Path(directory)
    remaining = [p for p in directory.glob("*.pem") if p.stem != kid]
    if not remaining:
        raise ValueError("refusing to remove the only field-encryption key")
    (directory / f"{kid}.pem").unlink()
