"""IP networks from configuration (CIDRs) and whether an address lies in one of them:
the edge's trusted proxies and the peers allowed to read its metrics."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["Network", "in_networks", "parse_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """The networks of `cidrs` (blank entries skipped); ValueError for a bad one."""
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def in_networks(address: str | None, networks: Iterable[Network]) -> bool:
    """True when `address` is an IP address inside one of `networks`."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)
