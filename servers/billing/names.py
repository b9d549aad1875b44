"""Ids out of billing's resource names (the request rules have checked the patterns)."""

from __future__ import annotations


def resource_ids(name: str) -> list[str]:
    """The ids in a resource name: "customers/1/bills/2024-05" → ["1", "2024-05"]."""
    return name.split("/")[1::2]
