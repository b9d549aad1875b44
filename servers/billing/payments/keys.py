"""Key material of the payment protocol, as files in one folder.

- `merchant.key` (billing) / `merchant.pub` (the provider): RSA-2048; billing signs
  its API requests.
- `provider.key` (the provider) / `provider.pub` (billing): RSA-2048; the provider
  signs its responses and callbacks.
- `apiv3.key` (both): the 32-character API v3 key; AES-256-GCM of callback resources.

A key's serial number is the first 20 bytes of the SHA-256 of its public key (40 hex
digits), standing in for the certificate serial that WeChat Pay sends in
`Wechatpay-Serial`. The dev profile and the tests create every file at once
(`ensure_dev_keys`); production receives them from the provider's merchant portal, and
`provider.key` never exists there.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from servers.runtime.files import directory_lock, write_atomically

MERCHANT_KEY = "merchant.key"
MERCHANT_PUB = "merchant.pub"
PROVIDER_KEY = "provider.key"
PROVIDER_PUB = "provider.pub"
API_V3_KEY = "apiv3.key"
API_V3_KEY_LENGTH = 32


@dataclass(frozen=True)
class MerchantKeys:
    """What billing holds: its signing key and what it needs to trust the provider."""

    private_key: rsa.RSAPrivateKey
    serial: str
    provider_public_key: rsa.RSAPublicKey
    provider_serial: str
    api_v3_key: bytes


@dataclass(frozen=True)
class ProviderKeys:
    """What the provider (the sandbox) holds."""

    private_key: rsa.RSAPrivateKey
    serial: str
    merchant_public_key: rsa.RSAPublicKey
    merchant_serial: str
    api_v3_key: bytes


def serial_of(public_key: rsa.RSAPublicKey) -> str:
    """The key's serial number: 40 upper-case hex digits."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:40].upper()


def ensure_dev_keys(directory: Path) -> Path:
    """Create every key file in `directory` unless they all exist; returns the folder.
    Several processes may start at once: they take a lock and the first one writes."""
    with directory_lock(directory):
        names = (MERCHANT_KEY, MERCHANT_PUB, PROVIDER_KEY, PROVIDER_PUB, API_V3_KEY)
        if all((directory / name).is_file() for name in names):
            return directory
        for private, public in ((MERCHANT_KEY, MERCHANT_PUB), (PROVIDER_KEY, PROVIDER_PUB)):
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            write_atomically(directory / private, _private_pem(key), mode=0o600)
            write_atomically(directory / public, _public_pem(key.public_key()), mode=0o644)
        alphabet = string.ascii_letters + string.digits
        api_key = "".join(secrets.choice(alphabet) for _ in range(API_V3_KEY_LENGTH))
        write_atomically(directory / API_V3_KEY, api_key.encode(), mode=0o600)
    return directory


def load_merchant_keys(directory: Path) -> MerchantKeys:
    """Billing's keys from `directory`; FileNotFoundError names a missing file."""
    private_key = _load_private(directory / MERCHANT_KEY)
    provider_public = _load_public(directory / PROVIDER_PUB)
    return MerchantKeys(
        private_key=private_key,
        serial=serial_of(private_key.public_key()),
        provider_public_key=provider_public,
        provider_serial=serial_of(provider_public),
        api_v3_key=_load_api_v3_key(directory / API_V3_KEY),
    )


def load_provider_keys(directory: Path) -> ProviderKeys:
    """The provider's (sandbox's) keys from `directory`."""
    private_key = _load_private(directory / PROVIDER_KEY)
    merchant_public = _load_public(directory / MERCHANT_PUB)
    return ProviderKeys(
        private_key=private_key,
        serial=serial_of(private_key.public_key()),
        merchant_public_key=merchant_public,
        merchant_serial=serial_of(merchant_public),
        api_v3_key=_load_api_v3_key(directory / API_V3_KEY),
    )


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_pem(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load_private(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path}: not an RSA private key")
    return key


def _load_public(path: Path) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path}: not an RSA public key")
    return key


def _load_api_v3_key(path: Path) -> bytes:
    key = path.read_bytes().strip()
    if len(key) != API_V3_KEY_LENGTH:
        raise ValueError(f"{path}: the API v3 key must be {API_V3_KEY_LENGTH} characters")
    return key
