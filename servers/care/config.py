"""The care service's own settings, from `PALMGRID_CARE_*` variables.

- `PALMGRID_CARE_DEMO_DATA` (default: on in the dev profile): seed the demo outlets and
  articles at start; never in production.
- `PALMGRID_CARE_RESOLVED_CLOSE_DAYS` (default 7): resolved feedback its author has
  neither rated nor closed is closed this many days after its resolution.
- `PALMGRID_CARE_UPSTREAM_TIMEOUT_SECONDS` (default 3): one call to the account or the
  notification service (the assignee's offices, the author's message).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servers.runtime import ServiceSettings


class CareConfig(ServiceSettings):
    """Care rules that are configuration rather than data. Field `x` is read from
    `PALMGRID_CARE_X`; `CareConfig.load()` names a bad one."""

    model_config = SettingsConfigDict(env_prefix="PALMGRID_CARE_")

    resolved_close_days: int = Field(default=7, ge=1, le=365)
    upstream_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
