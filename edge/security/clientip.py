"""Who the client is, network-wise: its address, trusting only configured proxies.

Behind a load balancer or TLS terminator the peer address is the proxy's; the client's
is the last `X-Forwarded-For` entry added by a proxy we trust. Only peers inside the
configured networks are believed, so a client cannot choose its own address (and with
it, its rate-limit counter) by sending the header itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from palmlib.networks import Network, in_networks, parse_networks

__all__ = ["TrustedProxies"]


_CLIENT_IP_STATE = "client_ip"


class Request(Protocol):
    """What the client's address is read from (an `edge.pipeline.Exchange`)."""

    client: str | None
    state: dict[str, Any]

    def header(self, name: bytes) -> bytes | None: ...

    def header_list(self, name: bytes) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """Networks whose peers' `X-Forwarded-For` / `X-Forwarded-Proto` are believed."""

    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, cidrs: Iterable[str]) -> TrustedProxies:
        return cls(parse_networks(cidrs))

    def trusts(self, address: str | None) -> bool:
        return in_networks(address, self.networks)

    def client_ip(self, peer: str | None, forwarded_for: bytes | None) -> str:
        """The client's address: walk `X-Forwarded-For` from the right while the hop
        that added an entry is trusted."""
        address = peer or ""
        if not forwarded_for or not self.trusts(peer):
            return address
        hops: Sequence[str] = [h.strip() for h in forwarded_for.decode("latin-1").split(",")]
        for hop in reversed(hops):
            if not _is_ip(hop):
                break
            address = hop
            if not self.trusts(hop):
                break
        return address

    def client_ip_of(self, request: Request) -> str:
        """`client_ip` of a request: its peer and its `X-Forwarded-For`; worked out once
        per request (sessions, rate limits, envelopes and identity all ask)."""
        known = request.state.get(_CLIENT_IP_STATE)
        if known is None:
            # Every X-Forwarded-For line: a proxy that appends its own line rather than
            # merging would otherwise leave the client's forged first line to be believed.
            known = self.client_ip(request.client, request.header_list(b"x-forwarded-for"))
            request.state[_CLIENT_IP_STATE] = known
        return str(known)

    def scheme(self, peer: str | None, scheme: str, forwarded_proto: bytes | None) -> str:
        """`https` when the connection is TLS, or a trusted proxy says it terminated TLS."""
        if scheme == "https":
            return scheme
        if forwarded_proto and self.trusts(peer):
            return forwarded_proto.decode("latin-1").split(",")[0].strip().lower()
        return scheme


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
