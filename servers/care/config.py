"""The care service's own settings, from `PALMGRID_CARE_*` variables.

- `PALMGRID_CARE_DEMO_DATA` (default: on in the dev profile): seed the demo outlets and
  articles at start; never in production.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from servers.runtime import Settings, SettingsError

_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


@dataclass(frozen=True)
class CareConfig:
    """Care rules that are configuration rather than data."""

    # None: seed the demo data in the dev profile only.
    demo_data: bool | None = None

    def seeds_demo(self, settings: Settings) -> bool:
        """Whether to seed the demo outlets and articles: never in production."""
        if settings.profile != "dev":
            return False
        return True if self.demo_data is None else self.demo_data

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CareConfig:
        """Read the variables above; SettingsError names a bad one."""
        env = os.environ if environ is None else environ
        demo = env.get("PALMGRID_CARE_DEMO_DATA")
        if demo is None:
            return cls()
        if demo.lower() not in _TRUE + _FALSE:
            raise SettingsError("PALMGRID_CARE_DEMO_DATA: must be true or false")
        return cls(demo_data=demo.lower() in _TRUE)
