"""Billing RPCs: admin (filled in as they are built)."""

from __future__ import annotations

from servers.runtime import Runtime


class AdminMethods:
    """Method group mixed into a billing servicer; `self.runtime` is the service Runtime."""

    runtime: Runtime
