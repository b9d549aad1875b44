"""The care service's own settings, from `PALMGRID_CARE_*` variables.

- `PALMGRID_CARE_DEMO_DATA` (default: on in the dev profile): seed the demo outlets and
  articles at start; never in production.
"""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from servers.runtime import ServiceSettings


class CareConfig(ServiceSettings):
    """Care rules that are configuration rather than data. Field `x` is read from
    `PALMGRID_CARE_X`; `CareConfig.load()` names a bad one."""

    model_config = SettingsConfigDict(env_prefix="PALMGRID_CARE_")
