"""What the services learn about the caller: the signed assertion, the client's address
and its User-Agent, nothing else.

Wraps the `metadata` stage: once the upstream metadata is built from the headers
(which already drops everything in the internal `palmgrid-` / `x-palmgrid-` namespace
sent from outside), the bearer token is taken out — services trust only the assertion
— and the edge adds what only it may say:

- `palmgrid-identity-bin`: the account service's signed assertion of the session for
  the called service (its audience, `palmlib.audiences`);
- `palmgrid-client-ip`: the client's address, from the peer and the `X-Forwarded-For`
  entries of trusted proxies only (edge.security.clientip);
- `palmgrid-user-agent`: the client's `User-Agent` (printable, at most 256 characters).

Services believe the last two only on a connection carrying the edge's certificate
(servers.runtime.callmeta), so sessions and audit records hold the phone's address,
not the edge's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from edge.metadata import IncomingHeaders
from edge.pipeline import Exchange, Handler, Stage
from edge.security.clientip import TrustedProxies
from palmlib.audiences import audience_of

__all__ = ["CLIENT_IP_KEY", "IDENTITY_KEY", "USER_AGENT_KEY", "IdentityStage"]

IDENTITY_KEY = "palmgrid-identity-bin"
CLIENT_IP_KEY = "palmgrid-client-ip"
USER_AGENT_KEY = "palmgrid-user-agent"
MAX_USER_AGENT = 256
_PRINTABLE = re.compile(r"[\x20-\x7e]*\Z")


class IdentityStage:
    def __init__(self, metadata_stage: Stage, proxies: TrustedProxies) -> None:
        self.metadata_stage = metadata_stage
        self.proxies = proxies

    async def __call__(self, exchange: Exchange, call_next: Handler) -> None:
        async def with_identity(ex: Exchange) -> None:
            build = ex.build_incoming
            assert build is not None
            ex.build_incoming = functools.partial(self._with_identity, build)
            await call_next(ex)

        await self.metadata_stage(exchange, with_identity)

    def _with_identity(
        self, build: Callable[[Exchange], IncomingHeaders], exchange: Exchange
    ) -> IncomingHeaders:
        """The metadata `build` makes, the token out and the edge's own keys in."""
        incoming = build(exchange)
        incoming.metadata = [
            (k, v)
            for k, v in incoming.metadata
            if k != "authorization" and k != IDENTITY_KEY and not k.startswith("palmgrid-")
        ]
        session = exchange.state.get("session")
        if session is not None and exchange.route is not None:
            audience = audience_of(exchange.route.spec.service_name)
            incoming.metadata.append((IDENTITY_KEY, session.assertion_for(audience)))
        incoming.metadata.extend(self._client(exchange))
        return incoming

    def _client(self, exchange: Exchange) -> list[tuple[str, str | bytes]]:
        """The client's address and User-Agent, as the edge vouches for them."""
        found: list[tuple[str, str | bytes]] = []
        address = self.proxies.client_ip_of(exchange)
        if address:
            found.append((CLIENT_IP_KEY, address))
        agent = (exchange.header(b"user-agent") or b"").decode("latin-1")[:MAX_USER_AGENT]
        if agent and _PRINTABLE.match(agent):
            found.append((USER_AGENT_KEY, agent))
        return found
