"""The signed-callback payment protocol, of the WeChat Pay API v3 kind, shared by the
billing adapter (`provider.py`) and the sandbox provider (`sandbox/`).

- Requests from the merchant carry `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,
  nonce_str=…,timestamp=…,serial_no=…,signature=…`, an RSA-SHA256 (PKCS#1 v1.5)
  signature over "METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n".
- Responses and callbacks from the provider carry `Wechatpay-Timestamp`,
  `Wechatpay-Nonce`, `Wechatpay-Serial` and `Wechatpay-Signature`, an RSA-SHA256
  signature with the provider's key over "TIMESTAMP\\nNONCE\\nBODY\\n".
- A callback's `resource` is AES-256-GCM encrypted with the merchant's API v3 key:
  `{"algorithm": "AEAD_AES_256_GCM", "ciphertext": base64(ciphertext‖tag),
  "nonce": 12 characters, "associated_data": …, "original_type": …}`.

Amounts are integer fen (`amount.total`), times RFC 3339 in China Standard Time as the
provider writes them.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import string
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from servers.runtime import CHINA_STANDARD_TIME

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
HEADER_TIMESTAMP = "Wechatpay-Timestamp"
HEADER_NONCE = "Wechatpay-Nonce"
HEADER_SIGNATURE = "Wechatpay-Signature"
HEADER_SERIAL = "Wechatpay-Serial"
HEADER_SIGNATURE_TYPE = "Wechatpay-Signature-Type"
ALGORITHM = "AEAD_AES_256_GCM"

_ALPHANUMERIC = string.ascii_letters + string.digits
_AUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


class ProtocolError(ValueError):
    """A message that does not follow the protocol: bad signature, header or cipher."""


def new_nonce(length: int = 32) -> str:
    """A random alphanumeric nonce."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def sign(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Base64 RSA-SHA256 (PKCS#1 v1.5) signature of `message`."""
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(public_key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    """Whether `signature` (base64) is `public_key`'s signature of `message`."""
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def request_message(method: str, target: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """What a merchant request's signature covers; `target` is the path with its query."""
    return f"{method.upper()}\n{target}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """What the signature of a provider response or callback covers."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def authorization(
    *,
    merchant_id: str,
    serial: str,
    private_key: rsa.RSAPrivateKey,
    method: str,
    target: str,
    body: bytes,
) -> str:
    """The Authorization header value of a merchant request."""
    timestamp = str(int(time.time()))
    nonce = new_nonce()
    signature = sign(private_key, request_message(method, target, timestamp, nonce, body))
    return (
        f'{AUTH_SCHEME} mchid="{merchant_id}",nonce_str="{nonce}",'
        f'timestamp="{timestamp}",serial_no="{serial}",signature="{signature}"'
    )


def parse_authorization(value: str) -> dict[str, str]:
    """The parameters of an Authorization header; ProtocolError when malformed."""
    scheme, _, params = value.partition(" ")
    if scheme != AUTH_SCHEME:
        raise ProtocolError(f"authorization scheme must be {AUTH_SCHEME}")
    found = dict(_AUTH_PARAM.findall(params))
    missing = {"mchid", "nonce_str", "timestamp", "serial_no", "signature"} - found.keys()
    if missing:
        raise ProtocolError(f"authorization lacks {', '.join(sorted(missing))}")
    return found


def signed_headers(private_key: rsa.RSAPrivateKey, serial: str, body: bytes) -> dict[str, str]:
    """The `Wechatpay-*` headers a provider sends with a response or callback body."""
    timestamp = str(int(time.time()))
    nonce = new_nonce()
    return {
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SERIAL: serial,
        HEADER_SIGNATURE: sign(private_key, response_message(timestamp, nonce, body)),
        HEADER_SIGNATURE_TYPE: AUTH_SCHEME,
    }


def verify_signed(
    headers: Mapping[str, str],
    body: bytes,
    *,
    public_key: rsa.RSAPublicKey,
    serial: str,
    max_skew_seconds: float,
    now: float | None = None,
) -> None:
    """Check the provider's signature headers over `body` (header names are matched
    case-insensitively); ProtocolError says what is wrong."""
    lowered = {key.lower(): value for key, value in headers.items()}

    def header(name: str) -> str:
        value = lowered.get(name.lower())
        if not value:
            raise ProtocolError(f"missing header {name}")
        return value

    timestamp, nonce = header(HEADER_TIMESTAMP), header(HEADER_NONCE)
    signature, sent_serial = header(HEADER_SIGNATURE), header(HEADER_SERIAL)
    if sent_serial.upper() != serial.upper():
        raise ProtocolError(f"unknown provider key serial {sent_serial}")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise ProtocolError("malformed timestamp") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > max_skew_seconds:
        raise ProtocolError("timestamp too far from now (replayed or clock skew)")
    if not verify(public_key, response_message(timestamp, nonce, body), signature):
        raise ProtocolError("signature does not match")


def encrypt_resource(
    api_v3_key: bytes, plaintext: bytes, *, associated_data: str, original_type: str
) -> dict[str, str]:
    """The encrypted `resource` object of a callback."""
    nonce = new_nonce(12)
    ciphertext = AESGCM(api_v3_key).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {
        "original_type": original_type,
        "algorithm": ALGORITHM,
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def decrypt_resource(api_v3_key: bytes, resource: Mapping[str, Any]) -> bytes:
    """The plaintext of a callback `resource`; ProtocolError when it does not decrypt."""
    if resource.get("algorithm") != ALGORITHM:
        raise ProtocolError(f"resource algorithm must be {ALGORITHM}")
    try:
        ciphertext = base64.b64decode(str(resource["ciphertext"]), validate=True)
        nonce = str(resource["nonce"]).encode()
        associated = str(resource.get("associated_data") or "").encode()
        return AESGCM(api_v3_key).decrypt(nonce, ciphertext, associated)
    except (KeyError, binascii.Error, InvalidTag, ValueError) as exc:
        raise ProtocolError("resource does not decrypt with the API v3 key") from exc


def format_time(moment: datetime) -> str:
    """RFC 3339 in China Standard Time, as the provider writes times."""
    return moment.astimezone(CHINA_STANDARD_TIME).isoformat(timespec="seconds")


def parse_time(text: str) -> datetime:
    """An RFC 3339 time from the provider, as an aware datetime; ProtocolError if bad."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ProtocolError(f"malformed time {text!r}") from None
    if moment.tzinfo is None:
        raise ProtocolError(f"time without offset {text!r}")
    return moment


def dumps(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as sent on the wire."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def loads(body: bytes) -> dict[str, Any]:
    """A JSON object from the wire; ProtocolError when it is not one."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ProtocolError("body is not JSON") from None
    if not isinstance(document, dict):
        raise ProtocolError("body is not a JSON object")
    return document
