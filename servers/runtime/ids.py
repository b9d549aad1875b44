"""Resource ids and names (AIP-122): new server-assigned ids, and ids read back out of
names the request rules have already checked against their patterns."""

from __future__ import annotations

import secrets
from dataclasses import dataclass


def new_id(size: int = 8) -> str:
    """A new resource id: `size` random bytes as lower-case hex (16 digits by default),
    matching `[a-z0-9][a-z0-9-]{0,62}`."""
    return secrets.token_hex(size)


def resource_ids(name: str) -> list[str]:
    """The ids in a resource name: "customers/1/bills/2024-05" → ["1", "2024-05"]."""
    return name.split("/")[1::2]


@dataclass(frozen=True)
class Collection:
    """A top-level collection's names, `{plural}/{id}`: `Collection("outlets")`."""

    plural: str

    def name(self, resource_id: str) -> str:
        """The resource name of `resource_id` ("outlets/x")."""
        return f"{self.plural}/{resource_id}"

    def id(self, name: str) -> str:
        """The id in `{plural}/{id}` (the request rules have checked the pattern)."""
        return name.removeprefix(f"{self.plural}/")
