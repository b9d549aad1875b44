"""Etags (AIP-154): a checksum of a resource's version, or of its whole state, and the
check of one sent back."""

from __future__ import annotations

import hashlib

from google.protobuf.message import Message

from servers.runtime import Aborted


def etag(name: str, version: int) -> str:
    """The etag of resource `name` ("outlets/x") at `version`."""
    return hashlib.sha256(f"{name}:{version}".encode()).hexdigest()[:16]


def check_etag(sent: str, name: str, version: int) -> None:
    """ABORTED when the client sent an etag and the resource has changed since; an empty
    etag means the client does not ask for the check."""
    if sent and sent != etag(name, version):
        raise Aborted(f"{name} changed since it was read", reason="FAILED_PRECONDITION")


def content_etag(resource: Message) -> str:
    """The etag of a resource without a stored version: a checksum of its state as
    served (every field but `etag`), so any change of it gives another."""
    copy = type(resource)()
    copy.CopyFrom(resource)
    copy.ClearField("etag")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()[:16]


def check_content_etag(sent: str, current: Message) -> None:
    """ABORTED when the client sent an etag and `current` (the resource as it is now,
    read in the updating transaction) no longer has it; empty: no check."""
    if sent and sent != content_etag(current):
        name = getattr(current, "name", "the resource")
        raise Aborted(f"{name} changed since it was read", reason="FAILED_PRECONDITION")
