"""The rules the outbox is built from, without servers: quiet hours, templates, backoff
and settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from servers.notification.config import NotificationConfig
from servers.notification.quiet_hours import QuietHours
from servers.notification.templates import load_templates
from servers.runtime import SettingsError

NIGHT = QuietHours.parse("22:00", "07:00")


@pytest.mark.parametrize(
    ("utc_hour", "minute", "quiet"),
    [(13, 59, False), (14, 0, True), (18, 0, True), (22, 59, True), (23, 0, False)],
)
def test_quiet_hours_run_from_22_to_07_china_time(utc_hour: int, minute: int, quiet: bool) -> None:
    assert NIGHT.contains(datetime(2026, 3, 2, utc_hour, minute, tzinfo=UTC)) is quiet


def test_a_delivery_in_quiet_hours_waits_for_seven_oclock() -> None:
    late = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)  # 23:30 CST
    early = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)  # 04:00 CST the next day
    opening = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 07:00 CST
    assert NIGHT.next_open(late) == NIGHT.next_open(early) == opening
    assert QuietHours.parse("07:00", "07:00").contains(late) is False


def test_urgent_messages_and_the_inbox_ignore_quiet_hours() -> None:
    assert NIGHT.applies("SMS", urgent=False) and NIGHT.applies("PUSH", urgent=False)
    assert not NIGHT.applies("SMS", urgent=True)
    assert not NIGHT.applies("IN_APP", urgent=False)


def test_every_template_renders_in_chinese_with_the_customer_masked() -> None:
    templates = load_templates()
    assert len(templates.kinds()) >= 10
    for kind in templates.kinds():
        template = templates.get(kind)
        assert template is not None
        values = {name: "X" for name in template.placeholders()}
        for channel in ("IN_APP", "SMS", "PUSH"):
            rendered = template.render(channel, values, customers=["customers/3100000042"])
            assert rendered.title and rendered.body
            assert "3100000042" not in rendered.body
    planned = templates.get("outage.planned")
    assert planned is not None
    assert planned.missing({"start": "8:00"}, has_customers=True) == ["end", "reason"]
    sms = planned.render(
        "SMS",
        {"start": "8:00", "end": "18:00", "reason": "检修"},
        customers=["customers/3100000042", "customers/3100000043"],
    )
    assert "31****0042、31****0043" in sms.body and sms.body.startswith("【掌上电网】")


def test_settings_are_checked_and_named() -> None:
    with pytest.raises(SettingsError, match="PALMGRID_NOTIFICATION_QUIET_HOURS_START"):
        NotificationConfig.load({"PALMGRID_NOTIFICATION_QUIET_HOURS_START": "25:00"})
    with pytest.raises(SettingsError, match="claim_seconds must exceed"):
        NotificationConfig.load(
            {
                "PALMGRID_NOTIFICATION_CLAIM_SECONDS": "3",
                "PALMGRID_NOTIFICATION_GATEWAY_TIMEOUT_SECONDS": "5",
            }
        )
    loaded = NotificationConfig.load({"PALMGRID_NOTIFICATION_SMS_GATEWAY_URL": "http://sms:80/"})
    assert loaded.sms_gateway_url == "http://sms:80"
