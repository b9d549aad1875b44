"""The inspection service's own settings, from `PALMGRID_INSPECTION_*` variables.

- `PALMGRID_INSPECTION_DEMO_DATA` (default: on in the dev profile): seed the demo
  inspection tasks at start; never in production.
- `PALMGRID_INSPECTION_UPSTREAM_TIMEOUT_SECONDS` (default 3): one call to billing (the
  customer archive), account (the assignees, the office's managers) or notification.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servers.runtime import ServiceSettings


class InspectionConfig(ServiceSettings):
    """Inspection rules that are configuration rather than data. Field `x` is read from
    `PALMGRID_INSPECTION_X`; `InspectionConfig.load()` names a bad one."""

    model_config = SettingsConfigDict(env_prefix="PALMGRID_INSPECTION_")

    upstream_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
