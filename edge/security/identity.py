"""What the services learn about the caller: the signed assertion, the client's address
and its User-Agent, nothing else.

`CallerIdentity.add_to` is the `metadata` stage's `amend` hook: once the upstream
metadata is built from the headers (which already drops everything in the internal
`palmgrid-` / `x-palmgrid-` namespace sent from outside), the bearer token is taken out
— services trust only the assertion — and the edge adds what only it may say:

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

import re

from edge.metadata import IncomingHeaders
from edge.pipeline import Exchange
from edge.security.clientip import TrustedProxies
from palmlib.audiences import audience_of

__all__ = ["CLIENT_IP_KEY", "IDENTITY_KEY", "USER_AGENT_KEY", "CallerIdentity"]

IDENTITY_KEY = "palmgrid-identity-bin"
CLIENT_IP_KEY = "palmgrid-client-ip"
USER_AGENT_KEY = "palmgrid-user-agent"
MAX_USER_AGENT = 256
_PRINTABLE = re.compile(r"[\x20-\x7e]*\Z")


class CallerIdentity:
    def __init__(self, proxies: TrustedProxies) -> None:
        self.proxies = proxies

    def add_to(self, exchange: Exchange, incoming: IncomingHeaders) -> None:
        """Take the token out of the upstream metadata and put the edge's own keys in."""
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
