"""What the services learn about the caller: the signed assertion, nothing else.

Wraps the `metadata` stage: once the upstream metadata is built from the headers
(which already drops everything in the internal `palmgrid-` / `x-palmgrid-` namespace
sent from outside), the bearer token is taken out — services trust only the assertion
— and the account service's signed assertion for the called service (its audience,
`palmlib.audiences`) is added as `palmgrid-identity-bin`.
"""

from __future__ import annotations

from edge.pipeline import Exchange, Handler, Stage
from palmlib.audiences import audience_of

__all__ = ["IDENTITY_KEY", "IdentityStage"]

IDENTITY_KEY = "palmgrid-identity-bin"


class IdentityStage:
    def __init__(self, metadata_stage: Stage) -> None:
        self.metadata_stage = metadata_stage

    async def __call__(self, exchange: Exchange, call_next: Handler) -> None:
        async def with_identity(ex: Exchange) -> None:
            incoming = ex.incoming
            assert incoming is not None
            incoming.metadata = [
                (k, v)
                for k, v in incoming.metadata
                if k != "authorization" and k != IDENTITY_KEY and not k.startswith("palmgrid-")
            ]
            session = ex.state.get("session")
            if session is not None and ex.route is not None:
                audience = audience_of(ex.route.spec.service_name)
                incoming.metadata.append((IDENTITY_KEY, session.assertion_for(audience)))
            await call_next(ex)

        await self.metadata_stage(exchange, with_identity)
