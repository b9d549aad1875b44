"""One call of a PalmGrid RPC on behalf of the signed-in staff member."""

from __future__ import annotations

import time
from typing import Any

from google.protobuf.message import Message

from clients.staff.channels import open_channel
from clients.staff.config import CliConfig, load_config
from clients.staff.session import identity_metadata, load_token

TIMEOUT_SECONDS = 30.0


# An identity assertion lives a minute: one is reused for half that, for the same
# session and service, so that a command making several calls asks for it once.
REUSE_SECONDS = 30.0
_identities: dict[tuple[str, str], tuple[float, tuple[tuple[str, bytes], ...]]] = {}


def _metadata(config: CliConfig, service: str) -> tuple[tuple[str, bytes], ...]:
    key = (load_token(config.session_file), service)
    cached = _identities.get(key)
    if cached is not None and time.monotonic() - cached[0] < REUSE_SECONDS:
        return cached[1]
    metadata = tuple(identity_metadata(config, service))
    _identities[key] = (time.monotonic(), metadata)
    return metadata


def call(service: str, stub_class: type[Any], method: str, request: Message) -> Any:
    """Call `method` of `stub_class` at PalmGrid service `service` ("outage") with the
    signed-in staff member's identity. Raises grpc.RpcError as the server answered, or
    NotSignedIn."""
    config = load_config()
    metadata = _metadata(config, service)
    with open_channel(config, service) as channel:
        stub = stub_class(channel)
        return getattr(stub, method)(request, metadata=metadata, timeout=TIMEOUT_SECONDS)
