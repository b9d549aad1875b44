"""gRPC channels to the services the edge fronts, and health checks over them.

One `grpc.aio` channel per distinct address (services sharing a server share a channel).
An address may name several replicas (`ip:port,ip:port`, or a DNS name resolving to
several): the channel balances calls over them round robin, skipping any whose health
check is not SERVING (palmlib.balancing). Channels belong to the event loop that
serves requests, so they are opened in `start()` (from the ASGI lifespan) and not at
construction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from palmlib.balancing import channel_target

__all__ = ["Upstreams"]

# Retries and channelz cost a little on every call; the edge needs neither (a client
# retries through the load balancer, and traces come from OpenTelemetry).
DEFAULT_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.enable_retries", 0),
    ("grpc.enable_channelz", 0),
    ("grpc.keepalive_time_ms", 30_000),
)


class Upstreams:
    """Service full name → address, and the channels to them once started."""

    def __init__(
        self,
        addresses: Mapping[str, str],
        *,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = DEFAULT_OPTIONS,
    ) -> None:
        """`credentials` None means plaintext (loopback testing only)."""
        self.addresses = dict(addresses)
        self._credentials = credentials
        self._options = list(options)
        self._channels: dict[str, grpc.aio.Channel] = {}

    @property
    def started(self) -> bool:
        return bool(self._channels)

    def start(self) -> None:
        for address in sorted(set(self.addresses.values())):
            if address in self._channels:
                continue
            target, balancing = channel_target(address)
            options = [*balancing, *self._options]
            if self._credentials is None:
                channel = grpc.aio.insecure_channel(target, options=options)
            else:
                channel = grpc.aio.secure_channel(target, self._credentials, options=options)
            self._channels[address] = channel

    async def close(self) -> None:
        channels, self._channels = self._channels, {}
        await asyncio.gather(*(c.close() for c in channels.values()), return_exceptions=True)

    def channel(self, service: str) -> grpc.aio.Channel:
        return self._channels[self.addresses[service]]

    async def health(self, timeout: float) -> dict[str, str]:
        """Each service's `grpc.health.v1` status name (or why it could not be read)."""

        async def check(service: str) -> tuple[str, str]:
            stub = health_pb2_grpc.HealthStub(self.channel(service))
            try:
                reply = await stub.Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=timeout
                )
            except grpc.aio.AioRpcError as exc:
                return service, exc.code().name
            return service, health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

        results = await asyncio.gather(*(check(s) for s in sorted(self.addresses)))
        return dict(results)
