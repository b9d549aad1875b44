"""One call of a PalmGrid RPC on behalf of the signed-in staff member."""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf.message import Message

from clients.staff.channels import open_channel
from clients.staff.config import load_config
from clients.staff.session import identity_metadata

TIMEOUT_SECONDS = 30.0


@functools.cache
def _metadata(service: str) -> tuple[tuple[str, bytes], ...]:
    """The staff member's identity for `service`, asked for once per command (an
    assertion lives a minute; a command takes seconds)."""
    return tuple(identity_metadata(load_config(), service))


def call(service: str, stub_class: type[Any], method: str, request: Message) -> Any:
    """Call `method` of `stub_class` at PalmGrid service `service` ("outage") with the
    signed-in staff member's identity. Raises grpc.RpcError as the server answered, or
    NotSignedIn."""
    config = load_config()
    metadata = _metadata(service)
    with open_channel(config, service) as channel:
        stub = stub_class(channel)
        return getattr(stub, method)(request, metadata=metadata, timeout=TIMEOUT_SECONDS)
