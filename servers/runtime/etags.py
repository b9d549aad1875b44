"""Etags (AIP-154): a checksum of a resource's version, and the check of one sent back."""

from __future__ import annotations

import hashlib

from servers.runtime import Aborted


def etag(name: str, version: int) -> str:
    """The etag of resource `name` ("outlets/x") at `version`."""
    return hashlib.sha256(f"{name}:{version}".encode()).hexdigest()[:16]


def check_etag(sent: str, name: str, version: int) -> None:
    """ABORTED when the client sent an etag and the resource has changed since; an empty
    etag means the client does not ask for the check."""
    if sent and sent != etag(name, version):
        raise Aborted(f"{name} changed since it was read", reason="FAILED_PRECONDITION")
