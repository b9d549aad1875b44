"""What a service reads from a call's metadata and peer: the client's IP address, its
user agent and the trace id, for the account service's sessions and for every audit
record.

The edge forwards the phone's address as `palmgrid-client-ip` and its User-Agent as
`palmgrid-user-agent` (edge.security.identity; it strips every `palmgrid-` key arriving
from outside first). They are believed only from a peer whose client certificate is
the edge's; for anyone else the connection's own address counts.
"""

from __future__ import annotations

import ipaddress
import re

import grpc

EDGE_ACCOUNT = b"edge"
CLIENT_IP_KEY = "palmgrid-client-ip"
USER_AGENT_KEY = "palmgrid-user-agent"
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def _metadata(context: grpc.ServicerContext, key: str) -> str:
    for item in context.invocation_metadata() or ():
        if item.key == key and isinstance(item.value, str):  # type: ignore[attr-defined]
            return str(item.value)  # type: ignore[attr-defined]
    return ""


def _from_edge(context: grpc.ServicerContext) -> bool:
    names = context.auth_context().get("x509_common_name") or ()
    return EDGE_ACCOUNT in names


def _valid_ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return ""


def peer_ip(context: grpc.ServicerContext) -> str:
    """The IP address of the connection: "ipv4:1.2.3.4:5678" gives "1.2.3.4"."""
    peer = context.peer() or ""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return _valid_ip(rest.rpartition(":")[0])
    if kind == "ipv6":
        return _valid_ip(rest.rpartition(":")[0].strip("[]").replace("%25", "%"))
    return ""


def client_ip(context: grpc.ServicerContext) -> str:
    """The end client's IP address, as far as we can trust it."""
    if _from_edge(context):
        forwarded = _valid_ip(_metadata(context, CLIENT_IP_KEY))
        if forwarded:
            return forwarded
    return peer_ip(context)


def user_agent(context: grpc.ServicerContext) -> str:
    """The end client's User-Agent: from the edge, the one it forwarded (empty when the
    client sent none: the edge's own gRPC User-Agent says nothing of the phone); from
    anyone else, the caller's own."""
    key = USER_AGENT_KEY if _from_edge(context) else "user-agent"
    return _metadata(context, key)[:256]


def trace_id(context: grpc.ServicerContext) -> str:
    """The W3C trace id from `traceparent`, or ""."""
    match = _TRACEPARENT.match(_metadata(context, "traceparent").strip().lower())
    return match.group(1) if match else ""
