"""The expansion settings: reminder shares read from the environment, and bad ones
refused naming the variable."""

from __future__ import annotations

import pytest

from servers.expansion.config import ExpansionConfig
from servers.runtime.settings import SettingsError

VARIABLE = "PALMGRID_EXPANSION_REMINDER_PERCENTS"


def test_reminder_shares_default_to_half_and_four_fifths() -> None:
    assert ExpansionConfig.load({}).reminder_percents == (50, 80)
    assert ExpansionConfig.load({VARIABLE: "[40, 90]"}).reminder_percents == (40, 90)


@pytest.mark.parametrize("value", ["[90, 40]", "[0, 50]", "[50, 100]", "[50, 50]"])
def test_shares_that_do_not_rise_within_the_limit_are_refused(value: str) -> None:
    with pytest.raises(SettingsError, match=VARIABLE):
        ExpansionConfig.load({VARIABLE: value})
