"""Who is calling (authentication) and whether they may call the method (authorization).

Authentication: a `palmgrid-identity-bin` assertion, when sent, must verify: signed by
the account service, for this service (its audience) and, when the call comes with a
client certificate, for the process holding it (its caller). Without one, a caller
whose mTLS client certificate CN is a configured service account is that service,
with the permissions of its row in `servers.runtime.service_accounts`. Otherwise the
call is anonymous. A public method is served even when the
assertion does not verify (as an anonymous call): anyone may call it anyway.

Authorization reads the method's `(palmgrid.options.v1.method).access`: public methods
let anyone through; others need a principal (UNAUTHENTICATED / ASSERTION_INVALID) whose
permissions grant `access.permission` (PERMISSION_DENIED / PERMISSION_DENIED). Data
scope is checked by servicers with the helpers in `servers.runtime.scopes`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from palmgrid.options.v1 import options_pb2
from palmgrid.type.v1 import identity_pb2
from palmlib.permissions import has_permission
from servers.runtime.errors import PermissionDenied
from servers.runtime.identity import METADATA_KEY, AssertionInvalid, AssertionVerifier
from servers.runtime.service_accounts import ServiceAccount

Principal = identity_pb2.Principal
# gRPC's auth context key for the verified peer certificate's subject CN.
PEER_COMMON_NAME = "x509_common_name"


def service_principal(common_name: str, account: ServiceAccount) -> Principal:
    """The principal of a caller authenticated by its client certificate."""
    return Principal(
        user=f"serviceAccounts/{common_name}",
        username=common_name,
        kind=identity_pb2.PRINCIPAL_KIND_SERVICE,
        roles=account.roles,
        permissions=account.permissions,
        all_supply_offices=account.all_supply_offices,
    )


def identity_from(metadata: Sequence[tuple[str, str | bytes]] | None) -> bytes | None:
    """The raw identity assertion in the invocation metadata, if any."""
    for key, value in metadata or ():
        if key == METADATA_KEY and isinstance(value, bytes):
            return value
    return None


class Authenticator:
    """Turns an incoming call's metadata and TLS peer into a principal (or None)."""

    def __init__(
        self,
        verifier: AssertionVerifier | None,
        service_accounts: Mapping[str, ServiceAccount] | None = None,
    ) -> None:
        self._verifier = verifier
        self._accounts = dict(service_accounts or {})

    def authenticate(
        self, identity: bytes | None, auth_context: Mapping[str, Sequence[bytes]]
    ) -> Principal | None:
        """The caller; AssertionInvalid when an assertion is sent but does not verify."""
        names = [raw.decode("utf-8", "replace") for raw in auth_context.get(PEER_COMMON_NAME) or ()]
        if identity is not None:
            if self._verifier is None:
                raise AssertionInvalid("this server accepts no identity assertions")
            claims = self._verifier.verify_claims(identity)
            # Bound to the process it was issued to: a copy replayed by another
            # certificate holder is refused.
            if names and claims.caller not in names:
                raise AssertionInvalid("identity assertion was issued to another caller")
            return claims.principal
        for name in names:
            account = self._accounts.get(name)
            if account is not None:
                return service_principal(name, account)
        return None


def authorize(access: options_pb2.Access, principal: Principal | None) -> None:
    """Raise unless `principal` may call a method with these access rules."""
    if access.public:
        return
    if principal is None:
        raise AssertionInvalid("this method needs a signed identity assertion")
    if not has_permission(principal, access.permission):
        raise PermissionDenied(f"the caller lacks permission {access.permission}")
