"""The billing service's own settings, from `PALMGRID_BILLING_*` variables.

- `PALMGRID_BILLING_DUE_DAYS` (default 15): days from a bill's issue to its due date.
- `PALMGRID_BILLING_LATE_FEE_RATE` (default 0.001): the late fee per day, as a share of
  an overdue postpaid bill's unpaid amount (1‰).
- `PALMGRID_BILLING_DEMO_DATA` (default: on in the dev profile): seed the demo
  customers at start; never in production.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from servers.runtime import Settings, SettingsError


@dataclass(frozen=True)
class BillingConfig:
    """Billing rules that are configuration rather than tariff data."""

    due_days: int = 15
    late_fee_rate: Decimal = Decimal("0.001")
    # None: seed the demo data in the dev profile only.
    demo_data: bool | None = None
    demo_customers: int = 1000

    def seeds_demo(self, settings: Settings) -> bool:
        """Whether to seed the demo customers: never in production."""
        if settings.profile != "dev":
            return False
        return True if self.demo_data is None else self.demo_data

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BillingConfig:
        """Read the variables above; SettingsError names a bad one."""
        env = os.environ if environ is None else environ
        config = cls()
        due = env.get("PALMGRID_BILLING_DUE_DAYS")
        rate = env.get("PALMGRID_BILLING_LATE_FEE_RATE")
        demo = env.get("PALMGRID_BILLING_DEMO_DATA")
        due_days = config.due_days
        if due is not None:
            if not due.isdigit() or not 0 <= int(due) <= 365:
                raise SettingsError("PALMGRID_BILLING_DUE_DAYS: must be 0…365 days")
            due_days = int(due)
        late_fee_rate = config.late_fee_rate
        if rate is not None:
            try:
                late_fee_rate = Decimal(rate)
            except InvalidOperation as error:
                raise SettingsError("PALMGRID_BILLING_LATE_FEE_RATE: not a decimal") from error
            if not Decimal(0) <= late_fee_rate <= Decimal("0.1"):
                raise SettingsError("PALMGRID_BILLING_LATE_FEE_RATE: must be 0…0.1 a day")
        demo_data = None
        if demo is not None:
            if demo.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise SettingsError("PALMGRID_BILLING_DEMO_DATA: must be true or false")
            demo_data = demo.lower() in ("1", "true", "yes")
        return cls(due_days, late_fee_rate, demo_data)
