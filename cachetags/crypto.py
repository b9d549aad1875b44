"""Encryption at rest for cached values: AES-256-GCM with keys Memcached never sees.

A sealed value is `version (1) | key id (1) | nonce (12) | ciphertext+tag`, and the
associated data is the Memcached key plus whatever header the caller adds, so a value
copied to another key, or a header altered, fails to open.

Keys live in a small file readable only by the processes that cache (`<id> <base64>` per
line, the first line is the key that seals; later lines still open values sealed before
a rotation). Rotation: put a new line first, keep the old line for the longest entry
lifetime, then drop it.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["CipherError", "ValueCipher", "ensure_key_file"]

_VERSION = 1
_NONCE = 12


class CipherError(ValueError):
    """A sealed value is malformed, sealed with an unknown key or was altered."""


class ValueCipher:
    """Seals and opens cached values with AES-256-GCM."""

    def __init__(self, keys: Mapping[int, bytes], current: int) -> None:
        if current not in keys:
            raise ValueError("the current key id must be one of the keys")
        for key_id, key in keys.items():
            if not 0 <= key_id <= 255 or len(key) != 32:
                raise ValueError("cache keys are 32 bytes with ids 0..255")
        self._aead = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = current

    @classmethod
    def generate(cls) -> ValueCipher:
        """A cipher with one fresh random key (tests, single-process use)."""
        return cls({1: AESGCM.generate_key(bit_length=256)}, 1)

    @classmethod
    def from_file(cls, path: str | Path) -> ValueCipher:
        keys: dict[int, bytes] = {}
        current: int | None = None
        for n, line in enumerate(Path(path).read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                key_id_text, encoded = line.split()
                key_id, key = int(key_id_text), base64.b64decode(encoded, validate=True)
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: expected `<id> <base64 key>`") from exc
            keys[key_id] = key
            current = key_id if current is None else current
        if current is None:
            raise ValueError(f"{path} holds no key")
        return cls(keys, current)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        body = self._aead[self._current].encrypt(nonce, plaintext, aad)
        return bytes((_VERSION, self._current)) + nonce + body

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        if len(sealed) < 2 + _NONCE + 16 or sealed[0] != _VERSION:
            raise CipherError("not a sealed cache value")
        aead = self._aead.get(sealed[1])
        if aead is None:
            raise CipherError(f"sealed with unknown cache key {sealed[1]}")
        try:
            return aead.decrypt(sealed[2 : 2 + _NONCE], sealed[2 + _NONCE :], aad)
        except InvalidTag as exc:
            raise CipherError("cached value failed authentication") from exc


def ensure_key_file(path: str | Path) -> Path:
    """Create a key file with one random key (mode 0600) unless it exists; its path."""
    path = Path(path)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    line = f"1 {base64.b64encode(secrets.token_bytes(32)).decode()}\n"
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(line)
    try:
        os.link(tmp, path)  # never replaces a key another process just wrote
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path
