"""Which service an identity assertion is for: the one rule the account service (which
signs one assertion per service), the edge and the staff CLI (which pick the one for
the method they call) and every server (which refuses the others) share."""

from __future__ import annotations

__all__ = ["audience_of"]

_PREFIX = "palmgrid."


def audience_of(service_full_name: str) -> str:
    """The audience of calls to a gRPC service: the segment after `palmgrid.` of its
    package (`palmgrid.billing.v1.BillingService` → `billing`); "" for a service outside
    PalmGrid's packages."""
    if not service_full_name.startswith(_PREFIX):
        return ""
    return service_full_name[len(_PREFIX) :].split(".", 1)[0]
