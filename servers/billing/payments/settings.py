"""Settings of the payments part of billing, read from `PALMGRID_PAYMENT_*` variables.

They sit next to the runtime's settings (`servers.runtime.settings`), which give the
profile, the data directory and the service addresses; docs/payments.md lists them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from servers.runtime import Settings, SettingsError
from servers.runtime.settings import settings_error

# Test-only fault points (see servers.billing.payments.faults); refused in production.
FaultPoint = Literal[
    "crash_after_provider_confirmed",
    "crash_after_provider_order_created",
]

DEFAULT_SANDBOX_PORT = 50060


class PaymentSettings(BaseSettings):
    """How billing reaches its payment provider and runs its payment jobs."""

    model_config = SettingsConfigDict(env_prefix="PALMGRID_PAYMENT_", extra="ignore")

    # Base URL of the provider's merchant API (the sandbox in the dev profile).
    provider_url: str = f"http://127.0.0.1:{DEFAULT_SANDBOX_PORT}"
    # Our merchant id (mchid) and app id (appid) at the provider.
    merchant_id: str = Field(default="1900000109", pattern=r"^[0-9]{6,32}$")
    app_id: str = Field(default="wxpalmgrid0000001", pattern=r"^[A-Za-z0-9_]{6,32}$")
    # Key material (see servers.billing.payments.keys); default <data dir>/payments.
    keys_dir: Path | None = None
    # Where the provider posts its callbacks. Unset: in the dev profile, billing's own
    # NotifyPayment over gRPC (`grpc://` or `grpcs://<billing target>/wechatpay`).
    notify_url: str | None = None
    # Time allowed for one provider API call before its outcome counts as unknown.
    provider_timeout_seconds: float = Field(default=5.0, gt=0)
    # A PENDING payment is closed (at the provider too) this long after creation.
    pending_ttl_seconds: int = Field(default=900, gt=0)
    # A PENDING payment without a callback is asked about after this long.
    resolve_after_seconds: float = Field(default=10.0, ge=0)
    # How often the payment jobs run (resolver, refunds, alert outbox); 0 turns them off.
    jobs_interval_seconds: float = Field(default=5.0, ge=0)
    # How long a CreatePayment in flight holds its request id before another request
    # with the same id may take over (longer than a provider call).
    lease_seconds: float = Field(default=30.0, gt=0)
    # Prepaid customers are alerted when their balance falls below this (fen).
    low_balance_threshold_fen: int = Field(default=3000, ge=0)
    # Callbacks whose signed timestamp is further than this from now are refused.
    callback_max_skew_seconds: int = Field(default=300, gt=0)
    # Test-only: make the process exit at this point (proves crash recovery).
    fault: FaultPoint | None = None

    def keys_path(self, runtime_settings: Settings) -> Path:
        """The folder of the payment key files."""
        return self.keys_dir or runtime_settings.data_dir / "payments"

    def notify_url_for(self, runtime_settings: Settings) -> str:
        """The callback URL sent with every order."""
        if self.notify_url:
            return self.notify_url
        scheme = "grpc" if runtime_settings.grpc_security == "plaintext" else "grpcs"
        return f"{scheme}://{runtime_settings.service_address('billing')}/wechatpay"

    def production_problems(self) -> list[str]:
        """What production must not run with; empty when nothing."""
        problems: list[str] = []
        if self.fault is not None:
            problems.append("PALMGRID_PAYMENT_FAULT (a test fault point)")
        if not self.provider_url.startswith("https://"):
            problems.append("PALMGRID_PAYMENT_PROVIDER_URL must be https://")
        if not self.notify_url or not self.notify_url.startswith("https://"):
            problems.append("PALMGRID_PAYMENT_NOTIFY_URL must be set to an https:// URL")
        return problems


def load_payment_settings(runtime_settings: Settings) -> PaymentSettings:
    """The payment settings from the environment, checked against the profile."""
    try:
        settings = PaymentSettings()
    except ValidationError as exc:
        raise settings_error(exc, "PALMGRID_PAYMENT_") from None
    if runtime_settings.profile == "production":
        problems = settings.production_problems()
        if problems:
            raise SettingsError("the production profile refuses: " + "; ".join(problems))
    return settings
