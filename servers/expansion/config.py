"""The expansion service's own settings, from `PALMGRID_EXPANSION_*` variables
(docs/expansion.md).

The node sequences and their default limits are data (`workflow.toml`); the limits in
force are rows administrators edit (UpdateNodeTimeLimit).
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from servers.runtime import ServiceSettings


class ExpansionConfig(ServiceSettings):
    """Expansion rules that are configuration rather than data. Field `x` is read from
    `PALMGRID_EXPANSION_X`; `ExpansionConfig.load()` names a bad one."""

    model_config = SettingsConfigDict(env_prefix="PALMGRID_EXPANSION_")

    # The shares of a node's limit at which its staff are reminded, in percent, rising
    # (JSON list); the overdue reminder comes on top.
    reminder_percents: tuple[int, ...] = (50, 80)
    # The largest attached file accepted, in bytes (the contract's ceiling is 768 KiB,
    # what fits the edge's 1 MiB body once base64-encoded).
    attachment_max_bytes: int = Field(default=786432, ge=1024, le=786432)
    # One call to billing, account or notification.
    upstream_timeout_seconds: float = Field(default=3.0, gt=0, le=60)

    @field_validator("reminder_percents")
    @classmethod
    def _rising_percents(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if list(value) != sorted(set(value)) or any(not 0 < p < 100 for p in value):
            raise ValueError("reminder percents must rise, each above 0 and below 100")
        return value
