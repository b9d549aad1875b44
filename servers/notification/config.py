"""The notification service's own settings, from `PALMGRID_NOTIFICATION_*` variables
(docs/notification.md and docs/runtime.md list them)."""

from __future__ import annotations

import re
from typing import Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from servers.runtime import ServiceSettings

_HH_MM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class NotificationConfig(ServiceSettings):
    """Gateways, quiet hours and the retry policy. Field `x` is read from
    `PALMGRID_NOTIFICATION_X`; `NotificationConfig.load()` names a bad one."""

    model_config = SettingsConfigDict(env_prefix="PALMGRID_NOTIFICATION_")

    # The SMS and push gateways' base URLs (the sandbox serves both in dev).
    sms_gateway_url: str = "http://127.0.0.1:50061"
    push_gateway_url: str = "http://127.0.0.1:50061"
    # One call to a gateway or to the account service's inbox.
    gateway_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # No SMS or push between these local times (China Standard Time) except for
    # urgent messages; equal times mean no quiet hours.
    quiet_hours_start: str = "22:00"
    quiet_hours_end: str = "07:00"
    # Attempts before a delivery is given up (the dead-letter state, FAILED).
    max_attempts: int = Field(default=8, ge=1, le=100)
    # Backoff after the n-th failed attempt: base * 2^(n-1), at most the max.
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    # How long a claimed delivery is held by the caller that claimed it. A sender that
    # dies mid-send leaves it claimed; it is tried again (same idempotency key) after
    # this. Must exceed the gateway timeout, or a slow send could be claimed twice.
    claim_seconds: float = Field(default=60.0, gt=0)
    # LookupRecipients at CreateMessage.
    account_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @field_validator("quiet_hours_start", "quiet_hours_end")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        if not _HH_MM.match(value):
            raise ValueError("must be a local time HH:MM, such as 22:00")
        return value

    @field_validator("sms_gateway_url", "push_gateway_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _claim_outlasts_a_send(self) -> Self:
        if self.claim_seconds <= self.gateway_timeout_seconds:
            raise ValueError(
                "claim_seconds must exceed gateway_timeout_seconds, or a slow send could "
                "be claimed by a second caller"
            )
        if self.retry_max_seconds < self.retry_base_seconds:
            raise ValueError("retry_max_seconds must be at least retry_base_seconds")
        return self
