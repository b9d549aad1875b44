"""Signed identity assertions: who is calling, as stated by the account service.

The edge forwards a serialized `palmgrid.type.v1.IdentityAssertion` in the
`palmgrid-identity-bin` metadata entry. Its `claims` are a serialized `AssertionClaims`,
signed with Ed25519 by the account service (`AssertionSigner`); every server checks the
signature, audience and lifetime (`AssertionVerifier`) before trusting the principal.

An assertion is for one called service (its audience, `palmlib.audiences.audience_of`)
and one calling process (its `caller`, the service account that asked for it): billing
refuses one minted for care, and under mutual TLS a server refuses one presented by a
certificate other than its caller's (`servers.runtime.access`).

Keys live as files in one directory: `<key id>.key` (PKCS#8 PEM private key, only the
account service reads it) and `<key id>.pub` (SubjectPublicKeyInfo PEM). Rotation: add
a new pair, switch `PALMGRID_IDENTITY_KEY_ID`, remove the old `.pub` after a minute.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, timedelta
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from google.protobuf.message import DecodeError

from palmgrid.type.v1 import identity_pb2
from servers.runtime.clock import SYSTEM_CLOCK, Clock
from servers.runtime.errors import Unauthenticated
from servers.runtime.files import directory_lock, write_atomically

METADATA_KEY = "palmgrid-identity-bin"
MAX_LIFETIME = timedelta(seconds=60)
# Tolerated difference between the signer's clock and ours.
CLOCK_SKEW = timedelta(seconds=5)


class AssertionInvalid(Unauthenticated):
    """The identity assertion is missing, malformed, expired, altered or from an unknown key."""

    default_reason = "ASSERTION_INVALID"


class AssertionSigner:
    """Issues assertions for principals (used by the account service)."""

    def __init__(
        self,
        private_key: Ed25519PrivateKey,
        key_id: str,
        *,
        lifetime: timedelta = MAX_LIFETIME,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if not timedelta(0) < lifetime <= MAX_LIFETIME:
            raise ValueError(f"assertion lifetime must be in (0, {MAX_LIFETIME}]")
        self._key = private_key
        self.key_id = key_id
        self._lifetime = lifetime
        self._clock = clock

    def sign(
        self, principal: identity_pb2.Principal, *, audience: str, caller: str = ""
    ) -> identity_pb2.IdentityAssertion:
        """A fresh assertion for `principal`, for the service `audience` ("billing") and
        the calling process `caller` ("edge"; empty: no certificate may present it),
        valid from now for the configured lifetime."""
        if not audience:
            raise ValueError("an assertion needs an audience")
        now = self._clock.now()
        claims = identity_pb2.AssertionClaims(principal=principal, audience=audience, caller=caller)
        claims.issue_time.FromDatetime(now)
        claims.expire_time.FromDatetime(now + self._lifetime)
        data = claims.SerializeToString(deterministic=True)
        return identity_pb2.IdentityAssertion(
            claims=data, signature=self._key.sign(data), key_id=self.key_id
        )

    def metadata(
        self, principal: identity_pb2.Principal, *, audience: str, caller: str = ""
    ) -> tuple[str, bytes]:
        """The `(palmgrid-identity-bin, bytes)` metadata entry carrying a fresh assertion
        (see `sign`)."""
        assertion = self.sign(principal, audience=audience, caller=caller)
        return (METADATA_KEY, assertion.SerializeToString())


class PublicKeys(Protocol):
    """Where a verifier finds the public key for a key id."""

    def get(self, key_id: str) -> Ed25519PublicKey | None: ...


class KeyDirectory:
    """Public keys read from `<key id>.pub` files, re-read (at most every
    `reload_interval` seconds) when an unknown key id shows up, so a rotated key is
    picked up without a restart."""

    def __init__(self, directory: Path, *, reload_interval: float = 5.0) -> None:
        self._directory = directory
        self._interval = reload_interval
        self._lock = threading.Lock()
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._loaded_at = float("-inf")
        self._reload()

    def _reload(self) -> None:
        keys: dict[str, Ed25519PublicKey] = {}
        if self._directory.is_dir():
            for path in sorted(self._directory.glob("*.pub")):
                keys[path.stem] = load_public_key(path)
        self._keys = keys
        self._loaded_at = time.monotonic()

    def get(self, key_id: str) -> Ed25519PublicKey | None:
        key = self._keys.get(key_id)
        if key is None and time.monotonic() - self._loaded_at >= self._interval:
            with self._lock:
                if time.monotonic() - self._loaded_at >= self._interval:
                    self._reload()
            key = self._keys.get(key_id)
        return key


class AssertionVerifier:
    """Checks assertions made for `audience` (this server's service name) and returns
    the principal they carry."""

    def __init__(
        self,
        keys: PublicKeys | Mapping[str, Ed25519PublicKey],
        *,
        audience: str,
        max_lifetime: timedelta = MAX_LIFETIME,
        clock_skew: timedelta = CLOCK_SKEW,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._keys = keys
        self._audience = audience
        self._max_lifetime = max_lifetime
        self._skew = clock_skew
        self._clock = clock

    def verify(self, data: bytes | None) -> identity_pb2.Principal:
        """The principal in a serialized IdentityAssertion; AssertionInvalid otherwise."""
        return self.verify_claims(data).principal

    def verify_claims(self, data: bytes | None) -> identity_pb2.AssertionClaims:
        """The checked claims of a serialized IdentityAssertion (the principal and its
        caller); AssertionInvalid otherwise."""
        if not data:
            raise AssertionInvalid("identity assertion missing")
        try:
            assertion = identity_pb2.IdentityAssertion.FromString(data)
        except DecodeError:
            raise AssertionInvalid("identity assertion malformed") from None
        key = self._keys.get(assertion.key_id)
        if key is None:
            raise AssertionInvalid("identity assertion signed by an unknown key")
        try:
            key.verify(assertion.signature, assertion.claims)
        except InvalidSignature:
            raise AssertionInvalid("identity assertion signature does not verify") from None
        try:
            claims = identity_pb2.AssertionClaims.FromString(assertion.claims)
        except DecodeError:
            raise AssertionInvalid("identity assertion claims malformed") from None
        self._check_claims(claims)
        return claims

    def _check_claims(self, claims: identity_pb2.AssertionClaims) -> None:
        if claims.audience != self._audience:
            raise AssertionInvalid("identity assertion is for another audience")
        if not (claims.HasField("issue_time") and claims.HasField("expire_time")):
            raise AssertionInvalid("identity assertion has no validity period")
        if not claims.HasField("principal") or not claims.principal.user:
            raise AssertionInvalid("identity assertion names no principal")
        issued = claims.issue_time.ToDatetime(tzinfo=UTC)
        expires = claims.expire_time.ToDatetime(tzinfo=UTC)
        if not timedelta(0) < expires - issued <= self._max_lifetime:
            raise AssertionInvalid("identity assertion lifetime is not allowed")
        now = self._clock.now()
        if issued > now + self._skew:
            raise AssertionInvalid("identity assertion issued in the future")
        if expires <= now - self._skew:
            raise AssertionInvalid("identity assertion expired")


# --- key files ------------------------------------------------------------------------


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def write_key_pair(directory: Path, key_id: str, key: Ed25519PrivateKey) -> None:
    """Write `<key id>.key` (mode 0600) and `<key id>.pub` into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_atomically(directory / f"{key_id}.key", private, mode=0o600)
    write_atomically(directory / f"{key_id}.pub", public, mode=0o644)


def ensure_key_pair(directory: Path, key_id: str) -> Path:
    """Create the key pair `key_id` in `directory` unless it exists (dev profile);
    safe when several processes start at once. Returns the private key's path."""
    private = directory / f"{key_id}.key"
    with directory_lock(directory):
        if not (private.exists() and (directory / f"{key_id}.pub").exists()):
            write_key_pair(directory, key_id, generate_private_key())
    return private


def load_signer(
    directory: Path, key_id: str, *, lifetime: timedelta = MAX_LIFETIME, clock: Clock = SYSTEM_CLOCK
) -> AssertionSigner:
    """The signer for key `key_id` in `directory` (the account service's)."""
    key = load_private_key(directory / f"{key_id}.key")
    return AssertionSigner(key, key_id, lifetime=lifetime, clock=clock)
