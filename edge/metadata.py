"""Which HTTP headers become gRPC metadata, and which metadata becomes HTTP headers.

Requests (all in one pass over the headers, made only when the upstream is called: the
metadata stage first refuses, with `check_headers`, what this pass would refuse, so a
request answered from the cache is refused alike and never pays for the rest):
- `Grpc-Metadata-<k>` → metadata `<k>` (`-bin` keys carry base64), as grpc-gateway does;
- other headers pass under their own lower-case names, as Envoy's transcoder does
  (so a payment provider's signature headers reach the billing service), except
  hop-by-hop and transport headers; `User-Agent` goes as `grpcgateway-user-agent`;
- `Grpc-Timeout` becomes the call's deadline, capped by the configured maximum;
- `X-Request-Id` is kept when it looks like an id, else one is generated;
  `X-Forwarded-For` gets the client's address appended; `X-Forwarded-Host` and
  `X-Forwarded-Proto` are set;
- `traceparent` is the edge's own span's (edge.tracing), never the phone's header;
- anything in the internal namespace (`palmgrid-…`, `x-palmgrid-…`, also when wrapped
  in `Grpc-Metadata-`) is dropped: only the edge itself may speak there.

Responses: initial metadata → `Grpc-Metadata-<k>`, trailing metadata →
`Grpc-Trailer-<k>` (sent as headers: a unary answer is complete before we write it),
internal and reserved keys left out.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from edge.errors import EdgeError

__all__ = [
    "HeaderRules",
    "IncomingHeaders",
    "check_headers",
    "parse_grpc_timeout",
    "request_id",
    "response_headers",
]

Metadata = list[tuple[str, str | bytes]]

# Not forwarded: connection management, framing, and what gRPC sets itself.
_NOT_FORWARDED = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "content-type",
        "content-encoding",
        "accept-encoding",
        "expect",
        "http2-settings",
        "x-request-id",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "grpc-timeout",
        "user-agent",
        # The edge sends its own span's context (edge.tracing), not the phone's.
        "traceparent",
        "tracestate",
    }
)
# Reserved by gRPC on the wire; never copied between headers and metadata.
_RESERVED_PREFIXES = ("grpc-", ":")
_RESERVED = frozenset({"content-type", "te", "user-agent", "grpc-status-details-bin"})
_METADATA_KEY = re.compile(r"[0-9a-z_.\-]+\Z")
_PRINTABLE = re.compile(r"[\x20-\x7e]*\Z")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}\Z")
_TIMEOUT = re.compile(r"(\d{1,8})([HMSmun])\Z")
_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
_GRPC_METADATA = "grpc-metadata-"
# RFC 9562 variant bits (10xx) for the first hex digit of the fourth group.
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


@dataclass(frozen=True, slots=True)
class HeaderRules:
    """Header/metadata policy; constructed once from the edge's configuration."""

    internal_prefixes: tuple[str, ...] = ("palmgrid-", "x-palmgrid-")
    default_timeout: float = 30.0
    max_timeout: float = 300.0

    def is_internal(self, key: str) -> bool:
        return key.startswith(self.internal_prefixes)


def parse_grpc_timeout(value: str) -> float:
    """`Grpc-Timeout` (1–8 digits and a unit: H M S m u n) in seconds; ValueError if bad."""
    m = _TIMEOUT.match(value)
    if m is None:
        raise ValueError(value)
    return int(m.group(1)) * _UNITS[m.group(2)]


