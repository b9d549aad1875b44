"""Billing's own settings (`PALMGRID_BILLING_*`): defaults, the allowed ranges, and a
bad value named by its variable."""

from __future__ import annotations

from decimal import Decimal

import pytest

from servers.billing.config import BillingConfig
from servers.runtime import SettingsError


def test_defaults_are_fifteen_days_and_one_per_mille_a_day() -> None:
    config = BillingConfig.load({})
    assert (config.due_days, config.late_fee_rate, config.demo_data) == (15, Decimal("0.001"), None)
    assert config.demo_customers == 1000


def test_the_range_ends_are_allowed() -> None:
    low = BillingConfig.load(
        {"PALMGRID_BILLING_DUE_DAYS": "0", "PALMGRID_BILLING_LATE_FEE_RATE": "0"}
    )
    high = BillingConfig.load(
        {"PALMGRID_BILLING_DUE_DAYS": "365", "PALMGRID_BILLING_LATE_FEE_RATE": "0.1"}
    )
    assert (low.due_days, low.late_fee_rate) == (0, Decimal(0))
    assert (high.due_days, high.late_fee_rate) == (365, Decimal("0.1"))
    assert isinstance(high.late_fee_rate, Decimal)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PALMGRID_BILLING_DUE_DAYS", "366"),
        ("PALMGRID_BILLING_DUE_DAYS", "-1"),
        ("PALMGRID_BILLING_DUE_DAYS", "fifteen"),
        ("PALMGRID_BILLING_LATE_FEE_RATE", "0.1001"),
        ("PALMGRID_BILLING_LATE_FEE_RATE", "-0.001"),
        ("PALMGRID_BILLING_LATE_FEE_RATE", "1‰"),
        ("PALMGRID_BILLING_DEMO_DATA", "sometimes"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name}: "):
        BillingConfig.load({name: value})


def test_the_demo_switch_reads_true_or_false() -> None:
    assert BillingConfig.load({"PALMGRID_BILLING_DEMO_DATA": "false"}).demo_data is False
    assert BillingConfig.load({"PALMGRID_BILLING_DEMO_DATA": "1"}).demo_data is True
