"""Spreading a process's gRPC calls over a service's replicas with grpc's own client-side
load balancing: one channel per service, `round_robin` over every address its target
resolves to, and health checking (each subchannel watches the replica's
`grpc.health.v1` status, so a replica that reports NOT_SERVING, such as one draining
before it stops, gets no new calls).

A target is written the way operators think of replicas (docs/operations.md, Scale-out):

- `host:port`: one replica, or a DNS name resolving to several (a Kubernetes headless
  Service): grpc's DNS resolver returns every address and re-resolves when one fails;
- `10.0.0.5:50052,10.0.0.6:50052`: a fixed list of IP addresses (grpc's `ipv4:` or
  `ipv6:` target); names cannot be listed, as grpc resolves one name per channel;
- anything with a grpc scheme (`dns:///…`, `ipv4:…`, `unix:…`) is passed on as it is.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

__all__ = ["TargetError", "channel_target", "grpc_target", "tls_name"]

# The health service name whose status decides whether a replica takes calls: "" is
# the whole server, which a PalmGrid server sets NOT_SERVING first when it drains.
HEALTH_SERVICE = ""
# Reconnection to a replica that went away: first after 0.25 s, then at most every 2 s.
RECONNECT_INITIAL_MS = 250
RECONNECT_MAX_MS = 2000
_SCHEMES = ("dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:", "vsock:")


class TargetError(ValueError):
    """A target that names several replicas in a way grpc cannot resolve."""


def _split_host(address: str) -> tuple[str, str]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise TargetError(f"expected HOST:PORT, got {address!r}")
    return host.strip("[]"), port


def _ip_version(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None


def grpc_target(target: str) -> str:
    """The grpc channel target for a PalmGrid target (see the module docstring).

    TargetError when a list names a host that is not an IP address, mixes IPv4 and
    IPv6, or an entry is not HOST:PORT."""
    target = target.strip()
    if target.startswith(_SCHEMES):
        return target
    addresses = [part.strip() for part in target.split(",") if part.strip()]
    if not addresses:
        raise TargetError("empty target")
    if len(addresses) == 1:
        _split_host(addresses[0])
        return addresses[0]
    versions = set()
    for address in addresses:
        host, _ = _split_host(address)
        version = _ip_version(host)
        if version is None:
            raise TargetError(
                f"{address!r} in {target!r}: a list of replicas takes IP addresses; "
                "for names give one DNS name that resolves to every replica"
            )
        versions.add(version)
    if len(versions) > 1:
        raise TargetError(f"{target!r} mixes IPv4 and IPv6 addresses")
    return f"ipv{versions.pop()}:" + ",".join(addresses)


def tls_name(target: str) -> str:
    """The name a replica's certificate must carry for `target`: its (first) host. Every
    replica of a service presents a certificate for the name others reach it by."""
    target = target.strip()
    for scheme in _SCHEMES:
        if target.startswith(scheme):
            target = target[len(scheme) :].lstrip("/")
            break
    first = target.split(",")[0].strip()
    host, _, _ = first.rpartition(":")
    return host.strip("[]") or first


def _single_replica(target: str, resolved: str) -> bool:
    """Whether `target` (`resolved` by grpc_target) is one IP address and port: not a
    list, not a name that may resolve to several replicas."""
    if resolved != target.strip() or "," in resolved or ":" not in resolved:
        return False
    return _ip_version(resolved.rpartition(":")[0].strip("[]")) is not None


def channel_target(target: str) -> tuple[str, list[tuple[str, Any]]]:
    """The grpc target for `target` and the channel options that go with it: for several
    replicas (a list, or a DNS name) round robin with health checks, and, when the
    target lists several addresses, the TLS name of its first host (grpc would otherwise
    check the certificate against the whole list); for one IP address, grpc's default
    pick-first. Both reconnect fast."""
    options: list[tuple[str, Any]] = [
        # grpc waits up to 120 s before reconnecting to a replica that went away; a
        # restarted replica must be back in rotation within seconds, or a rolling
        # restart's next step leaves the client with no replica at all.
        ("grpc.initial_reconnect_backoff_ms", RECONNECT_INITIAL_MS),
        ("grpc.max_reconnect_backoff_ms", RECONNECT_MAX_MS),
    ]
    resolved = grpc_target(target)
    if _single_replica(target, resolved):
        # One IP address is one replica: nothing to balance, and no health stream to
        # keep open; the channel connects when a call needs it, as grpc's default does.
        return resolved, options
    config = {
        "loadBalancingConfig": [{"round_robin": {}}],
        "healthCheckConfig": {"serviceName": HEALTH_SERVICE},
    }
    options.append(("grpc.service_config", json.dumps(config)))
    if resolved != target.strip() or "," in resolved:
        options.append(("grpc.default_authority", tls_name(target)))
    return resolved, options