def request_id(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The client's `X-Request-Id` when it looks like an id, else a new UUID."""
    for name, value in headers:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _REQUEST_ID.match(text):
                return text
            break
    return new_request_id()


def new_request_id() -> str:
    """A random UUID (version 4), formatted; cheaper than `str(uuid.uuid4())`."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


@dataclass(slots=True)
class IncomingHeaders:
    """The metadata and deadline of the upstream call, from one request's headers."""

    metadata: Metadata
    timeout: float

    @classmethod
    def read(
        cls,
        headers: Iterable[tuple[bytes, bytes]],
        rules: HeaderRules,
        *,
        request_id: str,
        client: str | None,
        scheme: str,
        parent: str = "",
        streaming: bool = False,
        stream_timeout: float | None = None,
    ) -> IncomingHeaders:
        """The upstream metadata and deadline; `parent` is the edge span's
        `traceparent` ("" without one). Raises what `check_headers` raises."""
        metadata: Metadata = []
        forwarded_for = ""
        host = ""
        timeout: float | None = None
        internal = rules.internal_prefixes
        for raw_name, raw_value in headers:
            name = raw_name.decode("latin-1")
            value = raw_value.decode("latin-1")
            if name.startswith(_GRPC_METADATA):
                key = name[len(_GRPC_METADATA) :]
                wrapped = _wrapped_value(key, value, internal)
                if wrapped is not None:
                    metadata.append((key, wrapped))
            elif name in _NOT_FORWARDED:
                if name == "x-forwarded-for":
                    forwarded_for = value
                elif name == "host":
                    host = value
                elif name == "grpc-timeout":
                    timeout = _timeout(value)
                elif name == "user-agent" and _PRINTABLE.match(value):
                    metadata.append(("grpcgateway-user-agent", value))
            elif name.startswith(internal) or name.startswith(_RESERVED_PREFIXES):
                continue
            elif _METADATA_KEY.match(name) and _PRINTABLE.match(value):
                metadata.append((name, value))
        metadata.append(("x-request-id", request_id))
        if parent:
            metadata.append(("traceparent", parent))
        if client:
            forwarded_for = f"{forwarded_for}, {client}" if forwarded_for else client
        if forwarded_for and _PRINTABLE.match(forwarded_for):
            metadata.append(("x-forwarded-for", forwarded_for))
        if host and _PRINTABLE.match(host):
            metadata.append(("x-forwarded-host", host))
        metadata.append(("x-forwarded-proto", scheme))
        if streaming and stream_timeout is not None:
            deadline = stream_timeout if timeout is None else min(timeout, stream_timeout)
        else:
            deadline = rules.default_timeout if timeout is None else timeout
            deadline = min(deadline, rules.max_timeout)
        return cls(metadata, deadline)


def check_headers(headers: Iterable[tuple[bytes, bytes]], rules: HeaderRules) -> None:
    """Refuse what `IncomingHeaders.read` would refuse (a malformed `Grpc-Timeout`, a
    `Grpc-Metadata-*-bin` that is not base64), in the same order, without building the
    metadata: a request answered from the cache never needs it, and must be refused
    alike (only `grpc-…` headers can be refused)."""
    for raw_name, raw_value in headers:
        if not raw_name.startswith(b"grpc-"):
            continue
        name = raw_name.decode("latin-1")
        if name == "grpc-timeout":
            _timeout(raw_value.decode("latin-1"))
        elif name.startswith(_GRPC_METADATA):
            key = name[len(_GRPC_METADATA) :]
            _wrapped_value(key, raw_value.decode("latin-1"), rules.internal_prefixes)


def _timeout(value: str) -> float:
    try:
        return parse_grpc_timeout(value)
    except ValueError:
        raise EdgeError.bad_request(
            f"Grpc-Timeout {value!r} is not 1 to 8 digits and a unit (HMSmun)",
            ("Grpc-Timeout", "malformed"),
        ) from None


def _wrapped_value(key: str, value: str, internal: tuple[str, ...]) -> str | bytes | None:
    """What `Grpc-Metadata-<key>: value` forwards as metadata `<key>` (None: nothing)."""
    if (
        not key
        or key.startswith(internal)
        or key.startswith(_RESERVED_PREFIXES)
        or key in _RESERVED
        or key in _NOT_FORWARDED
        or key == "authorization"  # credentials travel only in the Authorization header
        or not _METADATA_KEY.match(key)
    ):
        return None
    if key.endswith("-bin"):
        try:
            return base64.b64decode(value + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            raise EdgeError.bad_request(
                f"Grpc-Metadata-{key} is not base64", (f"Grpc-Metadata-{key}", "not base64")
            ) from None
    return value if _PRINTABLE.match(value) else None


def response_headers(
    initial: Sequence[tuple[str, str | bytes]] | None,
    trailing: Sequence[tuple[str, str | bytes]] | None,
    rules: HeaderRules,
) -> list[tuple[bytes, bytes]]:
    """`Grpc-Metadata-*` and `Grpc-Trailer-*` headers from an upstream call's metadata."""
    out: list[tuple[bytes, bytes]] = []
    for prefix, pairs in ((b"grpc-metadata-", initial), (b"grpc-trailer-", trailing)):
        if not pairs:
            continue
        for key, value in pairs:
            if key in _RESERVED or key.startswith(_RESERVED_PREFIXES) or rules.is_internal(key):
                continue
            if isinstance(value, bytes):
                encoded = base64.b64encode(value)
            else:
                encoded = value.encode("latin-1", "replace")
            out.append((prefix + key.encode("ascii"), encoded))
    return out
