"""The payment settings: defaults that wire the dev profile, and what production refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.billing.payments.settings import PaymentSettings, load_payment_settings
from servers.runtime import Settings, SettingsError


def test_dev_defaults_send_callbacks_straight_to_billing(tmp_path: Path) -> None:
    runtime = Settings(data_dir=tmp_path, billing_port=51052)
    settings = PaymentSettings()
    assert settings.keys_path(runtime) == tmp_path / "payments"
    assert settings.notify_url_for(runtime) == "grpcs://127.0.0.1:51052/wechatpay"
    plaintext = Settings(data_dir=tmp_path, grpc_security="plaintext", billing_port=51052)
    assert settings.notify_url_for(plaintext) == "grpc://127.0.0.1:51052/wechatpay"
    assert PaymentSettings(notify_url="https://x/y").notify_url_for(runtime) == "https://x/y"


def test_production_refuses_fault_points_and_plain_http() -> None:
    risky = PaymentSettings(fault="crash_after_provider_confirmed")
    problems = " ".join(risky.production_problems())
    assert "PALMGRID_PAYMENT_FAULT" in problems
    assert "PALMGRID_PAYMENT_PROVIDER_URL" in problems
    assert "PALMGRID_PAYMENT_NOTIFY_URL" in problems
    ready = PaymentSettings(
        provider_url="https://api.mch.weixin.qq.com",
        notify_url="https://palmgrid.example.cn/v1/paymentNotifications/wechatpay",
    )
    assert ready.production_problems() == []


def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PALMGRID_PAYMENT_FAULT", "crash_somewhere_else")
    with pytest.raises(SettingsError, match="PALMGRID_PAYMENT_FAULT: "):
        load_payment_settings(Settings(data_dir=tmp_path))
