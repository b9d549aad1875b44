"""Payment RPCs (filled in as they are built)."""

from __future__ import annotations

from servers.runtime import Runtime


class PaymentMethods:
    """BillingService payment methods; `self.runtime` is the service Runtime."""

    runtime: Runtime


class PaymentAdminMethods:
    """BillingAdminService refund and reconciliation methods."""

    runtime: Runtime
