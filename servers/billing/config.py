"""The billing service's own settings, from `PALMGRID_BILLING_*` variables.

- `PALMGRID_BILLING_DUE_DAYS` (default 15, 0…365): days from a bill's issue to its due
  date.
- `PALMGRID_BILLING_LATE_FEE_RATE` (default 0.001, 0…0.1): the late fee per day, as a
  share of an overdue postpaid bill's unpaid amount (1‰).
- `PALMGRID_BILLING_DEMO_DATA` (default: on in the dev profile): seed the demo
  customers at start; never in production.
- `PALMGRID_BILLING_DEMO_CUSTOMERS` (default 1000): how many demo customers.

The payments part has its own `PALMGRID_PAYMENT_*` settings (servers.billing.payments).
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servers.runtime import ServiceSettings


class BillingConfig(ServiceSettings):
    """Billing rules that are configuration rather than tariff data. Field `x` is read
    from `PALMGRID_BILLING_X`; `BillingConfig.load()` names a bad one."""

    model_config = SettingsConfigDict(env_prefix="PALMGRID_BILLING_")

    due_days: int = Field(default=15, ge=0, le=365)
    late_fee_rate: Decimal = Field(default=Decimal("0.001"), ge=0, le=Decimal("0.1"))
    demo_customers: int = Field(default=1000, ge=0)
