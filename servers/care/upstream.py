"""The one answer care gives when a service it depends on cannot be asked."""

from __future__ import annotations

from datetime import timedelta

from servers.runtime import Unavailable

RETRY_AFTER = timedelta(seconds=5)


def upstream_unavailable(what: str) -> Unavailable:
    """UNAVAILABLE (UPSTREAM_UNAVAILABLE, retry in 5 s): `what` cannot be done right now."""
    return Unavailable(f"{what} right now", reason="UPSTREAM_UNAVAILABLE", retry_after=RETRY_AFTER)
